// Package osu reads the output of OSU-style MPI micro-benchmarks: the
// project's own (ci/progs) and the OSU Micro-Benchmarks (OMB) 5.x and 7.x.
//
// What it accepts:
//
//   - comment lines starting with '#': a title ("# OSU MPI Latency Test
//     v7.3"), "# Datatype: MPI_CHAR." and the column header ("# Size
//     Latency (us)"), in either order, and any other comment, all
//     optional except the header before the rows it names;
//   - blank lines anywhere, including the leading one OMB 7 prints;
//   - the header's column names as OMB 5.x and 7.x spell them ("Latency
//     (us)", "Avg Latency(us)", "Bandwidth (MB/s)", "Min Latency(us)",
//     "Max Latency(us)", "Iterations", "Validation", ...);
//   - rows of a size and one field per column; the figure is taken from
//     the average latency, the latency or the bandwidth column, and the
//     other columns (validation, min/max, iterations) are kept as text;
//   - osu_init's line "nprocs: N, min: X ms, max: Y ms, avg: Z ms".
//
// Any other line (a warning, an MPI error) is kept in Other so that a
// caller can quote it.
package osu

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Result is one benchmark run's output.
type Result struct {
	Title    string   `json:"title,omitempty"`
	Datatype string   `json:"datatype,omitempty"`
	Columns  []string `json:"columns,omitempty"`
	// Metric is the column the figures come from, Unit its unit ("us",
	// "MB/s"; "ms" for osu_init).
	Metric string `json:"metric,omitempty"`
	Unit   string `json:"unit,omitempty"`
	Rows   []Row  `json:"rows,omitempty"`
	Init   *Init  `json:"init,omitempty"`
	// Other lines, neither comments nor rows.
	Other []string `json:"other,omitempty"`
}

// Row is one message size.
type Row struct {
	Size  int64   `json:"size"`
	Value float64 `json:"value"`
	// Fields are the other columns by header name ("Validation": "Pass").
	Fields map[string]string `json:"fields,omitempty"`
}

// Init is osu_init's summary line.
type Init struct {
	NProcs int     `json:"nprocs"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Avg    float64 `json:"avg"`
	Unit   string  `json:"unit"`
}

// Value returns the figure for size, and whether the run had it.
func (r *Result) Value(size int64) (float64, bool) {
	for _, row := range r.Rows {
		if row.Size == size {
			return row.Value, true
		}
	}
	return 0, false
}

// ParseString is Parse on a string.
func ParseString(s string) (*Result, error) { return Parse(strings.NewReader(s)) }

// Parse reads one run's standard output. It fails on a row it can't read
// against its header, a row before any header, and a malformed osu_init
// line; output with neither rows nor an init line is not an error here
// (the caller decides what it expected).
func Parse(rd io.Reader) (*Result, error) {
	res := &Result{}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	metric := -1 // index of the figure's column in Columns
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			body := strings.TrimSpace(strings.TrimLeft(line, "#"))
			switch {
			case isHeader(body):
				cols := splitColumns(body)
				m, unit := pickMetric(cols)
				if m < 0 {
					return nil, fmt.Errorf("line %d: header %q names no latency or bandwidth column", n, line)
				}
				res.Columns, metric, res.Metric, res.Unit = cols, m, cols[m], unit
			case strings.HasPrefix(body, "Datatype:"):
				res.Datatype = strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(body, "Datatype:")), ".")
			case res.Title == "" && body != "":
				res.Title = body
			}
		case strings.HasPrefix(line, "nprocs:"):
			in, err := parseInit(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			res.Init = in
			if res.Unit == "" {
				res.Unit = in.Unit
			}
		default:
			f := strings.Fields(line)
			size, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				res.Other = append(res.Other, line)
				continue
			}
			if metric < 0 {
				return nil, fmt.Errorf("line %d: row %q before any \"# Size ...\" header", n, line)
			}
			row, err := readRow(res.Columns, metric, size, f)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			res.Rows = append(res.Rows, row)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// isHeader: the column header starts with the size column.
func isHeader(body string) bool {
	f := strings.Fields(body)
	return len(f) >= 2 && strings.EqualFold(f[0], "Size")
}

// singleWord columns are one word; every other column name ends with its
// unit in parentheses, after one or more words ("Avg Latency(us)",
// "Latency (us)", "Bandwidth (MB/s)", "P99 Tail Lat(us)").
var singleWord = map[string]bool{"size": true, "iterations": true, "validation": true, "messages/s": true, "mb/s": true}

// splitColumns groups the header's words into column names: OMB pads
// columns with spaces, but a name holds spaces too, so a name runs up to
// the word holding its unit's closing parenthesis.
func splitColumns(body string) []string {
	var cols, cur []string
	for _, w := range strings.Fields(body) {
		if len(cur) == 0 && singleWord[strings.ToLower(w)] {
			cols = append(cols, w)
			continue
		}
		cur = append(cur, w)
		if strings.HasSuffix(w, ")") {
			cols = append(cols, strings.Join(cur, " "))
			cur = nil
		}
	}
	if len(cur) > 0 {
		cols = append(cols, strings.Join(cur, " "))
	}
	return cols
}

// pickMetric finds the figure's column: the average latency, else the
// latency, else the bandwidth. It returns the index and the unit.
func pickMetric(cols []string) (int, string) {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }
	for _, want := range []string{"avglatency(", "latency(", "bandwidth(", "bi-bandwidth("} {
		for i, c := range cols {
			if strings.HasPrefix(norm(c), want) {
				return i, unitOf(c)
			}
		}
	}
	return -1, ""
}

// unitOf is what a column name holds in its last parentheses.
func unitOf(col string) string {
	i, j := strings.LastIndexByte(col, '('), strings.LastIndexByte(col, ')')
	if i < 0 || j < i {
		return ""
	}
	return col[i+1 : j]
}

func readRow(cols []string, metric int, size int64, f []string) (Row, error) {
	if len(f) != len(cols) {
		return Row{}, fmt.Errorf("row %q has %d fields for the %d columns %q", strings.Join(f, " "), len(f), len(cols), cols)
	}
	if size < 0 {
		return Row{}, fmt.Errorf("row %q: negative size", strings.Join(f, " "))
	}
	v, err := strconv.ParseFloat(f[metric], 64)
	if err != nil {
		return Row{}, fmt.Errorf("row %q: %s is not a number", strings.Join(f, " "), cols[metric])
	}
	row := Row{Size: size, Value: v}
	for i, c := range cols {
		if i == 0 || i == metric {
			continue
		}
		if row.Fields == nil {
			row.Fields = map[string]string{}
		}
		row.Fields[c] = f[i]
	}
	return row, nil
}

// parseInit reads "nprocs: 2, min: 40 ms, max: 41 ms, avg: 40 ms".
func parseInit(line string) (*Init, error) {
	in := &Init{}
	seen := map[string]bool{}
	for _, part := range strings.Split(line, ",") {
		k, v, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("osu_init line %q: %q is not KEY: VALUE", line, part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "nprocs" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("osu_init line %q: nprocs %q is not a number", line, v)
			}
			in.NProcs = n
			seen[k] = true
			continue
		}
		num, unit, _ := strings.Cut(v, " ")
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return nil, fmt.Errorf("osu_init line %q: %s %q is not a number", line, k, v)
		}
		if unit = strings.TrimSpace(unit); unit != "" {
			in.Unit = unit
		}
		switch k {
		case "min":
			in.Min = f
		case "max":
			in.Max = f
		case "avg":
			in.Avg = f
		default:
			continue
		}
		seen[k] = true
	}
	for _, k := range []string{"nprocs", "min", "max", "avg"} {
		if !seen[k] {
			return nil, fmt.Errorf("osu_init line %q lacks %s", line, k)
		}
	}
	if in.Unit == "" {
		in.Unit = "ms"
	}
	return in, nil
}
