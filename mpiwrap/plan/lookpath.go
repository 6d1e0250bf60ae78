package plan

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

// LookPathInside finds a command as the exec will, from inside a container
// (root is "/"): a path, or a search of pathVar. "" when it isn't there.
func LookPathInside(cmd, pathVar, cwd string) string {
	if strings.Contains(cmd, "/") {
		if !filepath.IsAbs(cmd) {
			cmd = filepath.Join(cwd, cmd)
		}
		if st, err := elfdeps.Root("/").Stat(cmd); err == nil && st.Mode().IsRegular() {
			return cmd
		}
		return ""
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if c := filepath.Join(dir, cmd); filepath.IsAbs(c) {
			if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
				return c
			}
		}
	}
	return ""
}
