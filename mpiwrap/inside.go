package mpiwrap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mpiwrap/mpiwrap/mpiwrap/nsexec"
	"golang.org/x/sys/unix"
)

// Some work must look at the container as its ranks will see it: the
// image's own ld.so configuration and libraries, with the host files already
// injected, whether the image is a directory or SquashFS. runInside starts
// mpiwrap again, joins the container's namespaces from C and lets the Go
// runtime start in there; the task reads its input as JSON from fd 5 and
// writes its output as JSON to fd 6.

// insideTask is a function run inside a container.
type insideTask func(in json.RawMessage) (any, error)

var insideTasks = map[string]insideTask{}

// insideResult is the wire form of a task's answer.
type insideResult struct {
	Error  string          `json:"error,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
}

// runInside runs task with input in the container behind nsfds and decodes
// its output into out.
func runInside(nsfds []int, rank, task string, input, out any) error {
	in, err := json.Marshal(input)
	if err != nil {
		return fmt.Errorf("encode %s input: %w", task, err)
	}
	inFile, err := memfile("mpiwrap-"+task+"-in", in)
	if err != nil {
		return err
	}
	defer inFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("make pipe: %w", err)
	}
	defer r.Close()
	user, err := dupFd(nsfds[0], "userns")
	if err != nil {
		return err
	}
	defer user.Close()
	mnt, err := dupFd(nsfds[1], "mntns")
	if err != nil {
		return err
	}
	defer mnt.Close()
	ops := &nsexec.Plan{}
	ops.Log(rank, false, "")
	ops.Setns(3, 4)
	ops.Return()
	var stderr bytes.Buffer
	cmd, err := startApply(ops, rank, &stderr, []string{"_MPIWRAP_INSIDE=" + task},
		user, mnt, inFile, w)
	w.Close()
	if err != nil {
		return err
	}
	data, rerr := io.ReadAll(r)
	werr := cmd.Wait()
	var res insideResult
	if jerr := json.Unmarshal(data, &res); werr != nil || rerr != nil || jerr != nil {
		msg := strings.TrimSpace(stderr.String())
		return fmt.Errorf("%s inside the container failed: %v %s", task, werr, stripPrefix(msg))
	}
	if res.Error != "" {
		return errors.New(res.Error)
	}
	return json.Unmarshal(res.Output, out)
}

// dupFd wraps a copy of a descriptor the caller keeps owning.
func dupFd(fd int, name string) (*os.File, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup %s: %w", name, err)
	}
	return os.NewFile(uintptr(d), name), nil
}

// memfile holds data in a memfd.
func memfile(name string, data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("write memfd: %w", err)
	}
	return f, nil
}

// RunInsideStage is main for a process whose C plan returned inside a
// container: it runs the task named by _MPIWRAP_INSIDE. It returns the exit
// code.
func RunInsideStage() int {
	in, out := os.NewFile(5, "in"), os.NewFile(6, "out")
	res := insideResult{}
	task, ok := insideTasks[os.Getenv("_MPIWRAP_INSIDE")]
	data, err := io.ReadAll(io.NewSectionReader(in, 0, 1<<30))
	switch {
	case !ok:
		res.Error = fmt.Sprintf("unknown inside task %q", os.Getenv("_MPIWRAP_INSIDE"))
	case err != nil:
		res.Error = fmt.Sprintf("read task input: %v", err)
	default:
		v, err := task(data)
		if err != nil {
			res.Error = err.Error()
		} else if res.Output, err = json.Marshal(v); err != nil {
			res.Error = err.Error()
		}
	}
	if err := json.NewEncoder(out).Encode(res); err != nil {
		return ExitFailure
	}
	return 0
}
