package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

// mpiImage is an image with fake MPI libraries and programs:
//
//	/usr/lib/libmpich.so.12                  MPICH without PMIx
//	/opt/mpich-pmix/lib/libmpich.so.12       MPICH that needs libpmix.so.2
//	/usr/lib/libpmix.so.2
//	/usr/lib/openmpi/libmpi.so.40            needs libopen-pal.so.40
//	/usr/lib/openmpi/libopen-pal.so.40
//	/usr/lib/python3/dist-packages/mpi4py/MPI.cpython-311-x86_64-linux-gnu.so, needs libmpi.so.40
//	/opt/app/hello        needs libmpich.so.12 (from the ld.so.cache)
//	/opt/app/hello-pmix   needs libmpich.so.12, RUNPATH /opt/mpich-pmix/lib
//	/opt/app/hello-ompi   needs libmpi.so.40
//	/bin/sh, /usr/bin/python3   programs without MPI
//
// Nothing lies in the loader's default directories: libraries are found
// through the image's ld.so.cache (see the cache maps below) or RUNPATH.
func mpiImage(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	at := func(p string) string { return filepath.Join(root, p) }
	fakeLib(t, at("usr/lib/libmpich.so.12"), "libmpich.so.12")
	pmix := fakeLib(t, at("usr/lib/libpmix.so.2"), "libpmix.so.2")
	mpichPMIx := fakeLib(t, at("opt/mpich-pmix/lib/libmpich.so.12"), "libmpich.so.12", pmix)
	pal := fakeLib(t, at("usr/lib/openmpi/libopen-pal.so.40"), "libopen-pal.so.40")
	ompi := fakeLib(t, at("usr/lib/openmpi/libmpi.so.40"), "libmpi.so.40", pal)
	fakeLib(t, at("usr/lib/python3/dist-packages/mpi4py/MPI.cpython-311-x86_64-linux-gnu.so"), "", ompi)
	fakeProg(t, at("opt/app/hello"), "", at("usr/lib/libmpich.so.12"))
	fakeProg(t, at("opt/app/hello-pmix"), "/opt/mpich-pmix/lib", mpichPMIx)
	fakeProg(t, at("opt/app/hello-ompi"), "", ompi)
	fakeProg(t, at("bin/sh"), "")
	fakeProg(t, at("usr/bin/python3"), "")
	for name, text := range map[string]string{
		"opt/app/run.sh":   "#!/bin/sh\nexec /opt/app/hello \"$@\"\n",
		"opt/app/run2.sh":  "#!/bin/sh\n# calls run.sh\n/opt/app/run.sh --flag=1\n",
		"opt/app/run3.sh":  "#!/bin/sh\n/opt/app/run2.sh\n",
		"opt/app/loop.sh":  "#!/bin/sh\nexec /opt/app/loop.sh\n",
		"opt/app/ompi.sh":  "#!/bin/sh\nif true; then OMPI=/opt/app/hello-ompi; fi\n$OMPI\n",
		"opt/app/hello.py": "#!/usr/bin/python3\nfrom mpi4py import MPI\nprint(MPI.COMM_WORLD.rank)\n",
		"opt/app/plain.py": "#!/usr/bin/python3\nprint('no MPI here')\n",
		"opt/app/data.bin": "\x7fnot\x00ELF",
	} {
		if err := os.WriteFile(at(name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// Caches for mpiImage: which MPI the image's ld.so.cache lists.
var (
	mpichCache = map[string]string{"libmpich.so.12": "/opt/mpich-pmix/lib/libmpich.so.12",
		"libpmix.so.2": "/usr/lib/libpmix.so.2"}
	ompiCache = map[string]string{"libmpi.so.40": "/usr/lib/openmpi/libmpi.so.40",
		"libopen-pal.so.40": "/usr/lib/openmpi/libopen-pal.so.40", "libpmix.so.2": "/usr/lib/libpmix.so.2"}
	allCache = map[string]string{"libmpich.so.12": "/usr/lib/libmpich.so.12",
		"libpmix.so.2": "/usr/lib/libpmix.so.2", "libmpi.so.40": "/usr/lib/openmpi/libmpi.so.40",
		"libopen-pal.so.40": "/usr/lib/openmpi/libopen-pal.so.40"}
	noMPICache = map[string]string{"libpmix.so.2": "/usr/lib/libpmix.so.2"}
)

func TestFindMPI(t *testing.T) {
	root := mpiImage(t)
	tests := []struct {
		name      string
		cache     map[string]string // the image's ld.so.cache; nil: none
		argv      []string
		cwd       string
		family    MPIFamily
		pmix      bool
		ambiguous bool
		library   string // "" for any
		why       string // a part of the reason
	}{
		{"MPICH program", allCache, []string{"/opt/app/hello"}, "/", "mpich", false, false,
			"libmpich.so.12", "libraries of /opt/app/hello in the image"},
		{"MPICH program by PATH", allCache, []string{"hello", "-n", "4"}, "/", "mpich", false, false,
			"libmpich.so.12", "libraries of /opt/app/hello"},
		{"MPICH with PMIx through RUNPATH", allCache, []string{"/opt/app/hello-pmix"}, "/", "mpich", true, false,
			"libmpich.so.12", "libraries of /opt/app/hello-pmix"},
		{"Open MPI program", allCache, []string{"./hello-ompi"}, "/opt/app", "openmpi", true, false,
			"", "libraries of /opt/app/hello-ompi"},
		{"wrapper script", allCache, []string{"/opt/app/run.sh", "arg"}, "/", "mpich", false, false,
			"libmpich.so.12", "libraries of /opt/app/hello"},
		{"script of a script", allCache, []string{"/opt/app/run2.sh"}, "/", "mpich", false, false,
			"libmpich.so.12", "libraries of /opt/app/hello"},
		{"scripts nested too deep: the cache decides", mpichCache, []string{"/opt/app/run3.sh"}, "/", "mpich", true, false,
			"libmpich.so.12", "/opt/app/run3.sh names no MPI library; the only MPI in the image's ld.so.cache is MPICH (libmpich.so.12)"},
		{"script that runs itself", noMPICache, []string{"/opt/app/loop.sh"}, "/", "unknown", false, false,
			"", "/opt/app/loop.sh loads no MPI library, and the image's ld.so.cache holds none"},
		{"script naming a program in a variable", allCache, []string{"/opt/app/ompi.sh"}, "/", "openmpi", true, false,
			"", "libraries of /opt/app/hello-ompi"},
		{"sh -c", allCache, []string{"sh", "-c", "/opt/app/hello"}, "/", "mpich", false, false,
			"libmpich.so.12", "libraries of /opt/app/hello in the image"},
		{"sh -c relative", allCache, []string{"/bin/sh", "-c", "./hello-pmix"}, "/opt/app", "mpich", true, false,
			"libmpich.so.12", "libraries of /opt/app/hello-pmix in the image"},
		{"sh script argument", allCache, []string{"sh", "./run.sh"}, "/opt/app", "mpich", false, false,
			"libmpich.so.12", "libraries of /opt/app/hello"},
		{"python mpi4py script", allCache, []string{"python3", "/opt/app/hello.py"}, "/", "openmpi", true, false,
			"", "mpi4py's /usr/lib/python3/dist-packages/mpi4py/MPI.cpython-311-x86_64-linux-gnu.so in the image, which the command's Python code imports"},
		{"python -c mpi4py", allCache, []string{"python3", "-c", "from mpi4py import MPI"}, "/", "openmpi", true, false,
			"", "mpi4py's /usr/lib/python3/dist-packages/mpi4py/MPI.cpython-311-x86_64-linux-gnu.so"},
		{"script run directly imports mpi4py", allCache, []string{"/opt/app/hello.py"}, "/", "openmpi", true, false,
			"", "mpi4py's"},
		{"python without mpi4py", mpichCache, []string{"python3", "/opt/app/plain.py"}, "/", "mpich", true, false,
			"libmpich.so.12", "python3 names no MPI library; the only MPI in the image's ld.so.cache is MPICH"},
		{"binary data argument", noMPICache, []string{"sh", "/opt/app/data.bin"}, "/", "unknown", false, false,
			"", "sh loads no MPI library, and the image's ld.so.cache holds none"},
		{"no MPI, cache has MPICH", mpichCache, []string{"sh", "-c", "true"}, "/", "mpich", true, false,
			"libmpich.so.12", "sh names no MPI library; the only MPI in the image's ld.so.cache is MPICH (libmpich.so.12)"},
		{"no MPI, cache has Open MPI", ompiCache, []string{"sh", "-c", "true"}, "/", "openmpi", true, false,
			"", "sh names no MPI library; the only MPI in the image's ld.so.cache is Open MPI (lib"},
		{"no MPI, cache has both", allCache, []string{"sh", "-c", "true"}, "/", "unknown", false, true,
			"", "sh names no MPI library, and the image holds both MPICH (libmpich.so.12) and Open MPI (lib"},
		{"no MPI, cache has none", noMPICache, []string{"sh", "-c", "true"}, "/", "unknown", false, false,
			"", "sh loads no MPI library, and the image's ld.so.cache holds none"},
		{"no MPI, no cache", nil, []string{"sh", "-c", "true"}, "/", "unknown", false, false,
			"", "sh loads no MPI library that could be found, and the image has no ld.so.cache"},
		{"missing command", mpichCache, []string{"/opt/app/nothere"}, "/", "mpich", true, false,
			"libmpich.so.12", "/opt/app/nothere names no MPI library; the only MPI"},
		{"missing command, no cache", nil, []string{"nothere"}, "/", "unknown", false, false,
			"", "nothere loads no MPI library that could be found, and the image has no ld.so.cache"},
		{"no command", ompiCache, nil, "/", "openmpi", true, false,
			"", "the command names no MPI library; the only MPI in the image's ld.so.cache is Open MPI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeLdCache(t, root, tt.cache)
			c := FindMPI(elfdeps.Root(root), tt.argv, "/usr/bin:/bin:/opt/app", tt.cwd)
			if c.Family != tt.family || c.PMIx != tt.pmix || c.Ambiguous != tt.ambiguous ||
				(tt.library != "" && c.Library != tt.library) || !strings.Contains(c.Why, tt.why) {
				t.Fatalf("FindMPI(%q) = %+v\nwant family %s, pmix %v, ambiguous %v, library %q, why with %q",
					tt.argv, c, tt.family, tt.pmix, tt.ambiguous, tt.library, tt.why)
			}
			// libmpi.so.40 or libopen-pal.so.40: which one is named is
			// not pinned (see TestFindMPIOpenMPILibrary).
			if c.Family == FamilyOpenMPI && c.Library != "libmpi.so.40" && c.Library != "libopen-pal.so.40" {
				t.Errorf("Open MPI found as library %q: %+v", c.Library, c)
			}
		})
	}
}

// Known bug: a shell's -c command string is one argument, and FindMPI
// looks at it as one path, so "sh -c './hello -v'" (a program with its
// arguments, the usual form) is not seen through and the ld.so.cache
// decides instead.
func TestFindMPIShellCommandWithArguments(t *testing.T) {
	root := mpiImage(t)
	writeLdCache(t, root, allCache)
	c := FindMPI(elfdeps.Root(root), []string{"sh", "-c", "/opt/app/hello-pmix -n 4"}, "/bin", "/")
	if c.Family != FamilyMPICH || !c.PMIx || c.Ambiguous {
		t.Fatalf("sh -c '/opt/app/hello-pmix -n 4': %+v, want MPICH with PMIx from hello-pmix", c)
	}
}

// Known bug: for Open MPI, ClassifyClosure names whichever of libmpi.so.40
// and libopen-pal.so.40 comes last, so users read "the image's Open MPI
// (libopen-pal.so.40)" where the MPI library is libmpi.so.40.
func TestFindMPIOpenMPILibrary(t *testing.T) {
	root := mpiImage(t)
	writeLdCache(t, root, ompiCache)
	for _, argv := range [][]string{{"/opt/app/hello-ompi"}, {"sh"}} {
		if c := FindMPI(elfdeps.Root(root), argv, "/bin", "/"); c.Library != "libmpi.so.40" {
			t.Errorf("FindMPI(%q): library %q, want libmpi.so.40 (%s)", argv, c.Library, c.Why)
		}
	}
}

// New finds the container's MPI for --pmi=auto under a launcher that
// offers PMI: in the image, or, for a command in a bound directory, in
// the host file with its libraries resolved in the image.
func TestNewDetectMPI(t *testing.T) {
	img := mpiImage(t)
	writeLdCache(t, img, allCache)
	work := dirOutsideTmp(t)
	fakeProg(t, filepath.Join(work, "solver"), "", filepath.Join(img, "opt/mpich-pmix/lib/libmpich.so.12"))
	os.WriteFile(filepath.Join(work, "run.sh"), []byte("#!/bin/sh\n./solver\n"), 0o755)
	broken := testImage(t)
	os.WriteFile(filepath.Join(broken, "etc/ld.so.cache"), []byte("not a cache"), 0o644)
	sqfs := fakeSquashFS(t)
	pmix := []string{"PMIX_NAMESPACE=ns", "PMIX_RANK=0", "PMIX_SERVER_URI41=x"}
	tests := []struct {
		name   string
		img    string
		argv   []string
		env    []string
		family MPIFamily
		pmix   bool
		why    string
		mode   PMIMode
	}{
		{"MPICH in the image", img, []string{"/opt/app/hello"}, pmix, FamilyMPICH, false,
			"libraries of /opt/app/hello in the image", PMIProxy},
		{"MPICH with PMIx in the image", img, []string{"/opt/app/hello-pmix"}, pmix, FamilyMPICH, true,
			"libraries of /opt/app/hello-pmix in the image", PMIPassthrough},
		{"a script in the image", img, []string{"/opt/app/run.sh"}, pmix, FamilyMPICH, false,
			"libraries of /opt/app/hello in the image", PMIProxy},
		// Linked on the host against the PMIx MPICH, it gets the image's.
		{"program in the bound working directory", img, []string{"./solver"}, pmix, FamilyMPICH, false,
			"libraries of " + work + "/solver, resolved in the image", PMIProxy},
		{"script in the bound working directory", img, []string{"./run.sh"}, pmix, FamilyUnknown, false,
			"./run.sh names no MPI library, and the image holds both", PMIPassthrough},
		{"bound program, unreadable image cache", broken, []string{work + "/solver"}, pmix, FamilyUnknown, false,
			"read " + work + "/solver: ", PMIPassthrough},
		{"SquashFS", sqfs, []string{"/opt/app/hello"}, pmix, FamilyUnknown, false,
			"SquashFS image: its MPI is read inside at start", PMIPassthrough},
		{"no PMI offered: not looked for", img, []string{"/opt/app/hello"}, nil, "", false, "", PMIPassthrough},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHost("/nonexistent", work)
			h.Env = append(h.Env, tt.env...)
			p, err := New(&Spec{Image: tt.img, Command: tt.argv, PMI: PMIAuto, NoHome: true}, h)
			if err != nil {
				t.Fatal(err)
			}
			if p.MPI.Family != tt.family || p.MPI.PMIx != tt.pmix || !strings.Contains(p.MPI.Why, tt.why) || p.PMIMode != tt.mode {
				t.Fatalf("MPI %+v, PMI %s (%s)\nwant family %q, pmix %v, why with %q, PMI %s", p.MPI, p.PMIMode, p.PMIWhy, tt.family, tt.pmix, tt.why, tt.mode)
			}
			if tt.env == nil && p.MPI != (MPIClient{}) {
				t.Errorf("MPI %+v looked for without a PMI offer", p.MPI)
			}
		})
	}
}
