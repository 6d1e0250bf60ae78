package plan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// ImageKind says how an image is mounted.
type ImageKind string

const (
	ImageDir      ImageKind = "directory"
	ImageSquashFS ImageKind = "squashfs"
)

// Image is a checked container image.
type Image struct {
	Path       string    `json:"path"`
	Kind       ImageKind `json:"kind"`
	Squashfuse string    `json:"squashfuse,omitempty"` // server binary for SquashFS
}

// squashfsMagic is "hsqs", the little-endian SquashFS superblock magic.
var squashfsMagic = []byte("hsqs")

// OpenImage checks that path is a directory or a SquashFS file the caller can
// read, and for SquashFS that a squashfuse server is installed.
func OpenImage(path string) (Image, error) {
	if path == "" {
		return Image{}, errors.New("no image given: usage is mpiwrap [flags] IMAGE CMD [ARGS...]")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", path, err)
	}
	// O_NONBLOCK: a FIFO or a device given as the image must not block
	// the open; its type is checked below.
	f, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Image{}, fmt.Errorf("image %s does not exist: give an unpacked image directory or a SquashFS file", path)
		}
		return Image{}, fmt.Errorf("image %s is not readable: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", path, err)
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		return Image{}, fmt.Errorf("image %s is a %s, neither a directory nor a SquashFS file: unpack it to a directory or make one with mksquashfs", path, fileKind(st.Mode()))
	}
	if st.IsDir() {
		if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
			return Image{}, fmt.Errorf("image %s is not readable: %w", path, err)
		}
		return Image{Path: abs, Kind: ImageDir}, nil
	}
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != string(squashfsMagic) || !st.Mode().IsRegular() {
		return Image{}, fmt.Errorf("image %s is neither a directory nor a SquashFS file: unpack it to a directory or make one with mksquashfs", path)
	}
	server, err := findSquashfuse()
	if err != nil {
		return Image{}, fmt.Errorf("image %s is SquashFS: %w", path, err)
	}
	return Image{Path: abs, Kind: ImageSquashFS, Squashfuse: server}, nil
}

// fileKind names what a path is, for errors.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// findSquashfuse prefers the low-level server, which is the faster one.
func findSquashfuse() (string, error) {
	for _, name := range []string{"squashfuse_ll", "squashfuse"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("squashfuse is not installed: install the squashfuse package, or unpack the image with unsquashfs and pass the directory")
}
