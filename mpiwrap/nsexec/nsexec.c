/* Constructor and stage dispatch. Runs before the Go runtime starts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsexec.h"
#include "nsexec_int.h"

extern char **environ;

const char *nsexec_stage;
char nsexec_sigstate[64];
char nsexec_log_rank[32]; /* empty for "-": in .bss, as a written .data page costs a fault */
int nsexec_verbose;

void nsx_logf(const char *level, const char *fmt, ...)
{
	va_list ap;
	char msg[4096];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "mpiwrap[rank %s pid %d]: %s%s\n", nsexec_log_rank[0] ? nsexec_log_rank : "-",
		(int)getpid(), level, msg);
}

void nsx_die(int code, const char *fmt, ...)
{
	va_list ap;
	char msg[4096];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	nsx_logf("error: ", "%s", msg);
	_exit(code);
}

/* nsx_join enters the node's user and mount namespaces. Entering a user
 * namespace changes the credentials, which clears the parent-death signal
 * (a proxied rank's tie to its proxy): set it again, and die as it would
 * have if the parent went meanwhile. */
void nsx_join(int userfd, int mntfd)
{
	int sig = 0;
	pid_t parent = getppid();

	prctl(PR_GET_PDEATHSIG, &sig);
	if (setns(userfd, CLONE_NEWUSER) < 0)
		nsx_die(EXIT_MPIWRAP, "can't join the node's user namespace: %s", strerror(errno));
	if (setns(mntfd, CLONE_NEWNS) < 0)
		nsx_die(EXIT_MPIWRAP, "can't join the node's mount namespace: %s", strerror(errno));
	if (sig != 0 && (prctl(PR_SET_PDEATHSIG, sig) < 0 || getppid() != parent))
		_exit(128 + sig);
}

/* nsx_join through the pidfd of a process in the namespaces, both at once;
 * -1 (and nothing joined) when they can't be. */
int nsx_join_pidfd(int pidfd)
{
	int sig = 0;
	pid_t parent = 0;

	prctl(PR_GET_PDEATHSIG, &sig);
	if (sig != 0) /* a system call less for the usual rank, which has none */
		parent = getppid();
	if (setns(pidfd, CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return -1;
	if (sig != 0 && (prctl(PR_SET_PDEATHSIG, sig) < 0 || getppid() != parent))
		_exit(128 + sig);
	return 0;
}

/* Record signal dispositions and the mask as the launcher gave them, before
 * the Go runtime installs its handlers, so the command gets them back. */
static void record_signals(void)
{
	uint64_t ign = 0, blk = 0;
	sigset_t set;

	for (int sig = 1; sig < 64; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			ign |= 1ULL << (sig - 1);
	}
	if (sigprocmask(SIG_BLOCK, NULL, &set) == 0)
		for (int sig = 1; sig < 64; sig++)
			if (sigismember(&set, sig) == 1)
				blk |= 1ULL << (sig - 1);
	snprintf(nsexec_sigstate, sizeof nsexec_sigstate, "%llx:%llx",
		 (unsigned long long)ign, (unsigned long long)blk);
}

void nsx_restore_signals(void)
{
	const char *s = nsexec_sigstate[0] ? nsexec_sigstate : getenv("_MPIWRAP_SIG");
	unsigned long long ign = 0, blk = 0;
	sigset_t set;

	if (s == NULL || sscanf(s, "%llx:%llx", &ign, &blk) != 2)
		return;
	sigemptyset(&set);
	for (int sig = 1; sig < 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		signal(sig, (ign >> (sig - 1)) & 1 ? SIG_IGN : SIG_DFL);
		if ((blk >> (sig - 1)) & 1)
			sigaddset(&set, sig);
	}
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/* Read the whole plan from an inherited descriptor and close it. */
static unsigned char *read_plan(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap);

	if (buf == NULL)
		nsx_die(EXIT_MPIWRAP, "can't allocate plan buffer");
	for (;;) {
		ssize_t r = pread(fd, buf + n, cap - n, (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			nsx_die(EXIT_MPIWRAP, "can't read plan: %s", strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				nsx_die(EXIT_MPIWRAP, "can't grow plan buffer");
		}
	}
	close(fd);
	*len = n;
	return buf;
}

static int env_fd(const char *name)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL)
		return -1;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0 || v > 1 << 20)
		nsx_die(EXIT_MPIWRAP, "bad %s=%s", name, s);
	return (int)v;
}

/* Apply a plan handed over by the Go half. A plan without an exec step ends
 * the process with status 0, unless it asks to return to the Go runtime. */
static void run_plan_stage(void)
{
	int fd = env_fd("_MPIWRAP_PLAN"), hold = env_fd("_MPIWRAP_HOLD");
	size_t len;
	unsigned char *buf;

	if (fd < 0)
		nsx_die(EXIT_MPIWRAP, "stage %s without _MPIWRAP_PLAN", nsexec_stage);
	/* A hold on the ld.so cache entry this plan binds (mpiwrap/nodecache):
	 * kept while the container is set up, not by the command. */
	if (hold >= 3)
		fcntl(hold, F_SETFD, FD_CLOEXEC);
	buf = read_plan(fd, &len);
	if (nsexec_apply(buf, len) == NSX_RETURN)
		return;
	_exit(0);
}

/* Detach from the parent so the child outlives the rank without becoming a
 * zombie of the command that replaces the rank. */
static void detach(void)
{
	pid_t pid = fork();

	if (pid < 0)
		nsx_die(EXIT_MPIWRAP, "can't fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	setsid();
}

/* Helper stages get only the descriptors meant for them: an inherited PMI
 * socket or launcher pipe held by a helper would keep the launcher waiting. */
static void close_from(const char *s)
{
	long first;

	if (s == NULL || (first = strtol(s, NULL, 10)) < 3)
		return;
	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0)
		return;
	for (int fd = (int)first; fd < 65536; fd++)
		close(fd);
}

/* Our own argv, from the initial stack: musl, unlike glibc, passes
 * constructors no arguments, but both point environ at the envp the kernel
 * laid out (System V ABI: argc, argv..., NULL, envp...) before any
 * constructor runs, and nothing has called setenv yet. So argv ends just
 * below environ, and argc is the first word below it that counts the
 * pointers above it. The stack's strings lie above both arrays, up to
 * AT_EXECFN; anything else reads /proc/self/cmdline (5 system calls more
 * for every rank). */
static char **stack_args(int *argc)
{
	char **envp = environ, *top = (char *)getauxval(AT_EXECFN);

	if (envp == NULL || top == NULL || (char *)envp >= top || envp[-1] != NULL)
		return NULL;
	for (long n = 1; n < 4096 && (char *)(envp - 2 - n) > top - (8L << 20); n++) {
		char *arg = envp[-1 - n];

		if ((long)envp[-2 - n] == n) {
			*argc = (int)n;
			return envp - 1 - n;
		}
		if (arg <= (char *)envp || arg > top)
			return NULL;
	}
	return NULL;
}

static char **own_args(int *argc)
{
	size_t cap = 4096, n = 0;
	char *buf, **argv = stack_args(argc);
	int fd;
	ssize_t r;

	if (argv != NULL)
		return argv;
	buf = malloc(cap);
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (buf == NULL || fd < 0)
		nsx_die(EXIT_MPIWRAP, "can't read /proc/self/cmdline: %s", strerror(errno));
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap && (buf = realloc(buf, cap *= 2)) == NULL)
			nsx_die(EXIT_MPIWRAP, "can't read /proc/self/cmdline");
	}
	close(fd);
	*argc = 0;
	for (size_t i = 0; i < n; i++)
		*argc += buf[i] == '\0';
	argv = calloc((size_t)*argc + 1, sizeof *argv);
	if (argv == NULL)
		nsx_die(EXIT_MPIWRAP, "can't allocate argv");
	for (size_t i = 0, k = 0; i < n; i += strlen(buf + i) + 1)
		argv[k++] = buf + i;
	return argv;
}

__attribute__((constructor)) static void nsexec_init(void)
{
	int argc = 0;
	char **argv = NULL;

	nsexec_stage = getenv("_MPIWRAP_STAGE");
	if (nsexec_stage == NULL || strcmp(nsexec_stage, "fuse") == 0)
		argv = own_args(&argc);
	if (nsexec_stage == NULL) {
		/* The fast path execs before anything touched signals. */
		nsx_fastpath(argc, argv);
		record_signals();
		return;
	}
	close_from(getenv("_MPIWRAP_CLOSE_FROM"));
	if (getenv("_MPIWRAP_RANK") != NULL)
		snprintf(nsexec_log_rank, sizeof nsexec_log_rank, "%s",
			 getenv("_MPIWRAP_RANK"));
	if (strcmp(nsexec_stage, "apply") == 0)
		run_plan_stage();
	else if (strcmp(nsexec_stage, "fuse") == 0)
		nsx_fuse_helper(argc, argv);
	else if (strcmp(nsexec_stage, "keeper") == 0)
		detach(); /* then the Go runtime runs the keeper */
	else if (strcmp(nsexec_stage, "go") != 0)
		nsx_die(EXIT_MPIWRAP, "unknown stage %s", nsexec_stage);
}
