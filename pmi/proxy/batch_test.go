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
