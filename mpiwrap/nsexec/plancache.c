/* Replay of a cached single-rank plan (see mpiwrap/nodecache and the format
 * in nsexec.h): when every input the Go planner read still matches, apply
 * its plan directly. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nsexec.h"
#include "nsexec_int.h"

extern char **environ;

#define MAGIC NSX_PLAN_MAGIC

/* nsx_plan_env_key says whether a variable is a planning input: the
 * launcher's (which decide whether and how a rank shares its node), and
 * those the planner reads (HOME for binds and profiles, PATH to find the
 * command, XDG_* for profiles and the rendezvous). The rest reach the
 * command through the plan's environment program at each run, so a cached
 * plan neither depends on them nor stores them. */
int nsx_plan_env_key(const char *kv)
{
	static const char *const exact[] = {"HOME", "PATH", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", NULL};
	static const char *const prefix[] = {"PMI_", "PMIX_", "SLURM_", "OMPI_", "PRTE_",
					     "MPI_LOCAL", "FLUX_", NULL};
	size_t n = strcspn(kv, "=");

	for (int i = 0; exact[i] != NULL; i++)
		if (strlen(exact[i]) == n && strncmp(kv, exact[i], n) == 0)
			return 1;
	for (int i = 0; prefix[i] != NULL; i++)
		if (strncmp(kv, prefix[i], strlen(prefix[i])) == 0)
			return 1;
	return 0;
}

static void fnv(uint64_t *h, const char *s)
{
	for (; *s != '\0'; s++) {
		*h ^= (unsigned char)*s;
		*h *= 1099511628211ULL;
	}
	*h ^= 0;
	*h *= 1099511628211ULL;
}

/* Decimal (base 10) or octal (8) digits of v at p, at least min of them;
 * returns the end. */
static char *put_num(char *p, unsigned long long v, unsigned base, int min)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % base);
	while ((v /= base) != 0 || n < min);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static char *put_signed(char *p, long long v)
{
	if (v < 0) {
		*p++ = '-';
		return put_num(p, 0ULL - (unsigned long long)v, 10, 1);
	}
	return put_num(p, (unsigned long long)v, 10, 1);
}

/* internal/fileid's Of: "dev:ino:size:mtime.nsec:ctime.nsec:mode", the
 * nanoseconds in 9 digits and the mode in octal. Formatted by hand: a
 * replayed plan checks each of its inputs this way, and snprintf's
 * conversions were a tenth of a warm `mpiwrap IMG /bin/true`. */
void nsx_file_identity(const char *path, char *out, size_t len)
{
	struct stat st;
	char buf[160], *p = buf;

	if (stat(path, &st) < 0) {
		snprintf(out, len, "missing");
		return;
	}
	p = put_num(p, (unsigned long long)st.st_dev, 10, 1);
	*p++ = ':';
	p = put_num(p, (unsigned long long)st.st_ino, 10, 1);
	*p++ = ':';
	p = put_signed(p, (long long)st.st_size);
	*p++ = ':';
	p = put_signed(p, (long long)st.st_mtim.tv_sec);
	*p++ = '.';
	p = put_num(p, (unsigned long long)st.st_mtim.tv_nsec, 10, 9);
	*p++ = ':';
	p = put_signed(p, (long long)st.st_ctim.tv_sec);
	*p++ = '.';
	p = put_num(p, (unsigned long long)st.st_ctim.tv_nsec, 10, 9);
	*p++ = ':';
	p = put_num(p, (unsigned long long)st.st_mode, 8, 1);
	*p = '\0';
	if (len > 0) {
		size_t n = (size_t)(p - buf) < len ? (size_t)(p - buf) : len - 1;
		memcpy(out, buf, n);
		out[n] = '\0';
	}
}

static void file_type(const char *path, char *out, size_t len)
{
	struct stat st;

	snprintf(out, len, "type:%s", stat(path, &st) < 0 ? "missing" :
		 S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
}

struct reader {
	const unsigned char *p, *end;
};

/* next compares the next length-prefixed string with want. */
static int next_is(struct reader *r, const char *want)
{
	uint32_t n;
	size_t wl = strlen(want);

	if (r->end - r->p < 4)
		return 0;
	memcpy(&n, r->p, 4);
	if ((size_t)(r->end - r->p - 4) < n || n != wl || memcmp(r->p + 4, want, n) != 0)
		return 0;
	r->p += 4 + n;
	return 1;
}

static int next_str(struct reader *r, char *out, size_t len)
{
	uint32_t n;

	if (r->end - r->p < 4)
		return 0;
	memcpy(&n, r->p, 4);
	if ((size_t)(r->end - r->p - 4) < n || n >= len)
		return 0;
	memcpy(out, r->p + 4, n);
	out[n] = '\0';
	r->p += 4 + n;
	return 1;
}

static int inputs_match(struct reader *r, int argc, char **argv, const char *cwd)
{
	char buf[4096], num[32];
	gid_t groups[1024];
	int ng = getgroups(1024, groups), envc = 0;
	size_t off = 0;

	nsx_file_identity("/proc/self/exe", buf, sizeof buf);
	if (!next_is(r, buf))
		return 0;
	snprintf(num, sizeof num, "%u", getuid());
	if (!next_is(r, num))
		return 0;
	snprintf(num, sizeof num, "%u", getgid());
	if (!next_is(r, num))
		return 0;
	buf[0] = '\0';
	for (int i = 0; i < ng && off < sizeof buf - 16; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%u", i ? "," : "", groups[i]);
	if (!next_is(r, buf) || !next_is(r, cwd))
		return 0;
	snprintf(num, sizeof num, "%d", argc);
	if (!next_is(r, num))
		return 0;
	for (int i = 0; i < argc; i++)
		if (!next_is(r, argv[i]))
			return 0;
	for (char **e = environ; *e != NULL; e++)
		envc += nsx_plan_env_key(*e);
	snprintf(num, sizeof num, "%d", envc);
	if (!next_is(r, num))
		return 0;
	for (char **e = environ; *e != NULL; e++)
		if (nsx_plan_env_key(*e) && !next_is(r, *e))
			return 0;
	if (!next_str(r, num, sizeof num))
		return 0;
	for (long n = strtol(num, NULL, 10); n > 0; n--) {
		char path[4096], ident[256];
		if (!next_str(r, path, sizeof path))
			return 0;
		/* Bind sources keep only their kind; read files, everything. */
		if (r->end - r->p > 9 && memcmp(r->p + 4, "type:", 5) == 0)
			file_type(path, ident, sizeof ident);
		else
			nsx_file_identity(path, ident, sizeof ident);
		if (!next_is(r, ident))
			return 0;
	}
	return 1;
}

/* Only a private directory and file of ours may hold a plan: a plan runs
 * mounts and a command with the user's rights. */
static unsigned char *read_private(const char *path, size_t *len, time_t *mtime)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077) != 0 || st.st_size > NSX_PLAN_MAX ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	*len = (size_t)st.st_size;
	*mtime = st.st_mtime;
	if (read(fd, buf, *len) != (ssize_t)*len) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	return buf;
}

unsigned char *nsx_cached_plan(int argc, char **argv, size_t *plan_len, void **owner)
{
	char cwd[4096], dir[64], path[128];
	uint64_t h = 14695981039346656037ULL;
	struct reader r;
	unsigned char *buf;
	uint32_t plen;
	size_t len;
	time_t mtime;

	if (getcwd(cwd, sizeof cwd) == NULL)
		return NULL;
	for (int i = 0; i < argc; i++)
		fnv(&h, argv[i]);
	fnv(&h, cwd);
	for (char **e = environ; *e != NULL; e++)
		if (nsx_plan_env_key(*e))
			fnv(&h, *e);
	if (nsx_user_dir(NSX_CACHE_PREFIX, 0, dir, sizeof dir) < 0) /* userdir.c */
		return NULL;
	snprintf(path, sizeof path, "%s/%016llx.plan", dir, (unsigned long long)h);
	if ((buf = read_private(path, &len, &mtime)) == NULL)
		return NULL;
	r.p = buf + strlen(MAGIC);
	r.end = buf + len;
	if (len < strlen(MAGIC) || memcmp(buf, MAGIC, strlen(MAGIC)) != 0 ||
	    !inputs_match(&r, argc, argv, cwd) || r.end - r.p < 4) {
		/* Stale for its key (or of another format): Go writes a new one. */
		unlink(path);
		free(buf);
		return NULL;
	}
	memcpy(&plen, r.p, 4);
	if ((size_t)(r.end - r.p - 4) != plen) {
		unlink(path);
		free(buf);
		return NULL;
	}
	if (time(NULL) - mtime > 60) /* used now: eviction keeps it (to the minute) */
		utimensat(AT_FDCWD, path, NULL, 0);
	*plan_len = plen;
	*owner = buf;
	return (unsigned char *)r.p + 4;
}

void nsx_plan_cache(int argc, char **argv)
{
	void *owner;
	size_t len;
	unsigned char *plan = nsx_cached_plan(argc, argv, &len, &owner);

	if (plan == NULL)
		return;
	nsexec_apply(plan, len);
	nsx_die(EXIT_MPIWRAP, "a cached plan has no exec step");
}
