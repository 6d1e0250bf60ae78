/* Per-rank fast path: a rank whose node already has a namespace keeper joins
 * it here, before the Go runtime starts, so the common rank costs one exec of
 * this binary plus a socket round trip, or no round trip once the keeper has
 * published the rank's request shape (direct.c). Anything unusual falls
 * through to Go. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include "nsexec.h"
#include "nsexec_int.h"

extern char **environ;

/* Defined (as 1) only by the mpiwrap command, so test binaries that link this
 * package never take the fast path. */
extern int mpiwrap_fastpath_enabled __attribute__((weak));


static int flag_present(int argc, char **argv)
{
	static const char *const flags[] = {"--no-join", "--join-key", "--join-size",
					    "--verbose", NULL};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			return 1;
		for (int k = 0; flags[k] != NULL; k++)
			if (strncmp(argv[i], flags[k], strlen(flags[k])) == 0)
				return 1;
	}
	return 0;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The socket the fast path asked for the namespace cookie, kept for its
 * first connect to the keeper (a socket and a close less in every rank),
 * plus one: zero-initialised, it lies in .bss, where a .data variable
 * would cost every rank a copy-on-write fault of its page. */
static int spare_sock1;

/* The network namespace by its cookie, as pmi/launchenv's netNS names it:
 * one getsockopt, where the link /proc/self/ns/net costs some 20 µs of
 * /proc lookups in every rank. Before Linux 5.14, that link. With keep,
 * the socket stays in spare_sock. */
static void net_ns(char *out, size_t len, int keep)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t cookie;
	socklen_t cl = sizeof cookie;
	ssize_t n;

	if (s >= 0) {
		int r = getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &cl);
		struct nsx_sb b;

		if (keep && spare_sock1 == 0)
			spare_sock1 = s + 1;
		else
			close(s);
		nsx_sb_init(&b, out, len);
		nsx_sb_str(&b, "netns:");
		nsx_sb_num(&b, cookie);
		if (r == 0 && cl == sizeof cookie && nsx_sb_done(&b) == 0)
			return;
	}
	n = readlink("/proc/self/ns/net", out, len - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* pmi/launchenv's Step and Node (Detect), by hand: its step rules in the
 * order of its launcher table, innermost launcher first. As there, a
 * variable set but empty is unset, and PMI_FD is asked for its peer only
 * when it is a whole number (strconv.Atoi: an optional sign, digits and
 * nothing else). mpiwrap/nsexec/joinkey_test.go checks every rule. */
static int join_key(char *key, size_t len, int keep)
{
	const char *job = getenv("SLURM_JOB_ID"), *step = getenv("SLURM_STEP_ID");
	const char *ns = getenv("PMIX_NAMESPACE"), *port = getenv("PMI_PORT");
	const char *fdstr = getenv("PMI_FD"), *hydra = getenv("MPI_LOCALNRANKS");
	const char *ompi = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
	const char **vars[] = {&job, &step, &ns, &port, &fdstr, &hydra, &ompi};
	char net[64], host[256] = "";
	struct nsx_sb b;

	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		if (*vars[i] != NULL && **vars[i] == '\0')
			*vars[i] = NULL;
	nsx_sb_init(&b, key, len);
	if (hydra != NULL && fdstr != NULL) {
		struct ucred cred;
		socklen_t cl = sizeof cred;
		long fd;

		/* (int)fd as the kernel takes Go's: the low 32 bits. */
		if (nsx_whole(fdstr, &fd) == 0 &&
		    getsockopt((int)fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
			nsx_sb_str(&b, "hydra:");
			nsx_sb_int(&b, cred.pid);
		} else {
			nsx_sb_str(&b, "hydra:ppid:");
			nsx_sb_int(&b, getppid());
		}
	} else if (hydra != NULL && port != NULL) {
		nsx_sb_str(&b, "hydra:");
		nsx_sb_str(&b, port);
	} else if (ompi != NULL && ns != NULL) {
		nsx_sb_str(&b, "ompi:");
		nsx_sb_str(&b, ns);
	} else if (ompi != NULL) {
		nsx_sb_str(&b, "ompi:");
		nsx_sb_int(&b, getppid());
	} else if (job != NULL && step != NULL) {
		nsx_sb_str(&b, "slurm:");
		nsx_sb_str(&b, job);
		nsx_sb_str(&b, ".");
		nsx_sb_str(&b, step);
	} else if (ns != NULL) {
		nsx_sb_str(&b, "pmix:");
		nsx_sb_str(&b, ns);
	} else
		return -1;
	net_ns(net, sizeof net, keep);
	gethostname(host, sizeof host - 1);
	nsx_sb_str(&b, "|");
	nsx_sb_str(&b, net);
	nsx_sb_str(&b, "|");
	nsx_sb_str(&b, host);
	return nsx_sb_done(&b) == 0 ? 0 : -2; /* -2: too long for the C half */
}

int nsx_join_key(char *key, size_t len)
{
	return join_key(key, len, 0);
}

/* Must agree with mpiwrap's rendezvous.go; a test checks that it does:
 * where a new leader binds key's socket, in the first rendezvous directory
 * that is ours (userdir.c), made if there is none. */
int nsx_socket_path(const char *key, char *out, size_t len)
{
	return nsx_socket_path_at(NSX_RENDEZVOUS_PREFIX, key, out, len);
}

static int put_str(char **p, char *end, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);

	if ((size_t)(end - *p) < 4 + (size_t)n)
		return -1;
	memcpy(*p, &n, 4);
	memcpy(*p + 4, s, n);
	*p += 4 + n;
	return 0;
}

/* Every rank of a wide job pays for each page it touches here (a page fault
 * costs a few µs in a VM), so the request and then the reply go in one
 * static buffer that fits the usual ones, where malloc would map and touch
 * pages of its own; larger ones are allocated. Nothing is freed: the rank
 * execs. */
static unsigned char rank_buf[32 << 10] __attribute__((aligned(4096))); /* the request, then the reply over it */

/* Request: u32 length, then magic, nargv, nenv and the strings cwd, client
 * ("c"), argv..., env..., each as u32 length plus bytes. */
static char *build_request(int argc, char **argv, size_t *outlen)
{
	uint32_t nenv = 0, hdr[4];
	char cwd[4096], *buf, *p, *end;
	size_t cap;
	int ok;

	if (getcwd(cwd, sizeof cwd) == NULL)
		return NULL;
	cap = sizeof hdr + 4 + strlen(cwd) + 4 + 1;
	for (int i = 0; i < argc; i++)
		cap += 4 + strlen(argv[i]);
	for (char **e = environ; *e != NULL; e++)
		cap += 4 + strlen(*e);
	if ((buf = cap <= sizeof rank_buf ? (char *)rank_buf : malloc(cap)) == NULL)
		return NULL;
	p = buf + sizeof hdr;
	end = buf + cap;
	ok = put_str(&p, end, cwd) == 0 && put_str(&p, end, "c") == 0;
	for (int i = 0; ok && i < argc; i++)
		ok = put_str(&p, end, argv[i]) == 0;
	for (char **e = environ; ok && *e != NULL; e++, nenv++)
		ok = put_str(&p, end, *e) == 0;
	if (!ok)
		return NULL;
	hdr[0] = (uint32_t)(p - buf - 4);
	hdr[1] = NSX_REQ_MAGIC;
	hdr[2] = (uint32_t)argc;
	hdr[3] = nenv;
	memcpy(buf, hdr, sizeof hdr);
	*outlen = (size_t)(p - buf);
	return buf;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The descriptors a request carries: the launcher's PMI_FD (if any) and
 * stderr, or none when stderr is closed. */
static int request_fds(int fds[2])
{
	const char *pmi = getenv("PMI_FD");
	int n = 0;

	if (fcntl(2, F_GETFD) < 0)
		return 0;
	if (pmi != NULL && nsx_atoi(pmi) >= 3 && fcntl(nsx_atoi(pmi), F_GETFD) >= 0)
		fds[n++] = nsx_atoi(pmi);
	fds[n++] = 2;
	return n;
}

/* Send the request with request_fds attached, so the keeper can be this rank's PMI proxy (NSX_REP_PROXY_HOSTED)
 * and report its failures where the rank's own would go. One sendmsg, so
 * that the keeper finds the whole request at once. */
static int send_request(int sock, const char *req, size_t len, const int *fds, int n)
{
	ssize_t sent;

	if (n == 0)
		return write_all(sock, req, len);
	if ((sent = nsx_send_fds_with(sock, fds, n, req, len)) < 0)
		return -1;
	return write_all(sock, req + sent, len - (size_t)sent);
}

/* Read the reply: u32 length, u32 status, then a plan (or a message). The
 * keeper sends it in one sendmsg, so one recvmsg into a buffer that fits a
 * usual plan reads it all. */
static unsigned char *read_reply(int sock, int *fds, int *nfds, size_t *len)
{
	size_t cap = sizeof rank_buf, got = cap, want;
	unsigned char *buf = rank_buf; /* the request was sent from it: done with */

	if ((*nfds = nsx_recv_fds(sock, fds, 3, buf, &got)) < 0)
		return NULL;
	while (got < 8) {
		ssize_t r = read(sock, buf + got, 8 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		got += (size_t)r;
	}
	memcpy(len, buf, 4);
	want = *len + 4;
	if (*len < 4 || *len > NSX_MAX_MESSAGE || got > want)
		return NULL;
	if (want > cap) {
		if ((buf = malloc(want)) == NULL)
			return NULL;
		memcpy(buf, rank_buf, got);
	}
	while (got < want) {
		ssize_t r = read(sock, buf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	return buf + 4; /* status, then the plan */
fail:
	if (buf != rank_buf)
		free(buf);
	return NULL;
}


static int connect_keeper(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cred;
	socklen_t cl = sizeof cred;
	int s = spare_sock1 > 0 ? spare_sock1 - 1 : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	spare_sock1 = 0;
	if (strlen(path) >= sizeof sa.sun_path) {
		if (s >= 0)
			close(s);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    cred.uid != getuid()) {
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* The node's keeper for key, in whichever rendezvous directory of ours
 * holds its socket; path is where it was found. */
static int find_keeper(const struct nsx_dirs *d, const char *key, char *path, size_t len)
{
	for (int i = 0; i < d->n; i++) {
		int s;

		if (!nsx_private_dir(d->path[i]) || nsx_socket_in(d->path[i], key, path, len) < 0)
			continue;
		if ((s = connect_keeper(path)) >= 0)
			return s;
	}
	return -1;
}

static int move_high(int fd)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	close(fd);
	return high;
}

/* Start the node's keeper: this binary again, in stage "keeper", with our
 * own arguments, the listening socket as fd 3 and a pidfd of the launcher
 * (our parent) as fd 4. */
static int spawn_keeper(int argc, char **argv, int lfd, const char *path, ino_t ino)
{
	extern char **environ;
	char sock[160], inos[64], rank[64], sig[96];
	const char *r = getenv("PMI_RANK") ? getenv("PMI_RANK") : "-";
	int pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
	size_t n = 0;
	char **envp;
	pid_t pid;
	int status;

	snprintf(sock, sizeof sock, "_MPIWRAP_SOCK=%s", path);
	snprintf(inos, sizeof inos, "_MPIWRAP_SOCK_INO=%llu", (unsigned long long)ino);
	snprintf(rank, sizeof rank, "_MPIWRAP_RANK=%s", r);
	snprintf(sig, sizeof sig, "_MPIWRAP_SIG=%s", nsexec_sigstate);
	while (environ[n] != NULL)
		n++;
	envp = calloc(n + 8, sizeof *envp);
	if (envp == NULL)
		return -1;
	memcpy(envp, environ, n * sizeof *envp);
	envp[n++] = "_MPIWRAP_STAGE=keeper";
	envp[n++] = pidfd >= 0 ? "_MPIWRAP_CLOSE_FROM=5" : "_MPIWRAP_CLOSE_FROM=4";
	envp[n++] = sock;
	envp[n++] = inos;
	envp[n++] = rank;
	envp[n++] = sig;
	lfd = move_high(lfd);
	if (pidfd >= 0)
		pidfd = move_high(pidfd);
	pid = fork();
	if (pid == 0) {
		if (dup2(lfd, 3) < 0 || (pidfd >= 0 && dup2(pidfd, 4) < 0))
			_exit(EXIT_MPIWRAP);
		execve("/proc/self/exe", argv, envp);
		_exit(EXIT_MPIWRAP);
	}
	close(lfd);
	if (pidfd >= 0)
		close(pidfd);
	free(envp);
	(void)argc;
	/* The child detaches at once; its own child is the keeper. */
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			       WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Become the node's leader unless another rank beat us: holding the lock
 * of every rendezvous directory of ours (nsx_dirs_lock), a socket that
 * nobody answers is stale, and a new one goes in the first of them. */
static int elect(int argc, char **argv, const struct nsx_dirs *d, const char *key, char *path,
		 size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int locks[NSX_SERIES_LEN + 1], nlocks, first, s, l;

	if ((nlocks = nsx_dirs_lock(d, locks, &first)) < 0)
		return -1;
	s = find_keeper(d, key, path, len);
	if (s >= 0 || nsx_socket_in(d->path[first], key, path, len) < 0) {
		nsx_dirs_unlock(locks, nlocks);
		return s;
	}
	unlink(path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(l, SOMAXCONN) < 0 || stat(path, &st) < 0 ||
	    spawn_keeper(argc, argv, l, path, st.st_ino) < 0) {
		if (l >= 0)
			close(l);
		unlink(path);
		nsx_dirs_unlock(locks, nlocks);
		return -1;
	}
	nsx_dirs_unlock(locks, nlocks);
	return connect_keeper(path);
}

/* The launcher's rank, for messages printed before a plan names it: the
 * first rank variable of pmi/launchenv's launcher table that is set and not
 * empty, printed as Go prints Env.Rank in messages ("-" unless it is a
 * whole number >= 0). */
static void rank_from_env(void)
{
	static const char *const vars[] = {"PMI_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID",
					    "PMIX_RANK", NULL};

	for (int i = 0; vars[i] != NULL; i++) {
		const char *v = getenv(vars[i]);
		char *end;
		long r;

		if (v == NULL || *v == '\0')
			continue;
		errno = 0;
		r = strtol(v, &end, 10);
		if ((*v == '+' || *v == '-' || (*v >= '0' && *v <= '9')) && *end == '\0' &&
		    errno == 0 && r >= 0)
			snprintf(nsexec_log_rank, sizeof nsexec_log_rank, "%ld", r);
		return;
	}
}

int nsexec_proxy_fd = -1;
int nsexec_rank_pid = -1;
char nsexec_pmi_fd[16];

/* The lowest descriptor from 3 that is free here: the rank's PMI socket
 * takes it, so every descriptor the launcher passed keeps its number. */
static int free_fd(void)
{
	int fd = 3;

	while (fcntl(fd, F_GETFD) >= 0)
		fd++;
	return fd;
}

/* The keeper is this rank's PMI proxy: the rank gets the keeper's socket
 * as PMI_FD (the plan says "PMI_FD=@") and keeps none of the launcher's. */
static void take_hosted_pmi(int fd)
{
	const char *launcher_fd = getenv("PMI_FD");
	int n;

	if (launcher_fd != NULL && atoi(launcher_fd) >= 3)
		close(atoi(launcher_fd));
	n = free_fd();
	if (dup2(fd, n) < 0)
		nsx_die(EXIT_MPIWRAP, "can't pass the PMI socket: %s", strerror(errno));
	close(fd);
	snprintf(nsexec_pmi_fd, sizeof nsexec_pmi_fd, "%d", n);
}

/* Proxy mode: fork the rank now, so ranks start as early as they do
 * without a proxy, and let the parent become the proxy once the Go runtime
 * is up. The rank gets its socket as PMI_FD (the plan says "PMI_FD=@");
 * the launcher's PMI_FD stays with the proxy. Returns the child's pid in
 * the parent and 0 in the child. */
static pid_t fork_rank(int nsfds[2])
{
	const char *launcher_fd = getenv("PMI_FD");
	int sp[2], n;
	pid_t pid, parent;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		nsx_die(EXIT_MPIWRAP, "can't make the PMI socket: %s", strerror(errno));
	n = free_fd(); /* after the pair: it must not be one of its ends */
	parent = getpid();
	pid = fork();
	if (pid < 0)
		nsx_die(EXIT_MPIWRAP, "can't start the rank: %s", strerror(errno));
	if (pid == 0) {
		/* The rank must not outlive its proxy: killed, the proxy can't
		 * stop it. The parent may already be gone when this runs. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(EXIT_MPIWRAP);
		if (launcher_fd != NULL && atoi(launcher_fd) >= 3)
			close(atoi(launcher_fd));
		if (dup2(sp[1], n) < 0)
			nsx_die(EXIT_MPIWRAP, "can't pass the PMI socket: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		snprintf(nsexec_pmi_fd, sizeof nsexec_pmi_fd, "%d", n);
		return 0;
	}
	close(sp[1]);
	close(nsfds[0]);
	close(nsfds[1]);
	nsexec_proxy_fd = sp[0];
	nsexec_rank_pid = pid;
	return pid;
}

static void fastpath(int argc, char **argv)
{
	char key[1024], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct nsx_dirs dirs;
	unsigned char *rep;
	size_t reqlen, replen;
	int fds[3], nfds, s, passed[2], npassed;
	uint32_t status;
	char *req;

	if (&mpiwrap_fastpath_enabled == NULL || argc < 3)
		return;
	switch (join_key(key, sizeof key, 1)) {
	case -1:
		nsx_plan_cache(argc, argv); /* a rank of its own */
		return;
	case -2:
		return;
	}
	if (flag_present(argc, argv) || nsx_dirs_rendezvous(&dirs, NSX_RENDEZVOUS_PREFIX) < 0)
		return;
	npassed = request_fds(passed);
	nsx_direct_join(&dirs, key, argc, argv, npassed, rank_buf, sizeof rank_buf); /* returns only if it can't */
	if ((s = find_keeper(&dirs, key, path, sizeof path)) < 0 &&
	    (s = elect(argc, argv, &dirs, key, path, sizeof path)) < 0)
		return;
	req = build_request(argc, argv, &reqlen);
	rep = NULL;
	if (req != NULL && send_request(s, req, reqlen, passed, npassed) == 0)
		rep = read_reply(s, fds, &nfds, &replen);
	close(s);
	if (rep == NULL)
		return; /* the keeper ended meanwhile: Go elects a new one */
	memcpy(&status, rep, 4);
	if (status == NSX_REP_FALLTHROUGH)
		return;
	if (status == NSX_REP_ERROR) {
		rank_from_env();
		nsx_logf("error: ", "%.*s", (int)(replen - 4), (char *)rep + 4);
		nsx_pmi_abort(EXIT_MPIWRAP);
		_exit(EXIT_MPIWRAP);
	}
	if ((status == NSX_REP_PROXY_HOSTED) != (nfds == 3) ||
	    (status != NSX_REP_OK && status != NSX_REP_PROXY_FORK && status != NSX_REP_PROXY_HOSTED) || nfds < 2)
		nsx_die(EXIT_MPIWRAP, "bad reply from the namespace keeper at %s", path);
	if (status == NSX_REP_PROXY_FORK && fork_rank(fds) > 0)
		return; /* the Go runtime starts here, as the rank's PMI proxy */
	if (status == NSX_REP_PROXY_HOSTED)
		take_hosted_pmi(fds[2]);
	nsx_join(fds[0], fds[1]);
	close(fds[0]);
	close(fds[1]);
	nsexec_apply(rep + 4, replen - 4);
	nsx_die(EXIT_MPIWRAP, "the namespace keeper sent a plan without exec");
}

void nsx_fastpath(int argc, char **argv)
{
	fastpath(argc, argv);
	if (spare_sock1 > 0) { /* back to Go: no descriptor of ours left open */
		close(spare_sock1 - 1);
		spare_sock1 = 0;
	}
}

/* A squashfuse server that lives outside the container: detach, wait for the
 * FUSE descriptor from the rank that mounted it, then exec argv[1...] with
 * "@FUSEFD@" replaced by /dev/fd/N. EOF means the mount failed: just exit. */
void nsx_fuse_helper(int argc, char **argv)
{
	int sock = atoi(getenv("_MPIWRAP_FUSE_SOCK") ? getenv("_MPIWRAP_FUSE_SOCK") : "-1");
	char byte, dev[32];
	size_t n = 1;
	int fd;
	pid_t pid = fork();

	if (pid < 0)
		nsx_die(EXIT_MPIWRAP, "can't fork squashfuse helper: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	setsid();
	if (argc < 2 || nsx_recv_fds(sock, &fd, 1, &byte, &n) != 1)
		_exit(0);
	close(sock);
	if (fcntl(fd, F_SETFD, 0) < 0)
		_exit(EXIT_MPIWRAP);
	snprintf(dev, sizeof dev, "/dev/fd/%d", fd);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "@FUSEFD@") == 0)
			argv[i] = dev;
	unsetenv("_MPIWRAP_STAGE");
	unsetenv("_MPIWRAP_FUSE_SOCK");
	execvp(argv[1], argv + 1);
	nsx_die(EXIT_MPIWRAP, "can't run %s: %s", argv[1], strerror(errno));
}
