package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

func TestLauncher(t *testing.T) {
	tests := []struct {
		name string
		port bool
		ver  func(r int) int
	}{
		{"pmi1 fd", false, func(int) int { return 1 }},
		{"pmi2 fd", false, func(int) int { return 2 }},
		{"mixed fd", false, func(r int) int { return 1 + r%2 }},
		{"pmi1 port", true, func(int) int { return 1 }},
		{"pmi2 port", true, func(int) int { return 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			const n = 8
			l := pmitest.Launch(ctx, t, server.JobConfig{Size: n, PPN: 4, AppNum: 3}, tt.port)
			session := pmitest.Session{Mapping: "(vector,(0,2,4))", Universe: "8", Rounds: 3}
			err := pmitest.RunRanks(n, func(r int) error {
				c := pmitest.Dial(ctx, t, l, r, tt.ver(r))
				defer c.Close()
				if in := c.Info(); in.Rank != r || in.Size != n || in.AppNum != 3 || in.KVSName != "kvs_fake_0" {
					return fmt.Errorf("rank %d info %+v", r, in)
				}
				if err := session.Run(ctx, c); err != nil {
					return fmt.Errorf("rank %d: %w", r, err)
				}
				return c.Finalize(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Wait(ctx); err != nil {
				t.Fatalf("Wait = %v", err)
			}
		})
	}
}
