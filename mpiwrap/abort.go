package mpiwrap

import (
	"context"
	"os"
	"time"

	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/launchenv"
)

// AbortJob tells a PMI-1/2 launcher that this rank failed before its
// command started, so the launcher ends the job instead of leaving the
// other ranks waiting for it in MPI_Init (hydra waits for a rank that
// exits without a word). The caller has printed why. It does nothing
// without a live PMI_FD or PMI_PORT; a failure here changes nothing.
func AbortJob(code int) {
	env := os.Environ()
	if launchenv.Detect(env, launchenv.Real()).Offer != launchenv.OfferPMI {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := client.ConfigFromEnv(env)
	if err != nil {
		return
	}
	c, err := client.NewPMI1(ctx, cfg)
	if err != nil {
		return
	}
	defer c.Close()
	c.Abort(ctx, code, "")
}
