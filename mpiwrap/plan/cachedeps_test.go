package plan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/fileid"
)

func TestCacheDeps(t *testing.T) {
	img := testImage(t)
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("A=1\n"), 0o644)
	data := dirOutsideTmp(t)
	spec := &Spec{Image: img, Command: []string{"true"}, NoCwd: true, NoHome: true,
		EnvEdits: []EnvEdit{{Op: "set", Name: "B", Value: "2"}, {Op: "file", Name: envFile}},
		Binds:    []BindSpec{{Src: data, Dst: "/data"}}}
	p, err := New(spec, testHost("/nonexistent", "/"))
	if err != nil {
		t.Fatal(err)
	}
	deps := p.CacheDeps(spec)
	for _, want := range [][2]string{
		{img, fileid.Of(img)},
		{filepath.Join(img, "etc"), fileid.Of(filepath.Join(img, "etc"))},
		{filepath.Join(img, "etc/passwd"), fileid.Of(filepath.Join(img, "etc/passwd"))},
		{"/etc/passwd", fileid.Of("/etc/passwd")},
		{envFile, fileid.Of(envFile)}, // read: its full identity
		{data, "type:dir"},            // a bind source: only its kind
		{"/tmp", "type:dir"},
	} {
		if !slices.Contains(deps, want) {
			t.Errorf("CacheDeps lacks %q:\n%q", want, deps)
		}
	}
	if slices.ContainsFunc(deps, func(d [2]string) bool { return d[0] == "/etc/ld.so.cache" }) {
		t.Error("a plan without profiles depends on the host's ld.so.cache")
	}
	// An edit of the env file is seen; a new file in the bind source is not.
	before := deps
	os.WriteFile(envFile, []byte("A=22\n"), 0o644)
	os.WriteFile(filepath.Join(data, "new"), nil, 0o644)
	after := p.CacheDeps(spec)
	var changed []string
	for i := range before {
		if before[i] != after[i] {
			changed = append(changed, before[i][0])
		}
	}
	if !slices.Equal(changed, []string{envFile}) {
		t.Errorf("changed deps %q, want only the env file", changed)
	}

	// With profiles: the profile file and the host's ld.so.cache.
	stack := fakeHostStack(t, "")
	h, _ := injectHost(t)
	ispec := stack.spec(img, "true")
	ip, err := New(ispec, h)
	if err != nil {
		t.Fatal(err)
	}
	ideps := ip.CacheDeps(ispec)
	for _, want := range [][2]string{
		{stack.profile, fileid.Of(stack.profile)},
		{"/etc/ld.so.cache", fileid.Of("/etc/ld.so.cache")},
		{filepath.Join(stack.dir, "lib"), "type:dir"}, // a host directory bound below HostView
	} {
		if !slices.Contains(ideps, want) {
			t.Errorf("CacheDeps with profiles lacks %q", want)
		}
	}
}

func TestCacheableAndRankLabel(t *testing.T) {
	dir := &Plan{Image: Image{Kind: ImageDir}, Launcher: Launcher{Rank: -1}}
	tests := []struct {
		name      string
		p         *Plan
		spec      Spec
		cacheable bool
		rank      string
	}{
		{"a rank of its own", dir, Spec{}, true, "-"},
		{"verbose", dir, Spec{Verbose: true}, false, "-"},
		{"squashfs", &Plan{Image: Image{Kind: ImageSquashFS}, Launcher: Launcher{Rank: -1}}, Spec{}, false, "-"},
		{"under a launcher", &Plan{Image: Image{Kind: ImageDir}, Launcher: Launcher{Rank: 3, Step: "slurm:9.0"}}, Spec{}, false, "3"},
		{"rank 0", &Plan{Image: Image{Kind: ImageDir}, Launcher: Launcher{Rank: 0}}, Spec{}, true, "0"},
	}
	for _, tt := range tests {
		if got := tt.p.Cacheable(&tt.spec); got != tt.cacheable {
			t.Errorf("%s: Cacheable = %v, want %v", tt.name, got, tt.cacheable)
		}
		if got := tt.p.RankLabel(); got != tt.rank {
			t.Errorf("%s: RankLabel = %q, want %q", tt.name, got, tt.rank)
		}
	}
}

func TestImageIdentity(t *testing.T) {
	img := testImage(t)
	dir := Image{Path: img, Kind: ImageDir}
	id := imageIdentity(dir)
	if want := "dir " + img + " " + fileid.Of(img) + " " + fileid.Missing; !strings.HasPrefix(id, want) {
		t.Errorf("identity %q, want it to start %q (the image has no ld.so.cache)", id, want)
	}
	if again := imageIdentity(dir); again != id {
		t.Errorf("identity changed without a change: %q, %q", id, again)
	}
	os.WriteFile(filepath.Join(img, "etc/ld.so.conf"), []byte("/opt/lib\n"), 0o644)
	if changed := imageIdentity(dir); changed == id {
		t.Error("a new /etc/ld.so.conf kept the identity")
	}
	other := testImage(t)
	if imageIdentity(Image{Path: other, Kind: ImageDir}) == imageIdentity(dir) {
		t.Error("two images, one identity")
	}
	sq := filepath.Join(t.TempDir(), "img.sqfs")
	os.WriteFile(sq, []byte("hsqs"), 0o644)
	sid := imageIdentity(Image{Path: sq, Kind: ImageSquashFS})
	if sid != "squashfs "+sq+" "+fileid.Of(sq) {
		t.Errorf("SquashFS identity %q", sid)
	}
	os.WriteFile(sq, []byte("hsqs, rebuilt"), 0o644)
	if imageIdentity(Image{Path: sq, Kind: ImageSquashFS}) == sid {
		t.Error("a rewritten SquashFS file kept its identity")
	}
}
