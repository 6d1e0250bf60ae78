package abi

import (
	"fmt"
	"strings"
)

// Family is an MPI ABI family.
type Family string

// MPI ABI families a profile can declare.
const (
	FamilyNone    Family = "none"
	FamilyMPICH   Family = "mpich"   // libmpi.so.12 / libmpich.so.12
	FamilyOpenMPI Family = "openmpi" // libmpi.so.40
)

// Sonames returns the library names that carry the family's ABI, in
// the order they are looked for.
func (f Family) Sonames() []string {
	switch f {
	case FamilyMPICH:
		return []string{"libmpi.so.12", "libmpich.so.12"}
	case FamilyOpenMPI:
		return []string{"libmpi.so.40"}
	}
	return nil
}

// Families lists the valid family names.
var Families = []Family{FamilyMPICH, FamilyOpenMPI, FamilyNone}

// ParseFamily validates a family name; "" means none.
func ParseFamily(s string) (Family, error) {
	if s == "" {
		return FamilyNone, nil
	}
	for _, f := range Families {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown ABI family %q; use one of %s", s, joinQuoted(Families))
}

// Policy decides what a version mismatch between host and image MPI does.
type Policy string

// Policies. Majors must always be equal.
const (
	// PolicyMajor checks majors only.
	PolicyMajor Policy = "major"
	// PolicyWarn (the default) warns when the host's minor is older than
	// the image's: the image may use functions the host lacks, which the
	// symbol check then catches.
	PolicyWarn Policy = "warn"
	// PolicyStrict refuses any minor difference.
	PolicyStrict Policy = "strict"
)

// Policies lists the valid policy names.
var Policies = []Policy{PolicyMajor, PolicyWarn, PolicyStrict}

// ParsePolicy validates a policy name; "" means PolicyWarn.
func ParsePolicy(s string) (Policy, error) {
	if s == "" {
		return PolicyWarn, nil
	}
	for _, p := range Policies {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown ABI policy %q; use one of %s", s, joinQuoted(Policies))
}

func joinQuoted[T ~string](vals []T) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
