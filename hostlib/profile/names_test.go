package profile

import (
	"regexp"
	"testing"
)

// validName and validEnvName are the regexps they replace.
func TestNamesAreTheRegexps(t *testing.T) {
	nameRE := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	envRE := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	words := []string{"", "a", "A", "0", "_", ".", "-", "mpich", "my-site.v2_x", "_x", "x_", "9x", "x9",
		"a b", "a\n", "\na", "ä", "aä", "a/b", "a:b", "A_B", "a.b-c_d", "-a", ".a", "a$", "a\x00", "Z", "z", "@", "[", "`", "{"}
	for c := 0; c < 256; c++ {
		words = append(words, string(rune(c)), "a"+string([]byte{byte(c)}), string([]byte{byte(c)})+"a")
	}
	for _, w := range words {
		if got, want := validName(w), nameRE.MatchString(w); got != want {
			t.Errorf("validName(%q) = %v, want %v", w, got, want)
		}
		if got, want := validEnvName(w), envRE.MatchString(w); got != want {
			t.Errorf("validEnvName(%q) = %v, want %v", w, got, want)
		}
	}
}
