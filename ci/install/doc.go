// Package install tests make install and make uninstall: they install
// into a temporary DESTDIR, run what was installed, check every file
// against the manifest, and uninstall until nothing is left. It also
// checks that the first build on a machine without musl-gcc installs it
// and is already the musl one. The tests run make in the repository root
// and build into their own temporary directories, not bin/.
package install
