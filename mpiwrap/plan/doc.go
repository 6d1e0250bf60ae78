// Package plan decides everything one rank will do, before anything is
// done: New turns a Spec (what the user asked for) and a Host (who and where
// the rank is, its launcher, and the node cache as it stands) into a Plan:
// the image, the ordered mounts, the host stacks that profiles inject, the
// generated /etc/passwd and /etc/group, the environment, the PMI mode and
// the command.
//
// Planning is pure: it reads the image, the host and the node cache, and
// writes no file, makes no directory and takes no lock. `mpiwrap check`
// prints plans (Describe); the runtime (package mpiwrap) applies them. A
// test keeps this package from importing anything that applies.
package plan
