package netinject

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/BurntSushi/toml"
)

// SiteFile is where a site sets its fabric rule, in a [fabric] table:
//
//	[fabric]
//	use = "ib0,mlx5_*"   # IFACE[,RDMADEV[:PORT]], as --fabric takes it
//	hints = false        # set no fabric variables in any job (default true)
const SiteFile = "/etc/mpiwrap/mpiwrap.toml"

// Site is a site's fabric settings.
type Site struct {
	Rule      *Override // nil where the site sets none
	HintsOff  bool      // the site sets no fabric variables
	DefinedIn string    // the file it came from
}

// ReadSite reads the [fabric] table of path (normally SiteFile); a missing
// file or table is a site without settings. Other tables belong to other
// packages and are ignored here.
func ReadSite(path string) (Site, error) {
	var doc struct {
		Fabric struct {
			Use   string `toml:"use"`
			Hints *bool  `toml:"hints"`
		} `toml:"fabric"`
	}
	s := Site{DefinedIn: path}
	_, err := toml.DecodeFile(path, &doc)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return Site{}, fmt.Errorf("netinject: read %s: %w", path, err)
	}
	if doc.Fabric.Use != "" {
		ov, err := ParseFabric(doc.Fabric.Use, "the site rule in "+path)
		if err != nil {
			return Site{}, err
		}
		s.Rule = &ov
	}
	s.HintsOff = doc.Fabric.Hints != nil && !*doc.Fabric.Hints
	return s, nil
}
