package abi

import (
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/mpiwrap/mpiwrap/hostlib/elfdeps"
)

// HostLib is an injected library: the name it is loaded by and its real
// file on the host.
type HostLib struct {
	Soname string `json:"soname"`
	Real   string `json:"real"`
}

// MPISpec is what to check for one profile with an ABI family.
type MPISpec struct {
	Profile string    `json:"profile"`
	Family  Family    `json:"family"`
	Policy  Policy    `json:"policy"`
	Host    []HostLib `json:"host"`
}

// MPIResult is the MPI version decision for one profile.
type MPIResult struct {
	Profile      string  `json:"profile"`
	Family       Family  `json:"family"`
	Policy       Policy  `json:"policy"`
	Verdict      Verdict `json:"verdict"`
	HostLibrary  string  `json:"host_library,omitempty"`
	HostVersion  string  `json:"host_version,omitempty"`
	ImageLibrary string  `json:"image_library,omitempty"`
	ImageVersion string  `json:"image_version,omitempty"`
	// ImageFamily is the family found in the image, if any.
	ImageFamily Family `json:"image_family,omitempty"`
	Message     string `json:"message"`
}

// imageMPI is an MPI library found in the image.
type imageMPI struct {
	soname string
	obj    *elfdeps.Object
	family Family
}

// CheckMPI compares the host MPI of spec with the MPI of the image that
// image resolves in. Versions come from the real file names on both
// sides. Majors must match; then the policy decides (see Policy).
func CheckMPI(spec MPISpec, image *elfdeps.Resolver) (MPIResult, error) {
	res := MPIResult{Profile: spec.Profile, Family: spec.Family, Policy: spec.Policy}
	if len(spec.Host) == 0 {
		res.Verdict = Refuse
		res.Message = fmt.Sprintf("hostlib: profile %s declares ABI %s but injects none of %v; check that the host has its MPI", spec.Profile, spec.Family, spec.Family.Sonames())
		return res, nil
	}
	found, err := findImageMPI(image, spec.Family)
	if err != nil {
		return res, err
	}
	host := spec.Host[0]
	var img *imageMPI
	for _, f := range found {
		if f.family != spec.Family {
			continue
		}
		if i := slices.IndexFunc(spec.Host, func(h HostLib) bool { return h.Soname == f.soname }); i >= 0 {
			host, img = spec.Host[i], &f
			break
		}
		if img == nil {
			img = &f
		}
	}
	res.HostLibrary = host.Real
	hv, err := ParseSoVersion(host.Real)
	if err != nil {
		res.Verdict, res.Message = Refuse, "hostlib: "+err.Error()
		return res, nil
	}
	res.HostVersion = hv.String()
	if img == nil {
		noImageMPI(&res, spec, found)
		return res, nil
	}
	res.ImageLibrary, res.ImageFamily = img.obj.Real, img.family
	iv, err := ParseSoVersion(img.obj.Real)
	if err != nil {
		res.Verdict, res.Message = Refuse, "hostlib: image MPI: "+err.Error()
		return res, nil
	}
	res.ImageVersion = iv.String()
	compareVersions(&res, spec, hv, iv)
	return res, nil
}

// findImageMPI looks up every known MPI soname in the image, the
// profile's family first.
func findImageMPI(image *elfdeps.Resolver, fam Family) ([]imageMPI, error) {
	families := []Family{fam}
	for _, f := range Families {
		if f != fam {
			families = append(families, f)
		}
	}
	var out []imageMPI
	for _, f := range families {
		for _, s := range f.Sonames() {
			o, err := image.Lookup(s, nil)
			if errors.Is(err, elfdeps.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("look up MPI in image: %w", err)
			}
			out = append(out, imageMPI{soname: s, obj: o, family: f})
		}
	}
	return out, nil
}

func noImageMPI(res *MPIResult, spec MPISpec, found []imageMPI) {
	if len(found) == 0 {
		res.Verdict = NoImageMPI
		res.Message = fmt.Sprintf("hostlib: the image has no MPI library (%v); host %s %s is injected and only programs linked against it use it",
			append(FamilyMPICH.Sonames(), FamilyOpenMPI.Sonames()...), path.Base(res.HostLibrary), res.HostVersion)
		return
	}
	other := found[0]
	res.ImageLibrary, res.ImageFamily = other.obj.Real, other.family
	res.Verdict = Refuse
	res.Message = fmt.Sprintf("hostlib: the image's MPI is %s (%s) but profile %s injects a %s-ABI library (%s); use profile %s or an image built with %s",
		other.family, other.obj.Real, spec.Profile, spec.Family, path.Base(res.HostLibrary), other.family, spec.Family)
}

func compareVersions(res *MPIResult, spec MPISpec, host, image SoVersion) {
	hostName, imgName := path.Base(res.HostLibrary), res.ImageLibrary
	switch {
	case host.Major != image.Major:
		res.Verdict = Refuse
		res.Message = fmt.Sprintf("hostlib: host %s has ABI major %d but the image's %s has %d; profile %s cannot serve this image",
			hostName, host.Major, imgName, image.Major, spec.Profile)
	case spec.Policy == PolicyStrict && host.Minor != image.Minor:
		res.Verdict = Refuse
		res.Message = fmt.Sprintf("hostlib: host %s is %s but the image's %s is %s and profile %s has abi_policy strict (minors must match)",
			hostName, host, imgName, image, spec.Profile)
	case spec.Policy != PolicyMajor && host.Minor < image.Minor:
		res.Verdict = Warn
		res.Message = fmt.Sprintf("hostlib: host %s (%s) is older than the image's %s (%s); functions added in between may be missing",
			hostName, host, imgName, image)
	default:
		res.Verdict = OK
		res.Message = fmt.Sprintf("hostlib: host %s (%s) serves the image's %s (%s) under policy %s", hostName, host, imgName, image, spec.Policy)
	}
}
