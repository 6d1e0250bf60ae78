package abi

import (
	"fmt"
	"strconv"
	"strings"
)

// SoVersion is the MAJOR.MINOR.PATCH of a library, taken from the name
// of the real file ("libmpich.so.12.2.2"). Missing parts count as 0.
type SoVersion struct {
	Major, Minor, Patch int
	// Parts says how many numbers the name had (1 for "libmpi.so.12").
	Parts int
}

func (v SoVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// ParseSoVersion reads the numbers after ".so." in a file name or path.
// "libmpich.so.12.2.2" gives 12.2.2 and "libmpi.so.40" gives 40.0.0;
// a name without a numeric major after ".so." is an error.
func ParseSoVersion(name string) (SoVersion, error) {
	base := name[strings.LastIndexByte(name, '/')+1:]
	i := strings.LastIndex(base, ".so.")
	if i < 0 {
		return SoVersion{}, fmt.Errorf("parse library version of %q: no \".so.MAJOR\" in the name", base)
	}
	var nums []int
	for _, part := range strings.Split(base[i+len(".so."):], ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			break // trailing text such as ".debug" ends the version
		}
		nums = append(nums, n)
	}
	if len(nums) == 0 {
		return SoVersion{}, fmt.Errorf("parse library version of %q: no numeric major after \".so.\"", base)
	}
	v := SoVersion{Major: nums[0], Parts: min(len(nums), 3)}
	if len(nums) > 1 {
		v.Minor = nums[1]
	}
	if len(nums) > 2 {
		v.Patch = nums[2]
	}
	return v, nil
}

// SymVersion is a parsed ELF symbol version such as GLIBC_2.34: a
// prefix and dotted numbers. Names without numbers (GLIBC_PRIVATE) have
// no Numbers.
type SymVersion struct {
	Name    string
	Prefix  string
	Numbers []int
}

// ParseSymVersion splits "GLIBC_2.2.5" into "GLIBC" and [2 2 5];
// "CXXABI_1.3.13", "GCC_3.0" and "GLIBCXX_3.4.30" work the same way.
func ParseSymVersion(s string) SymVersion {
	v := SymVersion{Name: s, Prefix: s}
	i := strings.LastIndexByte(s, '_')
	if i < 0 {
		return v
	}
	var nums []int
	for _, p := range strings.Split(s[i+1:], ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v
		}
		nums = append(nums, n)
	}
	v.Prefix, v.Numbers = s[:i], nums
	return v
}

// Numeric reports whether the version has numbers to compare.
func (v SymVersion) Numeric() bool { return len(v.Numbers) > 0 }

// Compare orders versions of one prefix numerically (2.9 < 2.10 <
// 2.10.1); versions without numbers sort first.
func (v SymVersion) Compare(w SymVersion) int {
	for i := 0; i < len(v.Numbers) || i < len(w.Numbers); i++ {
		a, b := at(v.Numbers, i), at(w.Numbers, i)
		if a != b {
			if a < b {
				return -1
			}
			return 1
		}
	}
	return 0
}

func at(n []int, i int) int {
	if i < len(n) {
		return n[i]
	}
	return -1 // a shorter version is older: 2.2 < 2.2.5
}

// Highest returns the highest numeric version with the given prefix
// among names, or "" if there is none.
func Highest(prefix string, names []string) string {
	var best SymVersion
	for _, n := range names {
		v := ParseSymVersion(n)
		if v.Prefix == prefix && v.Numeric() && (best.Name == "" || v.Compare(best) > 0) {
			best = v
		}
	}
	return best.Name
}

// versionNumber turns "GLIBC_2.34" into "2.34" for messages.
func versionNumber(name string) string {
	if i := strings.LastIndexByte(name, '_'); i >= 0 {
		return name[i+1:]
	}
	return name
}
