package plan

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenImage(t *testing.T) {
	dir := t.TempDir()
	sq := filepath.Join(dir, "img.sqfs")
	os.WriteFile(sq, []byte("hsqs...."), 0o644)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("hs"), 0o644)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "squashfuse"), []byte("#!/bin/sh\n"), 0o755)
	t.Setenv("PATH", bin)

	img, err := OpenImage(sq)
	if err != nil || img.Kind != ImageSquashFS || img.Path != sq || img.Squashfuse != filepath.Join(bin, "squashfuse") {
		t.Errorf("OpenImage(SquashFS) = %+v, %v: want squashfuse (there is no squashfuse_ll)", img, err)
	}
	t.Chdir(dir)
	if img, err := OpenImage("bin"); err != nil || img.Kind != ImageDir || img.Path != bin {
		t.Errorf("OpenImage(relative dir) = %+v, %v: want the absolute directory", img, err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"":    "no image given",
		short: "neither a directory nor a SquashFS file",
		fifo:  "image " + fifo + " is a FIFO, neither a directory nor a SquashFS file", // and returns: no hang
	} {
		if _, err := OpenImage(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenImage(%q) = %v, want %q", path, err, want)
		}
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := OpenImage(sq); err == nil || !strings.Contains(err.Error(), "image "+sq+" is SquashFS: squashfuse is not installed") {
		t.Errorf("OpenImage(SquashFS) without squashfuse = %v", err)
	}
}
