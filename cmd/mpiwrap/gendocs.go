//go:build mpiwrap_docs

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenDocsCmd is the hidden command that make writes the installed
// documentation with: a man page for every command, generated from this
// command tree, mpiwrap-profile(5) from its markdown source, and cobra's
// bash, zsh and fish completion scripts. Nothing it writes is committed.
//
// It is only in binaries built with -tags mpiwrap_docs (make docs builds
// one beside mpiwrap): cobra/doc brings a markdown parser whose package
// initialisation alone (about 0.25 ms and 200 KiB) would be paid by every
// rank that starts the Go runtime. Other builds get gendocs_stub.go.
func newGenDocsCmd() *cobra.Command {
	var profilePage string
	cmd := &cobra.Command{
		Use:    "__gendocs [--profile-page FILE.md] OUTDIR",
		Short:  "Write the man pages and completion scripts into OUTDIR (for make install)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genDocs(cmd.Root(), args[0], profilePage)
		},
	}
	cmd.Flags().StringVar(&profilePage, "profile-page", "", "render mpiwrap-profile(5) from markdown `FILE`")
	return cmd
}

// genDocs writes into out:
//
//	man1/mpiwrap.1, man1/mpiwrap-run.1, ...  one page per visible command
//	man5/mpiwrap-profile.5                   when profilePage is given
//	completion/mpiwrap.bash, _mpiwrap, mpiwrap.fish
//
// The pages are dated from SOURCE_DATE_EPOCH when it is set (cobra reads
// it too), so rebuilding a release gives the same bytes.
func genDocs(root *cobra.Command, out, profilePage string) error {
	date, err := docDate()
	if err != nil {
		return err
	}
	man1, man5, comp := filepath.Join(out, "man1"), filepath.Join(out, "man5"), filepath.Join(out, "completion")
	for _, d := range []string{man1, man5, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	root.DisableAutoGenTag = true // no "Auto generated" history: the date is in the header
	header := &doc.GenManHeader{Section: "1", Date: &date, Source: "mpiwrap " + version, Manual: "mpiwrap manual"}
	if err := doc.GenManTree(root, header, man1); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	if err := fixPages(man1, profilePage != ""); err != nil {
		return err
	}
	if profilePage != "" {
		src, err := os.ReadFile(profilePage)
		if err != nil {
			return err
		}
		title := fmt.Sprintf("%% \"MPIWRAP-PROFILE\" \"5\" %q \"mpiwrap %s\" \"mpiwrap manual\"\n\n", date.Format("Jan 2006"), version)
		page := md2man.Render(append([]byte(title), src...))
		if err := os.WriteFile(filepath.Join(man5, "mpiwrap-profile.5"), page, 0o644); err != nil {
			return err
		}
	}
	scripts := []struct {
		name string
		gen  func(*os.File) error
	}{
		{"mpiwrap.bash", func(f *os.File) error { return root.GenBashCompletionV2(f, true) }},
		{"_mpiwrap", func(f *os.File) error { return root.GenZshCompletion(f) }},
		{"mpiwrap.fish", func(f *os.File) error { return root.GenFishCompletion(f, true) }},
	}
	for _, s := range scripts {
		f, err := os.Create(filepath.Join(comp, s.name))
		if err != nil {
			return err
		}
		err = s.gen(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("completion %s: %w", s.name, err)
		}
	}
	return nil
}

// docDate is SOURCE_DATE_EPOCH, or now.
func docDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now().UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// fixPages edits cobra's pages in dir: the NAME line gets the \- that
// groff_man(7) asks for (cobra's markdown loses it), and, with
// profile5, the pages of commands that take profiles (a --profile or
// --profile-file flag) get mpiwrap-profile(5) in SEE ALSO.
func fixPages(dir string, profile5 bool) error {
	pages, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		return err
	}
	const name, seeAlso = ".SH NAME\n", ".SH SEE ALSO\n"
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if i := bytes.Index(b, []byte(name)); i >= 0 {
			line := b[i+len(name):]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			if k := bytes.Index(line, []byte(" - ")); k >= 0 {
				at := i + len(name) + k
				b = append(b[:at:at], append([]byte(` \- `), b[at+3:]...)...)
			}
		}
		if profile5 && bytes.Contains(b, []byte(`\fB--profile`)) {
			ref := `\fBmpiwrap-profile(5)\fP`
			if i := bytes.Index(b, []byte(seeAlso)); i < 0 {
				b = append(b, "\n"+seeAlso+ref+"\n"...)
			} else {
				// cobra writes the section last: one line of
				// comma-separated references.
				rest := strings.TrimRight(string(b[i+len(seeAlso):]), "\n")
				b = append(b[:i+len(seeAlso)], rest+", "+ref+"\n"...)
			}
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
