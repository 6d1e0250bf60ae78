/* The per-user directories (see nsexec.h): the node rendezvous and the node
 * cache are each the first private directory of ours in a series of names,
 * so that another user who takes a name first can't stop our jobs. The Go
 * half is mpiwrap/userdir; userdir_test.go checks that both pick the same.
 *
 * An entry that is ours stays ours: in a sticky /tmp nobody else can remove
 * or rename it, and we remove a rendezvous directory only when it is empty,
 * under its lock. Entries of others may come and go at any time; they are
 * only ever lstat'ed, never entered, locked or followed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nsexec.h"
#include "nsexec_int.h"

int nsx_private_stat(const struct stat *st)
{
	return S_ISDIR(st->st_mode) && st->st_uid == getuid() && (st->st_mode & 077) == 0;
}

int nsx_private_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && nsx_private_stat(&st);
}

static int add(struct nsx_dirs *d, int n)
{
	if (n < 0 || (size_t)n >= NSX_DIR_MAX)
		return -1;
	d->n++;
	return 0;
}

/* The series of prefix + uid: the name, then name.1 to name.(LEN-1)
 * (NSX_SERIES_SUFFIX), built by hand: every rank of a wide job makes them. */
int nsx_dirs_series(struct nsx_dirs *d, const char *prefix)
{
	char base[NSX_DIR_MAX];
	struct nsx_sb b;
	int n;

	_Static_assert(NSX_SERIES_LEN <= 10, "one-digit series suffixes");
	nsx_sb_init(&b, base, sizeof base - 2);
	nsx_sb_str(&b, prefix);
	nsx_sb_num(&b, getuid());
	if (nsx_sb_done(&b) < 0)
		return -1;
	n = (int)(b.p - base);
	for (int i = 0; i < NSX_SERIES_LEN; i++) {
		char *out = d->path[d->n];

		if (add(d, n + (i ? 2 : 0)) < 0)
			return -1;
		memcpy(out, base, (size_t)n);
		if (i == 0)
			out[n] = '\0';
		else
			out[n] = '.', out[n + 1] = (char)('0' + i), out[n + 2] = '\0';
	}
	return 0;
}

/* The rendezvous: $XDG_RUNTIME_DIR/mpiwrap first when XDG_RUNTIME_DIR is
 * private, then prefix's series. */
int nsx_dirs_rendezvous(struct nsx_dirs *d, const char *prefix)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	d->n = 0;
	if (xdg != NULL && *xdg != '\0' && strlen(xdg) < NSX_XDG_MAX && nsx_private_dir(xdg) &&
	    add(d, snprintf(d->path[0], NSX_DIR_MAX, "%s/" NSX_XDG_DIR, xdg)) < 0)
		return -1;
	return nsx_dirs_series(d, prefix);
}

static int lowest(const struct nsx_dirs *d)
{
	for (int i = 0; i < d->n; i++)
		if (nsx_private_dir(d->path[i]))
			return i;
	return -1;
}

/* The first candidate that is a private directory of ours. With create,
 * when there is none, each candidate is made in turn until one is ours;
 * then the walk is repeated, since another rank may have made an earlier
 * one meanwhile. -1 when every candidate is taken. */
int nsx_dirs_pick(const struct nsx_dirs *d, int create)
{
	int i = lowest(d);

	if (i >= 0 || !create)
		return i;
	for (int k = 0; k < d->n; k++)
		if ((mkdir(d->path[k], 0700) == 0 || errno == EEXIST) && nsx_private_dir(d->path[k]))
			break;
	return lowest(d);
}

static int lock_ex(int fd)
{
	int r;

	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	return r;
}

/* Whether fd, locked, is still the directory at path. */
static int still(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && nsx_private_stat(&a) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

void nsx_dirs_unlock(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* Lock every candidate that is ours, in order, making one when none is:
 * the leader of a node is elected holding all of these. The set is checked
 * again once all are held, so two electors always share a lock: an entry
 * one of them holds can't go (only its lock holder removes it) and is ours
 * to the other too. Returns the number of locks in fds, and in *lowest the
 * index of the first entry that is ours, where a new socket goes; -1 when
 * every candidate is taken or the set keeps changing. */
int nsx_dirs_lock(const struct nsx_dirs *d, int *fds, int *lowest_out)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		int ours[NSX_SERIES_LEN + 1], n = 0, held = 0, ok = 1;

		if (nsx_dirs_pick(d, 1) < 0)
			return -1;
		for (int i = 0; i < d->n; i++)
			if (nsx_private_dir(d->path[i]))
				ours[n++] = i;
		for (; ok && held < n; held++) {
			int fd = open(d->path[ours[held]], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			ok = fd >= 0 && lock_ex(fd) == 0 && still(fd, d->path[ours[held]]);
			if (!ok) {
				if (fd >= 0)
					close(fd);
				break;
			}
			fds[held] = fd;
		}
		for (int i = 0, k = 0; ok && i < d->n; i++) {
			int mine = k < n && ours[k] == i;

			k += mine;
			ok = nsx_private_dir(d->path[i]) == mine;
		}
		if (ok && n > 0) {
			*lowest_out = ours[0];
			return n;
		}
		nsx_dirs_unlock(fds, held);
	}
	return -1;
}

int nsx_socket_in(const char *dir, const char *key, char *out, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (const char *p = key; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
	}
	size_t n = strlen(dir);

	if (n + 1 + 16 + 5 + 1 > len)
		return -1;
	memcpy(out, dir, n); /* dir/%016llx.sock, by hand as above */
	out[n++] = '/';
	for (int i = 15; i >= 0; i--)
		out[n++] = "0123456789abcdef"[(h >> (4 * i)) & 0xf];
	memcpy(out + n, ".sock", 6);
	return 0;
}

int nsx_user_dir(const char *prefix, int create, char *out, size_t len)
{
	struct nsx_dirs d = {0};
	int i;

	if (nsx_dirs_series(&d, prefix) < 0 || (i = nsx_dirs_pick(&d, create)) < 0)
		return -1;
	return (size_t)snprintf(out, len, "%s", d.path[i]) >= len ? -1 : 0;
}

/* Where a new leader binds key's socket among prefix's rendezvous
 * directories: in the first one that is ours, made when none is. */
int nsx_socket_path_at(const char *prefix, const char *key, char *out, size_t len)
{
	struct nsx_dirs d;
	int i;

	if (nsx_dirs_rendezvous(&d, prefix) < 0 || (i = nsx_dirs_pick(&d, 1)) < 0)
		return -1;
	return nsx_socket_in(d.path[i], key, out, len);
}
