package wire

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxMappingRanks bounds the job size ParseMapping expands to.
const MaxMappingRanks = 1 << 22

// FormatMapping encodes node-of-rank as a PMI_process_mapping value in the
// classic "(vector,(start,nnodes,ppn),...)" syntax that every MPICH reads.
// Runs of consecutive ranks on one node become (node,1,n); neighbouring
// runs of equal length on consecutive nodes merge into one block.
func FormatMapping(nodeOf []int) (string, error) {
	type block struct{ start, n, ppn int }
	var blocks []block
	for i := 0; i < len(nodeOf); {
		if nodeOf[i] < 0 {
			return "", fmt.Errorf("format process mapping: rank %d has negative node %d", i, nodeOf[i])
		}
		j := i
		for j < len(nodeOf) && nodeOf[j] == nodeOf[i] {
			j++
		}
		if k := len(blocks) - 1; k >= 0 && blocks[k].ppn == j-i && blocks[k].start+blocks[k].n == nodeOf[i] {
			blocks[k].n++
		} else {
			blocks = append(blocks, block{nodeOf[i], 1, j - i})
		}
		i = j
	}
	if len(blocks) == 0 {
		return "", errors.New("format process mapping: no ranks")
	}
	var b strings.Builder
	b.WriteString("(vector")
	for _, bl := range blocks {
		fmt.Fprintf(&b, ",(%d,%d,%d)", bl.start, bl.n, bl.ppn)
	}
	b.WriteString(")")
	return b.String(), nil
}

// BlockMapping returns the mapping of size ranks placed ppn per node in rank
// order (the default of hydra and Slurm).
func BlockMapping(size, ppn int) (string, error) {
	if size <= 0 || ppn <= 0 {
		return "", fmt.Errorf("format process mapping: size %d and ppn %d must be positive", size, ppn)
	}
	nodeOf := make([]int, size)
	for r := range nodeOf {
		nodeOf[r] = r / ppn
	}
	return FormatMapping(nodeOf)
}

// ParseMapping expands a classic-syntax mapping to node-of-rank for size
// ranks. The blocks repeat cyclically until every rank is placed.
func ParseMapping(s string, size int) ([]int, error) {
	if size <= 0 || size > MaxMappingRanks {
		return nil, fmt.Errorf("parse process mapping: size %d out of range", size)
	}
	blocks, err := parseBlocks(s)
	if err != nil {
		return nil, fmt.Errorf("parse process mapping %.40q: %w", s, err)
	}
	nodeOf := make([]int, 0, size)
	for len(nodeOf) < size {
		for _, bl := range blocks {
			for n := 0; n < bl[1] && len(nodeOf) < size; n++ {
				for p := 0; p < bl[2] && len(nodeOf) < size; p++ {
					nodeOf = append(nodeOf, bl[0]+n)
				}
			}
		}
	}
	return nodeOf, nil
}

func parseBlocks(s string) ([][3]int, error) {
	s = strings.Join(strings.Fields(s), "")
	body, ok := strings.CutPrefix(s, "(vector,")
	if !ok || !strings.HasSuffix(body, ")") {
		return nil, errors.New("not of the form (vector,...)")
	}
	body = body[:len(body)-1]
	var blocks [][3]int
	for body != "" {
		inner, rest, ok := strings.Cut(body, ")")
		inner, ok2 := strings.CutPrefix(inner, "(")
		if !ok || !ok2 {
			return nil, errors.New("blocks must be (start,nnodes,ppn); extended syntax is not supported")
		}
		var bl [3]int
		f := strings.Split(inner, ",")
		if len(f) != 3 {
			return nil, fmt.Errorf("block (%s) does not have 3 fields", inner)
		}
		for i, x := range f {
			n, err := strconv.Atoi(x)
			if err != nil || n < 0 || n > MaxMappingRanks || (i > 0 && n == 0) {
				return nil, fmt.Errorf("block (%s): field %q out of range", inner, x)
			}
			bl[i] = n
		}
		blocks = append(blocks, bl)
		body = strings.TrimPrefix(rest, ",")
	}
	if len(blocks) == 0 {
		return nil, errors.New("no blocks")
	}
	return blocks, nil
}
