// Package mpiwrap is the per-rank runtime: it turns a Spec (what the user
// asked for) and the Host facts (who and where the rank is) into a Plan (the
// image, the ordered mounts, the environment, the command), and then applies
// it through the C half in package nsexec.
//
// All ranks of one job step on one node share one user+mount namespace. The
// first rank to arrive becomes the leader: it starts a small keeper process
// that builds the namespace once and hands its descriptors to every rank that
// connects to a Unix socket in a private rendezvous directory. The keeper
// ends when all local ranks have joined or when the launcher is gone; after
// that the ranks themselves keep the namespace alive, and it vanishes with
// the last of them, so nothing is left behind and no rank waits on a timer.
package mpiwrap
