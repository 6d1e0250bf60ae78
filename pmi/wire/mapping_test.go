package wire

import (
	"slices"
	"testing"
)

func TestMapping(t *testing.T) {
	tests := []struct {
		name   string
		nodeOf []int
		want   string
	}{
		{"one node", []int{0, 0}, "(vector,(0,1,2))"},
		{"block 2x2", []int{0, 0, 1, 1}, "(vector,(0,2,2))"},
		{"cyclic", []int{0, 1, 0, 1}, "(vector,(0,2,1),(0,2,1))"},
		{"uneven", []int{0, 0, 0, 1}, "(vector,(0,1,3),(1,1,1))"},
		{"singleton", []int{0}, "(vector,(0,1,1))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatMapping(tt.nodeOf)
			if err != nil || got != tt.want {
				t.Fatalf("FormatMapping = %q, %v; want %q", got, err, tt.want)
			}
			back, err := ParseMapping(got, len(tt.nodeOf))
			if err != nil || !slices.Equal(back, tt.nodeOf) {
				t.Fatalf("ParseMapping(%q) = %v, %v; want %v", got, back, err, tt.nodeOf)
			}
		})
	}
}

func TestParseMapping(t *testing.T) {
	tests := []struct {
		name string
		in   string
		size int
		want []int
	}{
		{"repeats", "(vector,(0,2,1))", 4, []int{0, 1, 0, 1}},
		{"spaces", " (vector, (0,1,2) ) ", 2, []int{0, 0}},
		{"slurm plane", "(vector,(0,2,2))", 6, []int{0, 0, 1, 1, 0, 0}},
		{"extended", "(vector,(0,2,2),3)", 2, nil},
		{"zero ppn", "(vector,(0,1,0))", 2, nil},
		{"garbage", "vector", 2, nil},
		{"no blocks", "(vector,)", 2, nil},
		{"bad size", "(vector,(0,1,1))", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMapping(tt.in, tt.size)
			if (err != nil) != (tt.want == nil) || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseMapping(%q, %d) = %v, %v; want %v", tt.in, tt.size, got, err, tt.want)
			}
		})
	}
	if m, err := BlockMapping(5, 2); err != nil || m != "(vector,(0,2,2),(2,1,1))" {
		t.Fatalf("BlockMapping(5,2) = %q, %v", m, err)
	}
}
