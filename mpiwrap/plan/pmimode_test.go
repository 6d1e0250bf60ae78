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
	ambiguous := MPIClient{Family: "unknown", Ambiguous: true, Why: "app names no MPI library, and the image holds both"}
	unknown := MPIClient{Family: "unknown", Why: "app loads no MPI library"}
	tests := []struct {
		name, pmi string
		env       []string
		c         MPIClient
		want      string // mode, "mode: <why>", or "error: <text>"
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
		{"pmix ambiguous", "auto", pmixEnv, ambiguous,
			"passthrough: the launcher offers PMIx; app names no MPI library, and the image holds both: passthrough, which Open MPI needs (pass --pmi=proxy if the command runs MPICH)"},
		{"pmi ambiguous", "auto", pmiEnv, ambiguous,
			"passthrough: the launcher offers pmi; the container's MPI is unknown (app names no MPI library, and the image holds both)"},
		{"no launcher, ambiguous", "auto", nil, ambiguous, "passthrough: the launcher offers no PMI: nothing to translate"},
		{"pmix unknown, why", "auto", pmixEnv, unknown,
			"passthrough: the launcher offers PMIx; the container's MPI is unknown (app loads no MPI library)"},
		{"pmi unknown", "auto", pmiEnv, unknown,
			"passthrough: the launcher offers pmi; the container's MPI is unknown (app loads no MPI library)"},
		{"pmi mpich, why", "", pmiEnv, mpich, "passthrough: the launcher offers pmi, which the container's mpich speaks"},
		{"pmix mpich, why", "auto", pmixEnv, mpich,
			"proxy: the launcher offers PMIx and the container's MPICH (libmpich.so.12) has no PMIx client"},
		{"pmi openmpi, why", "auto", pmiEnv, ompi, "error: the image's Open MPI (libmpi.so.40) speaks only PMIx"},
		{"forced off, why", "off", pmiEnv, ompi, "off: --pmi=off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode, why, err := DecidePMI(&Spec{PMI: PMIMode(tt.pmi)}, tt.env, tt.c)
			wantMode, wantWhy, _ := strings.Cut(tt.want, ": ")
			if wantMode == "error" {
				if err == nil || !strings.Contains(err.Error(), wantWhy) {
					t.Fatalf("got %q, %v; want an error with %q", mode, err, wantWhy)
				}
				return
			}
			if err != nil || mode.String() != wantMode || why == "" || !strings.Contains(why, wantWhy) {
				t.Fatalf("got %q (%s), %v; want %q", mode, why, err, tt.want)
			}
		})
	}
}
