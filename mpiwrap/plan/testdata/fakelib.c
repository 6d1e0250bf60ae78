/* A library that only has to exist as an ELF object with a soname and
 * DT_NEEDED entries: the tests read it, nothing loads it. Built with
 * -nostdlib, so it needs nothing from libc either. */
int fake_lib_function(void) { return 0; }
