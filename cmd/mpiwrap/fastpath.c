/* Marks this binary as the mpiwrap command, which may take the C fast path
 * in mpiwrap/nsexec (test binaries that link that package never do). */
int mpiwrap_fastpath_enabled = 1;
