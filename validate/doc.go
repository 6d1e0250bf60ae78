// Package validate holds what both front ends of `mpiwrap validate` share:
// the options, their flags and checks, and the catalogue of benchmarks.
//
// mpiwrap validate compares MPI micro-benchmarks run natively and in a
// container under the same launcher, interleaved, and gives PASS/FAIL per
// message size against a tolerance. The work is split so that mpiwrap,
// whose start-up every rank pays, links only this package (flags and
// plain data, no package initialisation) and verdict:
//
//	validate          options, flags, benchmark catalogue (mpiwrap links this)
//	validate/verdict  medians, ratios, tolerances, verdicts, exit codes
//	validate/osu      the parser of OSU-layout output (ours and OMB 5.x/7.x)
//	validate/run      host and image benchmark binaries, the launcher runs,
//	                  A B A B interleaving, placement and version probes
//	validate/report   the report: its JSON, the terminal table
//	validate/plot     the PNG/SVG figure (gonum.org/v1/plot)
//	validate/progress the progress bar (github.com/vbauerster/mpb/v8) or
//	                  plain lines for a batch log
//
// `mpiwrap validate` parses the flags into Options and execs
// mpiwrap-validate (cmd/mpiwrap-validate, installed next to mpiwrap) with
// them as JSON; mpiwrap-validate runs everything. See README, Validate.
package validate
