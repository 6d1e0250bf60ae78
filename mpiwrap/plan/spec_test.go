package plan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseBind(t *testing.T) {
	tests := []struct {
		in      string
		want    BindSpec
		wantErr string
	}{
		{in: "/data", want: BindSpec{Src: "/data", Dst: "/data"}},
		{in: "/data:/mnt/d", want: BindSpec{Src: "/data", Dst: "/mnt/d"}},
		{in: "/data:/mnt/d:ro", want: BindSpec{Src: "/data", Dst: "/mnt/d", ReadOnly: true}},
		{in: "/data::ro", want: BindSpec{Src: "/data", Dst: "/data", ReadOnly: true}},
		{in: "rel/dir:/x", want: BindSpec{Src: "/work/rel/dir", Dst: "/x"}},
		{in: "/a/../b:/c/./d/", want: BindSpec{Src: "/b", Dst: "/c/d"}},
		{in: "/data:/x:rw", wantErr: `the only option is "ro"`},
		{in: "/data:rel", wantErr: "must be absolute"},
		{in: "/data:/", wantErr: "over the image root"},
		{in: "/data:/proc/self/..", wantErr: "would cover the container's /proc"},
		{in: "/data:/proc/sys", wantErr: "would cover the container's /proc"},
		{in: "/data:/sys", wantErr: "would cover the container's /sys"},
		{in: "/data:/dev/", wantErr: "would cover the container's /dev"},
		{in: "/data:/dev/shm2", want: BindSpec{Src: "/data", Dst: "/dev/shm2"}},
		{in: ":/x", wantErr: "want SRC[:DST[:ro]]"},
		{in: "/a:/b:ro:x", wantErr: "want SRC[:DST[:ro]]"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBind(tt.in, "/work")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseBind(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseBind(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestBuildEnvOrder(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	os.WriteFile(envFile, []byte("# comment\n\nFROMFILE='quoted value'\nB=file\n"), 0o644)
	host := []string{"PATH=/bin", "LD_LIBRARY_PATH=/host/lib", "LD_PRELOAD=x.so", "PMI_FD=5",
		"SLURM_JOB_ID=7", "OMPI_X=1", "_MPIWRAP_STAGE=apply", "B=host", "DROP_A=1", "DROP_B=2"}
	spec := &Spec{EnvEdits: []EnvEdit{
		{Op: "set", Name: "B", Value: "flag"},
		{Op: "file", Name: envFile},
		{Op: "unset", Name: "DROP_*"},
		{Op: "set", Name: "NEW", Value: "a=b"},
	}}
	e, err := RankEnv(host, spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/bin", "PMI_FD=5", "SLURM_JOB_ID=7", "OMPI_X=1", "B=file",
		"FROMFILE=quoted value", "NEW=a=b"}
	if !slices.Equal(e.Vars, want) {
		t.Fatalf("env = %q\nwant  %q", e.Vars, want)
	}
	keep, _ := RankEnv(host, &Spec{KeepLDEnv: true}, nil, nil)
	if v, _ := keep.Get("LD_LIBRARY_PATH"); v != "/host/lib" {
		t.Fatalf("--keep-ld-env lost LD_LIBRARY_PATH: %q", keep.Vars)
	}
}

func TestReadEnvFileErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.env")
	os.WriteFile(f, []byte("A=1\nthis line is wrong\n"), 0o644)
	_, err := ReadEnvFile(f)
	if err == nil || !strings.Contains(err.Error(), f+":2:") {
		t.Fatalf("error = %v, want file:line", err)
	}
	if _, err := ReadEnvFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing env file: no error")
	}
	os.WriteFile(f, []byte("A=1\nTOKEN=ab\x00cd\n"), 0o644)
	if _, err := ReadEnvFile(f); err == nil || !strings.Contains(err.Error(), f+":2: the value of TOKEN holds a NUL byte") {
		t.Fatalf("NUL in a value: %v, want an error naming file:line", err)
	}
}

func TestParseSetEnv(t *testing.T) {
	for _, bad := range []string{"NOVALUE", "=x", "A B=c"} {
		if _, err := ParseSetEnv(bad); err == nil {
			t.Errorf("ParseSetEnv(%q): no error", bad)
		}
	}
	if e, err := ParseSetEnv("A=b=c"); err != nil || e.Value != "b=c" {
		t.Errorf("ParseSetEnv(A=b=c) = %+v, %v", e, err)
	}
}

func TestParsePMIMode(t *testing.T) {
	for _, s := range []string{"auto", "passthrough", "proxy", "off"} {
		if m, err := ParsePMIMode(s); err != nil || m.String() != s {
			t.Errorf("ParsePMIMode(%q) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "Auto", "pmix", "on"} {
		if m, err := ParsePMIMode(s); err == nil || m != "" || !strings.Contains(err.Error(), "want auto, passthrough, proxy or off") {
			t.Errorf("ParsePMIMode(%q) = %q, %v: want an error", s, m, err)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		spec Spec
		want string // "" for valid
	}{
		{Spec{}, ""},
		{Spec{PMI: PMIProxy, JoinSize: 4}, ""},
		{Spec{PMI: "pmi2"}, `bad --pmi "pmi2"`},
		{Spec{JoinSize: -1}, "bad --join-size: must be positive"},
		{Spec{Net: NetNone}, ""},
		{Spec{Net: "bridge"}, `bad --net "bridge": want host or none`},
		{Spec{ABIPolicy: "strict"}, ""},
		{Spec{ABIPolicy: "x"}, `bad --abi-policy: unknown ABI policy "x"`}, // even with no ABI profile selected
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.spec, err, tt.want)
		}
		if tt.want == "" {
			continue
		}
		// New validates before it looks at anything else.
		tt.spec.Image, tt.spec.Command = "/nonexistent", []string{"true"}
		if _, err := New(&tt.spec, testHost("/nonexistent", "/")); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.spec, err, tt.want)
		}
	}
}
