// Package progress shows how far mpiwrap validate is: a bar on a terminal
// (github.com/vbauerster/mpb/v8), or one plain line per finished
// benchmark for a batch job's log. It is only in mpiwrap-validate, never
// in mpiwrap itself (see README, Dependencies).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mpiwrap/mpiwrap/validate"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"
)

// Prefix starts every plain line.
const Prefix = "mpiwrap validate: "

// New returns the display for mode (validate.Progress*) on f: in auto
// mode a bar when f is a terminal, plain lines otherwise.
func New(f *os.File, mode string) Display {
	switch mode {
	case validate.ProgressOff:
		return &lines{w: io.Discard}
	case validate.ProgressLines:
		return &lines{w: f}
	case validate.ProgressBar:
		return newBar(f, true)
	}
	if IsTerminal(f) && termWidth(f) > 0 {
		return newBar(f, false)
	}
	return &lines{w: f}
}

// termWidth is the terminal's width in columns; 0 when it has none (a
// pseudo-terminal nobody sized), where mpb would draw nothing.
func termWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// Display is run.Progress (kept here as its own interface so that this
// package does not import run).
type Display interface {
	Start(total int)
	Step(label string)
	Done()
	Line(text string)
	Stop()
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// lines writes a line for each Line call and nothing for the steps.
type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) Start(int)   {}
func (l *lines) Step(string) {}
func (l *lines) Done()       {}
func (l *lines) Stop()       {}
func (l *lines) Line(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s%s\n", Prefix, text)
}

// bar draws one bar of all the runs, with the current step before it and
// the count, elapsed time and estimate after it; lines go above it.
type bar struct {
	mu          sync.Mutex
	w           io.Writer
	p           *mpb.Progress
	b           *mpb.Bar
	label       string
	force       bool
	total, done int
	// pending lines come after the bar's last run: mpb prints lines
	// above a bar only while one is drawn, so they wait for Stop.
	pending []string
}

func newBar(w io.Writer, force bool) *bar { return &bar{w: w, force: force} }

func (b *bar) Start(total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.p != nil || total <= 0 {
		return
	}
	b.total = total
	b.p = mpb.New(mpb.WithOutput(b.w), mpb.WithRefreshRate(200*time.Millisecond), mpb.ContainerOptional(mpb.ForceTTY(), b.force))
	b.b = b.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return b.current() }, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.CountersNoUnit("%d/%d runs", decor.WCSyncSpace),
			decor.Elapsed(decor.ET_STYLE_MMSS, decor.WCSyncSpace),
			decor.OnComplete(decor.AverageETA(decor.ET_STYLE_MMSS, decor.WCSyncSpace), "")),
		mpb.BarRemoveOnComplete())
}

func (b *bar) current() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.label
}

func (b *bar) Step(label string) {
	b.mu.Lock()
	started := b.p != nil
	b.label = label
	b.mu.Unlock()
	if !started {
		fmt.Fprintf(b.w, "%s%s ...\n", Prefix, label)
	}
}

func (b *bar) Done() {
	b.mu.Lock()
	bb := b.b
	b.done++
	b.mu.Unlock()
	if bb != nil {
		bb.Increment()
	}
}

func (b *bar) Line(text string) {
	line := Prefix + text + "\n"
	b.mu.Lock()
	p, ended := b.p, b.done >= b.total
	if p != nil && ended {
		b.pending = append(b.pending, line)
	}
	b.mu.Unlock()
	switch {
	case p == nil:
		io.WriteString(b.w, line)
	case !ended:
		if _, err := io.WriteString(p, line); err != nil {
			io.WriteString(b.w, line)
		}
	}
}

func (b *bar) Stop() {
	b.mu.Lock()
	p, bb := b.p, b.b
	b.mu.Unlock()
	if p == nil {
		return
	}
	if !bb.Completed() {
		bb.Abort(true)
	}
	p.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.pending {
		io.WriteString(b.w, l)
	}
	b.pending = nil
}
