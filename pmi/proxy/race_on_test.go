//go:build race

package proxy_test

// raceOn: the race detector inflates memory, so RSS limits do not apply.
const raceOn = true
