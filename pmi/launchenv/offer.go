package launchenv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Offer is the kind of PMI a launcher offers.
type Offer string

// Offers.
const (
	OfferNone Offer = "none" // no launcher PMI: a singleton
	OfferPMI  Offer = "pmi"  // PMI-1/PMI-2 over PMI_FD, or PMI_PORT with PMI_ID
	OfferPMIx Offer = "pmix" // a PMIx server (PMIX_NAMESPACE and PMIX_SERVER_URI*)
)

func (o Offer) String() string { return string(o) }

// PMIVars are the variables an offer is decided from.
type PMIVars struct {
	FD       int      // PMI_FD, -1 unless it is a number >= 0
	FDLive   bool     // PMI_FD is an offer: an open socket here, or set when Trusted
	Trusted  bool     // FDLive was not probed (Probes.FDIsSocket nil)
	Port     string   // PMI_PORT when PMI_ID is there too, else ""
	ID       string   // PMI_ID
	Rank     int      // PMI_RANK, -1 if unset or not a number
	Size     int      // PMI_SIZE, -1 if unset or not a number
	PMIxNS   string   // PMIX_NAMESPACE
	PMIxURIs []string // names of the PMIX_SERVER_URI* variables, sorted
}

// offers is the offer table, first match wins. A live PMI fd or port wins
// over PMIx: PMI variables are set by the nearest launcher (hydra under
// srun --mpi=pmix still hands each rank PMI_FD).
var offers = []struct {
	offer Offer
	match func(PMIVars) (why string, ok bool)
}{
	{OfferPMI, func(v PMIVars) (string, bool) {
		if v.Trusted {
			return "PMI_FD is set (trusted: not checked in this process)", v.FDLive
		}
		return fmt.Sprintf("PMI_FD=%d is an open socket", v.FD), v.FDLive && v.FD >= 0
	}},
	{OfferPMI, func(v PMIVars) (string, bool) {
		return fmt.Sprintf("PMI_PORT=%s and PMI_ID=%s are set", v.Port, v.ID), v.Port != ""
	}},
	{OfferPMIx, func(v PMIVars) (string, bool) {
		if v.PMIxNS == "" || len(v.PMIxURIs) == 0 {
			return "", false
		}
		return fmt.Sprintf("PMIX_NAMESPACE=%s and %s are set", v.PMIxNS, v.PMIxURIs[0]), true
	}},
	{OfferNone, func(v PMIVars) (string, bool) {
		return fmt.Sprintf("PMI_FD=%d is not an open socket here (left over from an outer launcher?)", v.FD), v.FD >= 0
	}},
}

// Offer decides what v offers and says why.
func (v PMIVars) Offer() (Offer, string) {
	for _, o := range offers {
		if why, ok := o.match(v); ok {
			return o.offer, why
		}
	}
	return OfferNone, "no PMI_FD, PMI_PORT+PMI_ID or PMIx server variables: a singleton"
}

// readPMI reads the PMI variables, probing PMI_FD unless p trusts it.
func readPMI(v vars, p Probes) PMIVars {
	pv := PMIVars{FD: -1, ID: v.get("PMI_ID"), Rank: v.num("PMI_RANK"), Size: v.num("PMI_SIZE"),
		PMIxNS: v.get("PMIX_NAMESPACE"), Trusted: p.FDIsSocket == nil}
	if fd, err := strconv.Atoi(v.get("PMI_FD")); err == nil && fd >= 0 {
		pv.FD = fd
	}
	// With PMI_PORT, a probed process asks only that PMI_ID is there (the
	// PMI client then rejects an empty one by name); a trusting one, as
	// mpiwrap's keeper always has, that it is not empty.
	_, withID := v["PMI_ID"]
	if pv.Trusted {
		pv.FDLive, withID = v.get("PMI_FD") != "", pv.ID != ""
	} else {
		pv.FDLive = pv.FD >= 0 && p.FDIsSocket(pv.FD)
	}
	if withID {
		pv.Port = v.get("PMI_PORT")
	}
	for k := range v {
		if strings.HasPrefix(k, "PMIX_SERVER_URI") {
			pv.PMIxURIs = append(pv.PMIxURIs, k)
		}
	}
	slices.Sort(pv.PMIxURIs)
	return pv
}
