package ldcache

import (
	"os"
	"testing"
)

// BenchmarkParse parses the ld.so.cache of the CI's Debian image, which
// every plan for it reads.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("/var/cache/mpiwrap-ci/images/bookworm/etc/ld.so.cache")
	if err != nil {
		b.Skipf("no CI image: %v", err)
	}
	b.ReportAllocs()
	for range b.N {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
