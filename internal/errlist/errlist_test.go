package errlist

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

func TestJoin(t *testing.T) {
	if Join(nil, nil) != nil {
		t.Fatal("Join of nils is not nil")
	}
	one := errors.New("one")
	if Join(nil, one) != one {
		t.Fatal("Join of one error is not that error")
	}
	err := Join(one, nil, fs.ErrNotExist, &os.PathError{Op: "open", Path: "/x", Err: fs.ErrPermission})
	if err.Error() != "one; file does not exist; open /x: permission denied" {
		t.Fatalf("message %q", err)
	}
	var pe *os.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, fs.ErrPermission) || !errors.As(err, &pe) || pe.Path != "/x" {
		t.Fatal("errors.Is/As don't see the joined errors")
	}
}
