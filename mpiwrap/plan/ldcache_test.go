package plan

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/hostlib/abi"
)

// optionalStack is the fake host stack plus an optional library in the
// injected directory and an optional plugin in a plugin directory of its
// own, which a verdict can drop.
func optionalStack(t *testing.T) hostStack {
	t.Helper()
	stack := fakeHostStack(t, "")
	fakeLib(t, filepath.Join(stack.dir, "lib/libfakeopt.so.1"), "libfakeopt.so.1")
	fakeLib(t, filepath.Join(stack.dir, "optplugins/libopt-plugin.so"), "")
	f, err := os.OpenFile(stack.profile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n[[library]]\nname = \"" + stack.dir + "/lib/libfakeopt.so.1\"\nrequired = false\n\n" +
		"[[library]]\nname = \"" + stack.dir + "/optplugins/libopt-plugin.so\"\ndest = \"/usr/lib/opt-plugins\"\nrequired = false\n"); err != nil {
		t.Fatal(err)
	}
	return stack
}

// droppedReport is a verdict that drops both optional items of
// optionalStack, as hostlib.Build reports it, with their positions from a
// plan of it.
func droppedReport(t *testing.T, stack hostStack) *abi.Report {
	t.Helper()
	h, _ := injectHost(t)
	p, err := New(stack.spec(testImage(t), "true"), h)
	if err != nil {
		t.Fatal(err)
	}
	rep := &abi.Report{Base: abi.BaseResult{Verdict: abi.OK, Unloaded: []abi.UnloadedLack{{Path: "/lib/libcxx.so.1", Profile: "fakempi",
		Message: "hostlib: /lib/libcxx.so.1 injected, needs libstdc++.so.6 the image lacks"}}}}
	for _, it := range p.Inject.Resolution.Items {
		if it.Required {
			continue
		}
		rep.Dropped = append(rep.Dropped, abi.DroppedItem{Profile: it.Profile, Item: it.Label, Pos: it.Pos, Files: it.Dests,
			Message: "hostlib: dropped optional item " + path.Base(it.Dests[0]) + " because it is too new"})
	}
	if len(rep.Dropped) != 2 {
		t.Fatalf("optional items %+v, want 2", rep.Dropped)
	}
	return rep
}

func farmHas(p *Plan, link string) bool {
	for _, m := range mountsAt(p, InjectRoot) {
		if slices.ContainsFunc(m.Farm.Links, func(l [2]string) bool { return l[0] == link }) {
			return true
		}
	}
	return false
}

// The optional items a verdict drops are not mounted: not when the entry
// is reused, not once a run has built it, not in check's preview; and
// check and -v say so.
func TestPlanDroppedItems(t *testing.T) {
	stack := optionalStack(t)
	rep := droppedReport(t, stack)
	check := func(t *testing.T, p *Plan, dropped bool) {
		t.Helper()
		if farmHas(p, "lib/libfakeopt.so.1") == dropped {
			t.Errorf("libfakeopt in the farm: %v, want %v", !dropped, !dropped)
		}
		if n := len(mountsAt(p, "/usr/lib/opt-plugins")); (n == 0) != dropped {
			t.Errorf("%d plugin directory mounts, dropped %v", n, dropped)
		}
		if strings.Contains(p.OverlayWhy, "/usr/lib/opt-plugins") == dropped {
			t.Errorf("overlay %q, dropped %v", p.OverlayWhy, dropped)
		}
		if !farmHas(p, "lib/libmpich.so.12") || len(mountsAt(p, "/usr/lib/fake-plugins")) != 1 || len(mountsAt(p, "/etc/ld.so.cache")) != 1 {
			t.Errorf("the required items or the ld.so binds are gone: %+v", p.Mounts)
		}
	}
	t.Run("planned", func(t *testing.T) {
		h, _ := injectHost(t)
		p, err := New(stack.spec(testImage(t), "true"), h)
		if err != nil {
			t.Fatal(err)
		}
		check(t, p, false)
	})
	t.Run("reused", func(t *testing.T) {
		h, cache := injectHost(t)
		cache.report = rep
		p, err := New(stack.spec(testImage(t), "true"), h)
		if err != nil {
			t.Fatal(err)
		}
		check(t, p, true)
		var out bytes.Buffer
		p.Describe(&out, "-v: ")
		for _, want := range []string{"-v: ABI check: allowed\n",
			"-v: ABI note: dropped optional item libfakeopt.so.1 because it is too new\n",
			"-v: ABI note: dropped optional item libopt-plugin.so because it is too new\n",
			"-v: ABI note: /lib/libcxx.so.1 injected, needs libstdc++.so.6 the image lacks\n"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("Describe lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("built by the run", func(t *testing.T) {
		h, _ := injectHost(t)
		p, err := New(stack.spec(testImage(t), "true"), h)
		if err != nil {
			t.Fatal(err)
		}
		p.RecordLdCache(LdCacheBuilt, rep, nil)
		check(t, p, true)
		p.RecordLdCache(LdCacheBuilt, rep, nil) // once is enough
		check(t, p, true)
	})
}

// A user profile directory that can't be read is a -v note; the run
// plans on.
func TestPlanUnreadableUserProfiles(t *testing.T) {
	stack := fakeHostStack(t, "")
	home := t.TempDir()
	loop := filepath.Join(home, ".config/mpiwrap/profiles.d")
	if err := os.MkdirAll(filepath.Dir(loop), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("profiles.d", loop); err != nil {
		t.Fatal(err)
	}
	h, _ := injectHost(t, "HOME="+home)
	p, err := New(stack.spec(testImage(t), "true"), h)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p.Describe(&out, "")
	if want := "warning: skipped the user profile directory " + loop + ": too many levels of symbolic links\n"; !strings.Contains(out.String(), want) {
		t.Errorf("Describe lacks %q:\n%s", want, out.String())
	}
}
