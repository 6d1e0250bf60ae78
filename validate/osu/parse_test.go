package osu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSamples(t *testing.T) {
	for _, c := range []struct {
		file            string
		title, datatype string
		metric, unit    string
		rows            int
		first, last     Row
		fields          map[string]string // of the first row
		init            *Init
	}{
		{file: "ours_latency.txt", title: "OSU MPI Latency Test (mpiwrap ci, OSU-compatible)", metric: "Latency (us)", unit: "us",
			rows: 13, first: Row{Size: 1, Value: 0.21}, last: Row{Size: 4096, Value: 0.67}},
		{file: "ours_bw.txt", metric: "Bandwidth (MB/s)", unit: "MB/s", rows: 13, first: Row{Size: 1, Value: 7.90}, last: Row{Size: 4096, Value: 14000}},
		{file: "ours_bibw.txt", metric: "Bandwidth (MB/s)", unit: "MB/s", rows: 13, first: Row{Size: 1, Value: 13.43}},
		{file: "ours_allreduce.txt", metric: "Avg Latency(us)", unit: "us", rows: 11, first: Row{Size: 4, Value: 0.90}, last: Row{Size: 4096, Value: 1.72}},
		{file: "ours_init.txt", unit: "ms", init: &Init{NProcs: 2, Min: 41.37, Max: 42.05, Avg: 41.71, Unit: "ms"}},
		{file: "omb5_latency.txt", title: "OSU MPI Latency Test v5.9", metric: "Latency (us)", unit: "us", rows: 14, first: Row{Size: 0, Value: 0.21}},
		{file: "omb5_bw.txt", title: "OSU MPI Bandwidth Test v5.9", metric: "Bandwidth (MB/s)", unit: "MB/s", rows: 13, last: Row{Size: 4096, Value: 14000}},
		{file: "omb5_init.txt", title: "OSU MPI Init Test v5.9", unit: "ms", init: &Init{NProcs: 2, Min: 43, Max: 44, Avg: 43, Unit: "ms"}},
		{file: "omb7.1_latency.txt", title: "OSU MPI Latency Test v7.1", datatype: "MPI_CHAR", metric: "Latency (us)", unit: "us", rows: 13, first: Row{Size: 1, Value: 0.21}},
		{file: "omb7.4_latency.txt", title: "OSU MPI Latency Test v7.4", datatype: "MPI_CHAR", metric: "Avg Latency(us)", unit: "us", rows: 13, last: Row{Size: 4096, Value: 0.67}},
		{file: "omb7.4_latency_validation.txt", datatype: "MPI_CHAR", metric: "Avg Latency(us)", unit: "us", rows: 13,
			first: Row{Size: 1, Value: 0.21}, fields: map[string]string{"Validation": "Pass"}},
		{file: "omb7.4_allreduce_full.txt", datatype: "MPI_FLOAT", metric: "Avg Latency(us)", unit: "us", rows: 11,
			first: Row{Size: 4, Value: 0.90}, fields: map[string]string{"Min Latency(us)": "0.80", "Max Latency(us)": "1.00", "Iterations": "1000"}},
		{file: "omb7.4_bibw.txt", title: "OSU MPI Bi-Directional Bandwidth Test v7.4", metric: "Bandwidth (MB/s)", unit: "MB/s", rows: 13},
		{file: "omb7.3_init.txt", title: "OSU MPI Init Test v7.3", unit: "ms", init: &Init{NProcs: 4, Min: 101, Max: 104, Avg: 102, Unit: "ms"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseString(string(data))
			if err != nil {
				t.Fatal(err)
			}
			if c.title != "" && r.Title != c.title {
				t.Errorf("title %q, want %q", r.Title, c.title)
			}
			if c.datatype != "" && r.Datatype != c.datatype {
				t.Errorf("datatype %q, want %q", r.Datatype, c.datatype)
			}
			if r.Metric != c.metric || r.Unit != c.unit {
				t.Errorf("metric %q unit %q, want %q %q", r.Metric, r.Unit, c.metric, c.unit)
			}
			if len(r.Rows) != c.rows {
				t.Fatalf("%d rows, want %d: %+v", len(r.Rows), c.rows, r.Rows)
			}
			if c.first.Size != 0 || c.first.Value != 0 {
				if got := r.Rows[0]; got.Size != c.first.Size || got.Value != c.first.Value {
					t.Errorf("first row %+v, want %+v", got, c.first)
				}
			}
			if c.last.Size != 0 {
				if got := r.Rows[len(r.Rows)-1]; got.Size != c.last.Size || got.Value != c.last.Value {
					t.Errorf("last row %+v, want %+v", got, c.last)
				}
			}
			for k, v := range c.fields {
				if got := r.Rows[0].Fields[k]; got != v {
					t.Errorf("first row field %q = %q, want %q (all: %v)", k, got, v, r.Rows[0].Fields)
				}
			}
			switch {
			case c.init == nil && r.Init != nil:
				t.Errorf("unexpected init %+v", r.Init)
			case c.init != nil && (r.Init == nil || *r.Init != *c.init):
				t.Errorf("init %+v, want %+v", r.Init, c.init)
			}
			for i := 1; i < len(r.Rows); i++ {
				if r.Rows[i].Size <= r.Rows[i-1].Size {
					t.Fatalf("sizes not increasing at row %d: %+v", i, r.Rows)
				}
			}
			if len(r.Other) != 0 {
				t.Errorf("unexpected other lines %q", r.Other)
			}
		})
	}
}

func TestParseKeepsOtherLines(t *testing.T) {
	data, err := os.ReadFile("testdata/ours_latency_failed.txt")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseString(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 0 || len(r.Other) != 1 || !strings.Contains(r.Other[0], "Fatal error in internal_Init") {
		t.Fatalf("want no rows and the error kept, got %+v", r)
	}
}

func TestParseInline(t *testing.T) {
	for _, c := range []struct {
		name, in string
		metric   string
		sizes    []int64
		values   []float64
	}{
		{"empty", "", "", nil, nil},
		{"only comments", "# OSU MPI Latency Test\n# Datatype: MPI_CHAR.\n", "", nil, nil},
		{"tabs and CRLF", "# Size\tLatency (us)\r\n1\t0.50\r\n2\t0.60\r\n", "Latency (us)", []int64{1, 2}, []float64{0.5, 0.6}},
		{"header twice (two runs in one log)", "# Size  Latency (us)\n1 1.0\n# Size  Latency (us)\n1 2.0\n", "Latency (us)", []int64{1, 1}, []float64{1, 2}},
		{"avg preferred over latency columns", "# Size  Min Latency(us)  Avg Latency(us)  Max Latency(us)\n8  1.0  2.0  3.0\n", "Avg Latency(us)", []int64{8}, []float64{2}},
		{"scientific notation", "# Size  Bandwidth (MB/s)\n1048576  1.2e4\n", "Bandwidth (MB/s)", []int64{1048576}, []float64{12000}},
		{"hash without space", "#Size      Bandwidth (MB/s)\n64  100.5\n", "Bandwidth (MB/s)", []int64{64}, []float64{100.5}},
		{"warning between rows", "# Size  Latency (us)\n1 1.5\nWarning: something\n2 1.6\n", "Latency (us)", []int64{1, 2}, []float64{1.5, 1.6}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseString(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Metric != c.metric || len(r.Rows) != len(c.sizes) {
				t.Fatalf("got metric %q rows %+v, want %q and sizes %v", r.Metric, r.Rows, c.metric, c.sizes)
			}
			for i, row := range r.Rows {
				if row.Size != c.sizes[i] || row.Value != c.values[i] {
					t.Fatalf("row %d = %+v, want %d %v", i, row, c.sizes[i], c.values[i])
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"row before header", "1 0.5\n", "before any"},
		{"too few fields", "# Size  Avg Latency(us)  Validation\n1  0.5\n", "has 2 fields for the 3 columns"},
		{"too many fields", "# Size  Latency (us)\n1  0.5  0.7\n", "has 3 fields"},
		{"not a number", "# Size  Latency (us)\n1  fast\n", "not a number"},
		{"header without a figure", "# Size  Iterations\n1 100\n", "names no latency or bandwidth"},
		{"init without avg", "nprocs: 2, min: 1 ms, max: 2 ms\n", "lacks avg"},
		{"init garbage", "nprocs: two, min: 1 ms, max: 2 ms, avg: 1 ms\n", "nprocs"},
		{"init bad number", "nprocs: 2, min: x ms, max: 2 ms, avg: 1 ms\n", "not a number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseString(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error with %q, got %v", c.want, err)
			}
		})
	}
}

func TestSplitColumns(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Size          Latency (us)", []string{"Size", "Latency (us)"}},
		{"Size       Avg Latency(us)", []string{"Size", "Avg Latency(us)"}},
		{"Size      Bandwidth (MB/s)", []string{"Size", "Bandwidth (MB/s)"}},
		{"Size       Avg Latency(us)        Validation", []string{"Size", "Avg Latency(us)", "Validation"}},
		{"Size       Avg Latency(us)   Min Latency(us)   Max Latency(us)  Iterations",
			[]string{"Size", "Avg Latency(us)", "Min Latency(us)", "Max Latency(us)", "Iterations"}},
		{"Size    MB/s    Messages/s", []string{"Size", "MB/s", "Messages/s"}},
	} {
		got := splitColumns(c.in)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("splitColumns(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestValue(t *testing.T) {
	r, err := ParseString("# Size  Latency (us)\n1 0.5\n8 0.7\n")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Value(8); !ok || v != 0.7 {
		t.Errorf("Value(8) = %v %v", v, ok)
	}
	if _, ok := r.Value(2); ok {
		t.Error("Value(2) found")
	}
}
