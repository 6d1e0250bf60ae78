/* Direct join. Once the node's keeper has planned a request shape, it
 * publishes the reply in a file next to its socket, with the pid of a
 * process that sits in the node's namespaces (mpiwrap/direct.go). A rank of
 * that shape reads the file, joins the holder's namespaces through a pidfd
 * and execs: the connect, the request, the reply, the descriptors passed
 * both ways and the keeper's wake-up were the larger part of what every rank
 * of a wide job cost. A rank that finds no file, or a stale one, takes the
 * socket as before.
 *
 * The keeper counts the ranks that joined by the bytes in a FIFO it never
 * reads (NSX_JOINED_SUFFIX): each rank writes one once it is in, and the one
 * that brings the count to the step's local size writes a byte to a second
 * FIFO the keeper waits on (NSX_DONE_SUFFIX), so the keeper leaves when all
 * have joined, as it does when all came through the socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsexec.h"
#include "nsexec_int.h"

extern char **environ;

/* pmi/launchenv's PerRank: the variables whose values differ between the
 * ranks of one step; a test checks that the lists agree. */
static const char *const per_rank[] = {
	"MPI_LOCALRANKID",
	"OMPI_COMM_WORLD_LOCAL_RANK",
	"OMPI_COMM_WORLD_NODE_RANK",
	"OMPI_COMM_WORLD_RANK",
	"OMPI_MCA_ess_base_vpid",
	"OMPI_MCA_orte_ess_node_rank",
	"PMIX_ID",
	"PMIX_RANK",
	"PMI_FD",
	"PMI_ID",
	"PMI_RANK",
	"SLURM_LOCALID",
	"SLURM_PROCID",
	"SLURM_TASK_PID",
	NULL,
};

const char *const *nsx_per_rank_vars(void)
{
	return per_rank;
}

/* pmi/launchenv's Class. */
static const char *class_of(const char *v)
{
	long n;

	if (*v == '\0')
		return "e";
	if (nsx_whole(v, &n) < 0)
		return "x";
	return n < 0 ? "-" : "n";
}

static int is_per_rank(const char *name, size_t n)
{
	for (int i = 0; per_rank[i] != NULL; i++) /* the first letter rules most out */
		if (per_rank[i][0] == name[0] && strncmp(per_rank[i], name, n) == 0 &&
		    per_rank[i][n] == '\0')
			return 1;
	return 0;
}

/* The shape key is written out (for tests) or, with want, compared as it
 * is made, so that a rank needs no buffer for it. */
struct key_out {
	char *out;
	size_t cap;
	const unsigned char *want;
	size_t wlen, pos;
	int bad;
};

static void put(struct key_out *k, const char *p, size_t n)
{
	if (k->bad)
		return;
	if (k->want != NULL ? n > k->wlen - k->pos || memcmp(k->want + k->pos, p, n) != 0
			    : n > k->cap - k->pos) {
		k->bad = 1;
		return;
	}
	if (k->want == NULL)
		memcpy(k->out + k->pos, p, n);
	k->pos += n;
}

static void put_num(struct key_out *k, unsigned long long v)
{
	char buf[24], *p = nsx_utoa(buf + sizeof buf, v);

	put(k, p, (size_t)(buf + sizeof buf - p));
}

/* mpiwrap/keeper.go's shapeKey of the request this rank would send. */
static void shape_key(struct key_out *k, const char *cwd, int argc, char **argv, char **env,
		      int nfds)
{
	put(k, cwd, strlen(cwd));
	put(k, "\0c\0", 3);
	put_num(k, (unsigned)argc);
	put(k, "", 1);
	put_num(k, (unsigned)nfds);
	put(k, "", 1);
	for (int i = 0; i < argc; i++) {
		put(k, "", 1);
		put(k, argv[i], strlen(argv[i]));
	}
	for (char **e = env; *e != NULL; e++) {
		const char *eq = strchr(*e, '=');

		put(k, "", 1);
		if (eq != NULL && is_per_rank(*e, (size_t)(eq - *e))) {
			const char *c = class_of(eq + 1);

			put(k, *e, (size_t)(eq - *e) + 1);
			put(k, c, 1);
		} else
			put(k, *e, strlen(*e));
	}
}

long nsx_shape_key(const char *cwd, int argc, char **argv, char **env, int nfds, char *out,
		   size_t cap)
{
	struct key_out k = {.out = out, .cap = cap};

	shape_key(&k, cwd, argc, argv, env, nfds);
	return k.bad ? -1 : (long)k.pos;
}

/* keeper.go's rankFrom: the last name=VALUE, as a whole number, else -1. */
static long rank_from(char **env, const char *name, size_t n)
{
	long rank = -1;

	if (n == 0)
		return -1;
	for (char **e = env; *e != NULL; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
			const char *v = *e + n + 1;

			if (nsx_whole(v, &rank) < 0)
				rank = -1;
		}
	return rank;
}

struct str {
	const unsigned char *p;
	uint32_t n;
};

static int get_str(const unsigned char **p, const unsigned char *end, struct str *s)
{
	if (end - *p < 4)
		return -1;
	memcpy(&s->n, *p, 4);
	if ((size_t)(end - *p - 4) < s->n)
		return -1;
	s->p = *p + 4;
	*p += 4 + s->n;
	return 0;
}

static unsigned char *put_arg(unsigned char *p, const void *s, uint32_t n)
{
	memcpy(p, &n, 4);
	memcpy(p + 4, s, n);
	return p + 4 + n;
}

/* The plan for this rank from a shapes file of n bytes at buf: its log
 * label, then the reply published for its shape, written to out (of cap
 * bytes). Its length, or -1 when the file has no reply for this shape (or
 * is not one). The header's fields go to *head. */
long nsx_shape_plan(const unsigned char *buf, size_t n, unsigned char *out, size_t cap,
		    const char *cwd, int argc, char **argv, char **env, int nfds,
		    struct nsx_shapes_head *head)
{
	const unsigned char *p = buf + sizeof *head, *end = buf + n;
	uint32_t nrec;

	if (n < sizeof *head + 4)
		return -1;
	memcpy(head, buf, sizeof *head);
	memcpy(&nrec, p, 4);
	p += 4;
	if (head->magic != NSX_SHAPES_MAGIC)
		return -1;
	for (uint32_t r = 0; r < nrec; r++) {
		struct str key, var, image, reply;
		struct key_out k = {0};
		unsigned char *q = out;
		char label[24], *l = label + sizeof label;
		long rank;

		if (get_str(&p, end, &key) < 0 || get_str(&p, end, &var) < 0 ||
		    get_str(&p, end, &image) < 0 || get_str(&p, end, &reply) < 0)
			return -1;
		k.want = key.p;
		k.wlen = key.n;
		shape_key(&k, cwd, argc, argv, env, nfds);
		if (k.bad || k.pos != key.n)
			continue;
		rank = rank_from(env, (const char *)var.p, var.n);
		if (rank < 0)
			*--l = '-';
		else
			l = nsx_utoa(l, (unsigned long)rank);
		if (8 + 4 + sizeof label + 4 + 1 + 4 + (size_t)image.n + reply.n > cap)
			return -1;
		memcpy(q, &(uint32_t){OP_LOG}, 4);
		memcpy(q + 4, &(uint32_t){3}, 4);
		q += 8;
		q = put_arg(q, l, (uint32_t)(label + sizeof label - l));
		q = put_arg(q, "0", 1);
		q = put_arg(q, image.p, image.n);
		memcpy(q, reply.p, reply.n);
		return (long)(q + reply.n - out);
	}
	return -1;
}

/* The file for key in dir: its socket's name, with suffix for ".sock". */
static int name_in(const char *dir, const char *key, const char *suffix, char *out, size_t len)
{
	size_t n, s = strlen(suffix);

	if (nsx_socket_in(dir, key, out, len) < 0)
		return -1;
	n = strlen(out) - strlen(".sock");
	if (n + s + 1 > len)
		return -1;
	memcpy(out + n, suffix, s + 1);
	return 0;
}

/* Whether the holder the header names still lives: its lock file is of the
 * same keeper (the generation in both: a file's inode number is reused as
 * soon as it is freed), and it keeps an exclusive lock on it, so a shared
 * one can't be had. */
static int holder_alive(const char *dir, const char *key, int dfd, uint64_t gen)
{
	char name[NSX_DIR_MAX + 32];
	uint64_t got;
	int fd, alive;

	if (name_in(dir, key, NSX_HOLDER_SUFFIX, name, sizeof name) < 0 ||
	    (fd = openat(dfd, strrchr(name, '/') + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	alive = read(fd, &got, sizeof got) == sizeof got && got == gen &&
		flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd); /* and with it a lock it got */
	return alive;
}

/* One byte to a FIFO, and the bytes it then holds (-1 on failure). The
 * rank opens it for reading and writing: with a reader of its own, a
 * keeper that left meanwhile costs no SIGPIPE. */
static int poke(int fd)
{
	int n = -1;

	if (write(fd, "j", 1) != 1 || ioctl(fd, FIONREAD, &n) < 0)
		return -1;
	return n;
}

/* Join the keeper's namespaces without asking it, when the first private
 * directory among d's has a shapes file with this rank's shape. Returns
 * only if it could not; then nothing has changed, and the socket is next
 * (which looks in every directory). buf (cap bytes) holds the file, the
 * working directory and the plan. */
void nsx_direct_join(const struct nsx_dirs *d, const char *key, int argc, char **argv, int nfds,
		     unsigned char *buf, size_t cap)
{
	char name[NSX_DIR_MAX + 32], *cwd;
	struct nsx_shapes_head head;
	struct stat st;
	const char *dir = NULL;
	size_t off;
	ssize_t n;
	long len;
	int dfd = -1, fd, pidfd, jfd, count;

	/* The directory's own handle, checked as nsx_private_dir checks a
	 * path, then used for every name in it: one walk of its path. */
	for (int i = 0; i < d->n && dir == NULL; i++) {
		if ((dfd = open(d->path[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			continue;
		if (fstat(dfd, &st) == 0 && nsx_private_stat(&st))
			dir = d->path[i];
		else
			close(dfd);
	}
	if (dir == NULL)
		return;
	if (name_in(dir, key, NSX_SHAPES_SUFFIX, name, sizeof name) < 0 ||
	    (fd = openat(dfd, strrchr(name, '/') + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		close(dfd);
		return;
	}
	n = cap >= 2 * NSX_SHAPES_MAX ? read(fd, buf, NSX_SHAPES_MAX) : -1;
	close(fd);
	off = ((size_t)n + 7) & ~(size_t)7;
	cwd = (char *)buf + off;
	if (n <= 0 || n >= NSX_SHAPES_MAX || getcwd(cwd, 4096) == NULL) {
		close(dfd);
		return;
	}
	off += (strlen(cwd) + 8) & ~(size_t)7;
	len = nsx_shape_plan(buf, (size_t)n, buf + off, cap - off, cwd, argc, argv, environ, nfds,
			     &head);
	if (len < 0) {
		close(dfd);
		return;
	}
	/* The pid is the holder's only while the holder lives, which its lock
	 * file says (holder_alive): alive after the pidfd was made, it was the
	 * holder the pidfd names. */
	pidfd = (int)syscall(SYS_pidfd_open, (pid_t)head.holder, 0);
	if (pidfd < 0) {
		close(dfd);
		return;
	}
	jfd = holder_alive(dir, key, dfd, head.gen) &&
			      name_in(dir, key, NSX_JOINED_SUFFIX, name, sizeof name) == 0
		      ? openat(dfd, strrchr(name, '/') + 1, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
		      : -1;
	if (jfd < 0 || nsx_join_pidfd(pidfd) < 0) {
		if (jfd >= 0)
			close(jfd);
		close(pidfd);
		close(dfd);
		return;
	}
	/* In: from here on the rank is the container's, as after a reply.
	 * The descriptors left open are close-on-exec: the exec closes them. */
	count = poke(jfd);
	if (count >= 0 && head.size > 0 && (uint32_t)count >= head.size &&
	    name_in(dir, key, NSX_DONE_SUFFIX, name, sizeof name) == 0 &&
	    (fd = openat(dfd, strrchr(name, '/') + 1, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)) >= 0)
		poke(fd);
	nsexec_apply(buf + off, (size_t)len);
	nsx_die(EXIT_MPIWRAP, "the namespace keeper published a plan without exec");
}
