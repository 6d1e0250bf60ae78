package plan

import (
	"strings"
	"testing"
)

func TestClassifyClosure(t *testing.T) {
	tests := []struct {
		names  []string
		family MPIFamily
		pmix   bool
	}{
		{[]string{"libmpich.so.12", "libucp.so.0", "libc.so.6"}, "mpich", false},
		{[]string{"libmpich.so.12", "libpmix.so.2"}, "mpich", true},
		{[]string{"libmpi.so.40", "libopen-pal.so.40"}, "openmpi", true},
		{[]string{"libmpi.so.12"}, "mpich", false},
		{[]string{"libc.so.6"}, "unknown", false},
	}
	for _, tt := range tests {
		c := ClassifyClosure(tt.names)
		if c.Family != tt.family || c.PMIx != tt.pmix {
			t.Errorf("%v: got %+v", tt.names, c)
		}
	}
}

func TestPMIMode(t *testing.T) {
	pmiEnv := []string{"PMI_FD=5", "PMI_RANK=0", "PMI_SIZE=4"}
	pmixEnv := []string{"PMIX_NAMESPACE=ns", "PMIX_RANK=0", "PMIX_SERVER_URI41=x"}
	mpich := MPIClient{Family: "mpich", Library: "libmpich.so.12"}
	ompi := MPIClient{Family: "openmpi", PMIx: true, Library: "libmpi.so.40"}
	tests := []struct {
		name, pmi string
		env       []string
		c         MPIClient
		want      string // mode, or "error: <text>"
	}{
		{"hydra mpich", "auto", pmiEnv, mpich, "passthrough"},
		{"pmix mpich", "auto", pmixEnv, mpich, "proxy"},
		{"pmix mpich+pmix", "auto", pmixEnv, MPIClient{Family: "mpich", PMIx: true}, "passthrough"},
		{"pmix openmpi", "auto", pmixEnv, ompi, "passthrough"},
		{"pmi openmpi", "auto", pmiEnv, ompi, "error: speaks only PMIx"},
		{"pmix unknown", "auto", pmixEnv, MPIClient{Family: "unknown"}, "passthrough"},
		{"no launcher", "auto", nil, mpich, "passthrough"},
		{"forced proxy", "proxy", pmiEnv, mpich, "proxy"},
		{"forced proxy, nothing to proxy", "proxy", nil, mpich, "error: offers no PMI"},
		{"off", "off", pmixEnv, mpich, "off"},
		{"passthrough", "passthrough", pmixEnv, mpich, "passthrough"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode, why, err := DecidePMI(&Spec{PMI: PMIMode(tt.pmi)}, tt.env, tt.c)
			if msg, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), msg) {
					t.Fatalf("got %q, %v; want an error with %q", mode, err, msg)
				}
				return
			}
			if err != nil || mode.String() != tt.want || why == "" {
				t.Fatalf("got %q (%s), %v; want %q", mode, why, err, tt.want)
			}
		})
	}
}
