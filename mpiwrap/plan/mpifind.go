package plan

import (
	"bufio"
	"bytes"
	"debug/elf"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

// FindMPI names the MPI that a command will load in the tree at root (an
// image directory, or "/" inside a built container). --pmi=auto needs it
// even when the command is not an MPI program itself:
//   - an ELF program: the MPI in its closure;
//   - an interpreter or shell (sh -c ./solver, python3 app.py, a wrapper
//     script): the MPI of the programs and scripts its arguments and its
//     script's text name, and mpi4py's MPI module for Python that uses it;
//   - otherwise the MPI libraries in the tree's ld.so.cache; when that
//     holds both MPICH and Open MPI it can't tell, and says so.
func FindMPI(root elfdeps.Root, argv []string, pathVar, cwd string) MPIClient {
	f := &mpiFinder{root: root, pathVar: pathVar, cwd: cwd, seen: map[string]bool{}}
	if len(argv) > 0 {
		if c := f.command(argv, 0); c.Family != FamilyUnknown {
			return c
		}
	}
	return f.fromCache(argv)
}

// maxScriptDepth bounds how far scripts that name scripts are followed.
const maxScriptDepth = 2

type mpiFinder struct {
	root         elfdeps.Root
	pathVar, cwd string
	resolver     *elfdeps.Resolver
	seen         map[string]bool // files already looked at
	mpi4py       bool            // a script or argument names mpi4py
}

// command looks at argv: its program, then what its arguments name.
func (f *mpiFinder) command(argv []string, depth int) MPIClient {
	unknown := MPIClient{Family: FamilyUnknown}
	bin := f.lookPath(argv[0])
	if bin == "" {
		return unknown
	}
	if c := f.file(bin, depth); c.Family != FamilyUnknown {
		return c
	}
	if c := f.words(argv[1:], depth); c.Family != FamilyUnknown {
		return c
	}
	if f.mpi4py {
		return f.mpi4pyModule()
	}
	return unknown
}

// file classifies one file: an ELF program by its closure, a script by its
// interpreter and the words of its text.
func (f *mpiFinder) file(p string, depth int) MPIClient {
	unknown := MPIClient{Family: FamilyUnknown}
	if f.seen[p] {
		return unknown
	}
	f.seen[p] = true
	head, text := f.read(p)
	switch {
	case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		return f.closure(p)
	case depth >= maxScriptDepth || text == nil:
		return unknown
	}
	if bytes.Contains(text, []byte("mpi4py")) {
		f.mpi4py = true
	}
	line, _, _ := bytes.Cut(text, []byte("\n"))
	if interp, ok := bytes.CutPrefix(line, []byte("#!")); ok {
		if c := f.words(strings.Fields(string(interp)), depth+1); c.Family != FamilyUnknown {
			return c
		}
	}
	return f.words(scriptWords(text), depth+1)
}

// words classifies the first file among words that names an MPI.
func (f *mpiFinder) words(words []string, depth int) MPIClient {
	for _, w := range words {
		if strings.Contains(w, "mpi4py") {
			f.mpi4py = true
		}
		if strings.ContainsAny(w, " \t\n;|&") { // a shell's -c string
			if c := f.words(scriptWords([]byte(w)), depth); c.Family != FamilyUnknown {
				return c
			}
			continue
		}
		if !strings.Contains(w, "/") {
			continue
		}
		if !path.IsAbs(w) {
			w = path.Join(f.cwd, w)
		}
		if st, err := f.root.Stat(w); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if c := f.file(w, depth); c.Family != FamilyUnknown {
			return c
		}
	}
	return MPIClient{Family: FamilyUnknown}
}

// read returns a file's first bytes and, for a small text file, its text.
// Of an ELF file only the magic number is read: file looks no further.
func (f *mpiFinder) read(p string) (head, text []byte) {
	r, err := f.root.Open(p)
	if err != nil {
		return nil, nil
	}
	defer r.Close()
	var magic [len(elf.ELFMAG)]byte
	n, _ := io.ReadFull(r, magic[:])
	if string(magic[:n]) == elf.ELFMAG {
		return magic[:], nil
	}
	rest, _ := io.ReadAll(io.LimitReader(r, 1<<20+1-int64(n)))
	data := append(magic[:n:n], rest...)
	if len(data) > 1<<20 || bytes.IndexByte(data, 0) >= 0 {
		return data[:min(len(data), 4)], nil
	}
	return data, data
}

// scriptWords splits a script into the words that may name files.
func scriptWords(text []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.FieldsFunc(line, func(r rune) bool {
			return strings.ContainsRune(" \t\"'`;|&()<>=,[]{}$", r)
		})...)
	}
	return out
}

// lookPath finds a command in the tree as exec would.
func (f *mpiFinder) lookPath(cmd string) string {
	if strings.Contains(cmd, "/") {
		if !path.IsAbs(cmd) {
			cmd = path.Join(f.cwd, cmd)
		}
		if st, err := f.root.Stat(cmd); err == nil && st.Mode().IsRegular() {
			return cmd
		}
		return ""
	}
	for _, dir := range filepath.SplitList(f.pathVar) {
		if c := path.Join(dir, cmd); path.IsAbs(c) {
			if st, err := f.root.Stat(c); err == nil && st.Mode().IsRegular() {
				return c
			}
		}
	}
	return ""
}

// closure classifies the libraries an ELF file loads, resolved in the tree.
func (f *mpiFinder) closure(p string) MPIClient {
	unknown := MPIClient{Family: FamilyUnknown}
	r := f.resolve()
	if r == nil {
		return unknown
	}
	g, err := r.Closure(p)
	if err != nil {
		return unknown
	}
	var names []string
	for _, n := range g.Nodes {
		names = append(names, n.Soname, path.Base(n.Path))
	}
	c := ClassifyClosure(names)
	c.Why = "libraries of " + p + " in the image"
	return c
}

func (f *mpiFinder) resolve() *elfdeps.Resolver {
	if f.resolver == nil {
		r, err := elfdeps.NewResolver(f.root)
		if err != nil {
			return nil
		}
		f.resolver = r
	}
	return f.resolver
}

// mpi4pyDirs are where distributions and pip put mpi4py.
var mpi4pyDirs = []string{
	"/usr/lib/python3/dist-packages/mpi4py",
	"/usr/lib/python3*/site-packages/mpi4py",
	"/usr/local/lib/python3*/dist-packages/mpi4py",
	"/usr/local/lib/python3*/site-packages/mpi4py",
	"/usr/lib64/python3*/site-packages/mpi4py",
}

// mpi4pyModule classifies mpi4py's compiled MPI module, which a Python
// program that imports mpi4py loads.
func (f *mpiFinder) mpi4pyModule() MPIClient {
	for _, dir := range mpi4pyDirs {
		mods, _ := f.root.Glob(dir + "/MPI*.so")
		for _, m := range mods {
			if c := f.closure(m); c.Family != FamilyUnknown {
				c.Why = "mpi4py's " + m + " in the image, which the command's Python code imports"
				return c
			}
		}
	}
	return MPIClient{Family: FamilyUnknown}
}

// fromCache falls back on the MPI libraries the tree's ld.so.cache holds.
func (f *mpiFinder) fromCache(argv []string) MPIClient {
	what := "the command"
	if len(argv) > 0 {
		what = argv[0]
	}
	r := f.resolve()
	if r == nil || r.Cache == nil {
		return MPIClient{Family: FamilyUnknown, Why: what + " loads no MPI library that could be found, and the image has no ld.so.cache"}
	}
	// Which library stands for each MPI depends on the names alone; the
	// closure of the one chosen tells more (PMIx), and is only read when
	// it decides: an image with both MPIs is ambiguous whatever they load.
	found := map[MPIFamily]MPIClient{}
	paths := map[MPIFamily]string{}
	for _, e := range r.Cache.Entries {
		c := ClassifyClosure([]string{e.Key})
		if c.Family == FamilyUnknown || !betterLibrary(found[c.Family].Library, e.Key) {
			continue
		}
		c.Library = e.Key
		found[c.Family], paths[c.Family] = c, e.Value
	}
	mpich, hasMPICH := found[FamilyMPICH]
	ompi, hasOMPI := found[FamilyOpenMPI]
	if hasMPICH != hasOMPI {
		for fam, c := range found {
			if full := f.closure(paths[fam]); full.Family == c.Family {
				full.Library = c.Library
				found[fam] = full
			}
		}
		mpich, ompi = found[FamilyMPICH], found[FamilyOpenMPI]
	}
	switch {
	case hasMPICH && hasOMPI:
		return MPIClient{Family: FamilyUnknown, Ambiguous: true,
			Why: what + " names no MPI library, and the image holds both MPICH (" + mpich.Library + ") and Open MPI (" + ompi.Library + ")"}
	case hasMPICH:
		mpich.Why = what + " names no MPI library; the only MPI in the image's ld.so.cache is MPICH (" + mpich.Library + ")"
		return mpich
	case hasOMPI:
		ompi.Why = what + " names no MPI library; the only MPI in the image's ld.so.cache is Open MPI (" + ompi.Library + ")"
		return ompi
	}
	return MPIClient{Family: FamilyUnknown, Why: what + " loads no MPI library, and the image's ld.so.cache holds none"}
}

// betterLibrary says whether name should stand for its MPI rather than
// have: the first one found, but Open MPI's libmpi over its libopen-pal.
func betterLibrary(have, name string) bool {
	return have == "" || strings.HasPrefix(have, "libopen-pal") && strings.HasPrefix(name, "libmpi.so.40")
}
