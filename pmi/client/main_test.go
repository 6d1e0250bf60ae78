package client_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/client"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// helperEnv selects a helper mode: the test binary re-executed under a
// real launcher (mpiexec, srun) acts as one rank.
const helperEnv = "MPIWRAP_PMI_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := helperRank(mode); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperRank connects with the client named by mode ("pmi1", "pmi2"),
// exchanges a key with every rank and checks the job attributes.
func helperRank(mode string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg, err := client.ConfigFromEnv(os.Environ())
	if err != nil {
		return err
	}
	var c upstream
	if mode == "pmi2" {
		c, err = client.NewPMI2(ctx, cfg)
	} else {
		c, err = client.NewPMI1(ctx, cfg)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	in := c.Info()
	if want, _ := strconv.Atoi(os.Getenv("MPIWRAP_PMI_TEST_SIZE")); in.Size != want {
		return fmt.Errorf("size %d, want %d", in.Size, want)
	}
	if err := putFenceGetAll(ctx, c, "hydra"); err != nil {
		return err
	}
	m, ok, err := c.JobAttr(ctx, pmi.AttrProcessMapping)
	if err != nil || !ok {
		return fmt.Errorf("get %s: found=%v err=%v", pmi.AttrProcessMapping, ok, err)
	}
	nodes, err := wire.ParseMapping(m, in.Size)
	if err != nil {
		return err
	}
	if _, ok, err := c.Get(ctx, pmi.AnyRank, "no-such-key"); ok || err != nil {
		return fmt.Errorf("get of a missing key: found=%v err=%v", ok, err)
	}
	if err := c.Finalize(ctx); err != nil {
		return err
	}
	fmt.Printf("ok rank=%d size=%d kvs=%s mapping=%s nodes=%v\n", in.Rank, in.Size, in.KVSName, m, nodes)
	return nil
}

// upstream is the client API the tests use.
type upstream interface {
	Info() pmi.Info
	Put(ctx context.Context, key, value string) error
	Fence(ctx context.Context) error
	Get(ctx context.Context, src int, key string) (string, bool, error)
	JobAttr(ctx context.Context, key string) (string, bool, error)
	Finalize(ctx context.Context) error
	Close() error
}

// putFenceGetAll puts one key, fences and reads every rank's key back.
func putFenceGetAll(ctx context.Context, c upstream, tag string) error {
	in := c.Info()
	val := func(r int) string { return fmt.Sprintf("%s-%d-of-%d", tag, r, in.Size) }
	if err := c.Put(ctx, fmt.Sprintf("k-%d", in.Rank), val(in.Rank)); err != nil {
		return err
	}
	if err := c.Fence(ctx); err != nil {
		return err
	}
	for r := 0; r < in.Size; r++ {
		v, ok, err := c.Get(ctx, r, fmt.Sprintf("k-%d", r))
		if err != nil || !ok || v != val(r) {
			return fmt.Errorf("rank %d: get k-%d = %q found=%v err=%v", in.Rank, r, v, ok, err)
		}
	}
	return nil
}
