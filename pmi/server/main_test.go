package server_test

import (
	"os"
	"testing"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
)

func TestMain(m *testing.M) { os.Exit(pmitest.RunMain(m, "pmi-server-test-")) }
