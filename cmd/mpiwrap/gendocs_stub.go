//go:build !mpiwrap_docs

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newGenDocsCmd stands in for the documentation generator (gendocs.go),
// which only binaries built with -tags mpiwrap_docs carry.
func newGenDocsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "__gendocs",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("this mpiwrap has no documentation generator; make docs builds one (go build -tags mpiwrap_docs ./cmd/mpiwrap)")
		},
	}
}
