package proxy

import (
	"maps"
	"testing"
)

func TestBatchEncoding(t *testing.T) {
	tests := []struct {
		name string
		kv   map[string]string
	}{
		{"plain", map[string]string{"a": "b", "-allgather-1-0": "0A1B"}},
		{"separators", map[string]string{"k,=;%": "v a;l=u,e%", "sp": " leading and trailing "}},
		{"binary", map[string]string{"k": "\x01\xff\t\n"}},
		{"empty value", map[string]string{"k": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &batcher{}
			for k, v := range tt.kv {
				b.put(k, v)
			}
			blob := joinNonEmpty([]string{"", "", joinNonEmpty(b.pending)})
			for i := 0; i < len(blob); i++ {
				if c := blob[i]; c <= ' ' || c > '~' || c == ';' {
					t.Fatalf("blob %q holds byte %q", blob, c)
				}
			}
			got := map[string]string{}
			if err := decodeInto(got, blob); err != nil || !maps.Equal(got, tt.kv) {
				t.Fatalf("decode(%q) = %v, %v; want %v", blob, got, err, tt.kv)
			}
		})
	}
	for _, bad := range []string{"noequals", "k=%4", "k=%zz", "%=v"} {
		if err := decodeInto(map[string]string{}, bad); err == nil {
			t.Errorf("decodeInto(%q) accepted bad input", bad)
		}
	}
}

// TestCacheEpochs checks that a lookup sees what fences up to its own
// published, newest first, and nothing later.
func TestCacheEpochs(t *testing.T) {
	c := NewCache()
	published := []map[string]string{{"a": "1", "b": "1"}, {"b": "2"}, {"c": "3"}}
	reads := 0
	read := func(e int) (map[string]string, error) { reads++; return published[e-1], nil }
	if err := c.load(2, read); err != nil || reads != 2 {
		t.Fatalf("load(2): err %v, %d reads", err, reads)
	}
	if err := c.load(1, read); err != nil || reads != 2 {
		t.Fatalf("load(1) read again: err %v, %d reads", err, reads)
	}
	if err := c.load(3, read); err != nil || reads != 3 {
		t.Fatalf("load(3): err %v, %d reads", err, reads)
	}
	for _, tt := range []struct {
		key  string
		upto int
		want string
		ok   bool
	}{{"a", 1, "1", true}, {"b", 1, "1", true}, {"b", 2, "2", true}, {"b", 3, "2", true}, {"c", 2, "", false}, {"c", 3, "3", true}} {
		if v, ok := c.lookup(tt.key, tt.upto); v != tt.want || ok != tt.ok {
			t.Errorf("lookup(%s, %d) = %q %v, want %q %v", tt.key, tt.upto, v, ok, tt.want, tt.ok)
		}
	}
}
