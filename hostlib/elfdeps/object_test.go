package elfdeps

import (
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/ldcache"
	"github.com/mpiwrap/mpiwrap/internal/testreq"
)

func TestReadObjectMPICH(t *testing.T) {
	r := hostResolver(t)
	o, err := ReadObject("/", hostLib(t, r, "libmpich.so.12"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Soname != "libmpich.so.12" || !slices.Contains(o.Needed, "libucp.so.0") {
		t.Fatalf("soname %q needed %v", o.Soname, o.Needed)
	}
	if o.CacheFlags != NativeCacheFlags() {
		t.Errorf("CacheFlags = %#x, want %#x", o.CacheFlags, NativeCacheFlags())
	}
	if filepath.Base(o.Real) == "libmpich.so.12" {
		t.Errorf("Real = %s, want the versioned file behind the symlink", o.Real)
	}
	i := slices.IndexFunc(o.Needs, func(v VersionNeed) bool { return v.File == "libc.so.6" })
	if i < 0 || !slices.Contains(o.Needs[i].Versions, "GLIBC_2.34") {
		t.Fatalf("needs %+v, want GLIBC_2.34 from libc.so.6 (NOTES.md)", o.Needs)
	}
}

func TestLibcDefinesVersions(t *testing.T) {
	r := hostResolver(t)
	o, err := ReadObject("/", hostLib(t, r, "libc.so.6"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_PRIVATE"} {
		if !slices.Contains(o.Defines, v) {
			t.Errorf("libc.so.6 defines %v, want %s", o.Defines, v)
		}
	}
	if slices.Contains(o.Defines, "libc.so.6") {
		t.Error("Defines includes the VER_FLG_BASE entry")
	}
}

func TestExportsImports(t *testing.T) {
	r := hostResolver(t)
	exp, err := Exports("/", hostLib(t, r, "libmpich.so.12"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"MPI_Init", "MPI_Get_library_version", "PMPI_Send"} {
		if !slices.ContainsFunc(exp, func(s Symbol) bool { return s.Name == name }) {
			t.Errorf("libmpich exports lack %s", name)
		}
	}
	_, err = os.Stat("/usr/bin/mpichversion")
	testreq.Require(t, err == nil, "/usr/bin/mpichversion")
	imp, err := Imports("/", "/usr/bin/mpichversion")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(imp, Symbol{Name: "MPI_Get_library_version"}) {
		t.Errorf("mpichversion imports %v, want MPI_Get_library_version", imp)
	}
	if slices.ContainsFunc(imp, func(s Symbol) bool { return s.Name == "MPII_Version_CC" }) {
		t.Error("imports list a symbol the binary defines")
	}
}

func TestReadObjectErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text.so")
	if err := os.WriteFile(text, []byte("not elf"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       error
	}{
		{"missing", filepath.Join(dir, "nope.so"), os.ErrNotExist},
		{"not elf", text, ErrNotELF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadObject("/", tc.path); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestRootConfinesSymlinks checks that an absolute symlink inside an
// image resolves inside the image, not on the host.
func TestRootConfinesSymlinks(t *testing.T) {
	r := hostResolver(t)
	src := hostLib(t, r, "libnuma.so.1")
	root := t.TempDir()
	lib := filepath.Join(root, "usr/lib")
	if err := os.MkdirAll(filepath.Join(root, "etc/alternatives"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lib, "libnuma.so.1.0.0"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"etc/alternatives/libnuma": "/usr/lib/libnuma.so.1.0.0",
		"usr/lib/libnuma.so.1":     "/etc/alternatives/libnuma",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	o, err := ReadObject(Root(root), "/usr/lib/libnuma.so.1")
	if err != nil {
		t.Fatal(err)
	}
	if o.Real != "/usr/lib/libnuma.so.1.0.0" || o.Soname != "libnuma.so.1" {
		t.Fatalf("Real %q soname %q", o.Real, o.Soname)
	}
	res := &Resolver{Root: Root(root), DefaultDirs: []string{"/usr/lib"}}
	got, err := res.Lookup("libnuma.so.1", nil)
	if err != nil || got.Path != "/usr/lib/libnuma.so.1" {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
}

func TestDefaultExclude(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"libc.so.6", true},
		{"libm.so.6", true},
		{"libpthread.so.0", true},
		{"ld-linux-x86-64.so.2", true},
		{"ld-linux-aarch64.so.1", true},
		{"/lib64/ld-linux-x86-64.so.2", true},
		{"libnss_files.so.2", true},
		{"libstdc++.so.6", true},
		{"libgcc_s.so.1", true},
		{"libcrypt.so.1", true},
		{"libnsl.so.2", false},
		{"libmpich.so.12", false},
		{"libcap.so.2", false},
		{"libucp.so.0", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DefaultExclude(tc.name); got != tc.want {
				t.Fatalf("DefaultExclude(%q) = %v", tc.name, got)
			}
		})
	}
}

func TestCacheFlags(t *testing.T) {
	tests := []struct {
		name   string
		class  elf.Class
		m      elf.Machine
		eflags uint32
		libc   bool
		want   int32
	}{
		{"x86-64", elf.ELFCLASS64, elf.EM_X86_64, 0, true, ldcache.FlagsX8664Libc6},
		{"x32", elf.ELFCLASS32, elf.EM_X86_64, 0, false, ldcache.FlagX8664LibX32 | ldcache.FlagELFLibc6},
		{"i386 libc6", elf.ELFCLASS32, elf.EM_386, 0, true, ldcache.FlagELFLibc6},
		{"i386 no libc", elf.ELFCLASS32, elf.EM_386, 0, false, ldcache.FlagELF},
		{"aarch64", elf.ELFCLASS64, elf.EM_AARCH64, 0, false, ldcache.FlagsAArch64Libc6},
		{"armhf", elf.ELFCLASS32, elf.EM_ARM, 0x400, false, ldcache.FlagARMLibHF | ldcache.FlagELFLibc6},
		{"riscv64 lp64d", elf.ELFCLASS64, elf.EM_RISCV, 0x4, false, ldcache.FlagRISCVFloatABIDouble | ldcache.FlagELFLibc6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CacheFlags(tc.class, tc.m, tc.eflags, tc.libc); got != tc.want {
				t.Fatalf("CacheFlags = %#x, want %#x", got, tc.want)
			}
		})
	}
}
