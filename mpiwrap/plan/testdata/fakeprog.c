/* A program that is only read, never run: its DT_NEEDED entries come from
 * the -l flags (with --no-as-needed), its RUNPATH from -Wl,-rpath. */
void _start(void) {
	for (;;)
		;
}
