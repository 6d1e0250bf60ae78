// Package errlist joins several failures into one error, as errors.Join
// does (errors.Is and errors.As see each one), but printed on one line:
// mpiwrap reports every missing item or failed check of a step at once, and
// each rank's error must stay one line in a launcher's merged output.
package errlist

import "strings"

// List is several errors; its message is theirs, joined by "; ".
type List []error

func (l List) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap gives errors.Is and errors.As every error of the list.
func (l List) Unwrap() []error { return l }

// Join is nil when every err is nil, the one error when only one is not,
// and a List of the others otherwise.
func Join(errs ...error) error {
	var l List
	for _, e := range errs {
		if e != nil {
			l = append(l, e)
		}
	}
	switch len(l) {
	case 0:
		return nil
	case 1:
		return l[0]
	}
	return l
}
