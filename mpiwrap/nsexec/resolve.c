/* Mount targets are resolved inside the image root by descriptor
 * (openat2 RESOLVE_IN_ROOT), so a symlink in the image can never lead a mount
 * out of it, and nothing is created outside the image's own mount. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "nsexec_int.h"

int nsx_open_in_root(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

/* The statx UAPI layout up to stx_mnt_id (a stable ABI), declared here
 * because musl has neither a statx() wrapper nor struct statx. */
struct nsx_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	struct {
		int64_t sec;
		uint32_t nsec;
		int32_t spare;
	} atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t mnt_id;
	uint64_t spare[13];
};

_Static_assert(__builtin_offsetof(struct nsx_statx, mnt_id) == 0x90, "statx layout");

#define NSX_STATX_MNT_ID 0x1000U

int nsx_mnt_id(int fd, uint64_t *id)
{
	struct nsx_statx sx;

	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, NSX_STATX_MNT_ID, &sx) < 0)
		return -1;
	if (!(sx.mask & NSX_STATX_MNT_ID)) {
		errno = ENOSYS; /* Linux < 5.8 */
		return -1;
	}
	*id = sx.mnt_id;
	return 0;
}

/* Create one missing component in parent, refusing unless parent lies on the
 * image's own (overlay) mount: anything else is a host bind or a symlink that
 * points out of the image. */
static int create_one(int parent, uint64_t rootmnt, const char *name, int isdir,
		      const char *path, char *err, size_t errlen)
{
	uint64_t mnt;
	int fd;

	if (nsx_mnt_id(parent, &mnt) < 0) {
		snprintf(err, errlen, "can't stat parent of %s: %s", name, strerror(errno));
		return -1;
	}
	if (mnt != rootmnt) {
		snprintf(err, errlen,
			 "%s resolves outside the image (through a symlink or into "
			 "a host directory); refusing to create a mount point there",
			 path);
		return -1;
	}
	if (isdir) {
		if (mkdirat(parent, name, 0755) == 0 || errno == EEXIST)
			return 0;
	} else {
		fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0644);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
	}
	if (errno == EROFS)
		snprintf(err, errlen, "%s is missing in the image, which is read-only",
			 path);
	else
		snprintf(err, errlen, "can't create %s: %s", path, strerror(errno));
	return -1;
}

static int check_kind(int fd, int isdir, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "can't stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (isdir != S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is %s in the image but the source is %s",
			 path, isdir ? "not a directory" : "a directory",
			 isdir ? "a directory" : "not a directory");
		return -1;
	}
	return 0;
}

/* Open path inside the root, creating missing components (directories, and a
 * file at the end when !isdir). Returns an O_PATH descriptor or -1 with err. */
int nsx_make_in_root(int rootfd, uint64_t rootmnt, const char *path, int isdir,
		     char *err, size_t errlen)
{
	char prefix[4096];
	size_t len = strlen(path);
	int parent, fd;

	fd = nsx_open_in_root(rootfd, path);
	if (fd < 0 && errno != ENOENT) {
		snprintf(err, errlen, "can't resolve %s: %s", path, strerror(errno));
		return -1;
	}
	if (fd >= 0)
		goto found;
	if (len >= sizeof prefix) {
		snprintf(err, errlen, "path too long: %s", path);
		return -1;
	}
	parent = dup(rootfd);
	for (size_t i = 1; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		fd = nsx_open_in_root(rootfd, prefix);
		if (fd < 0 && errno == ENOENT) {
			const char *name = strrchr(prefix, '/') + 1;
			if (create_one(parent, rootmnt, name, i < len || isdir,
				       path, err, errlen) < 0) {
				close(parent);
				return -1;
			}
			fd = nsx_open_in_root(rootfd, prefix);
		}
		if (fd < 0) {
			snprintf(err, errlen, "can't resolve %s: %s", prefix, strerror(errno));
			close(parent);
			return -1;
		}
		close(parent);
		parent = fd;
	}
	fd = parent;
found:
	if (check_kind(fd, isdir, path, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* mkdir -p below upper, for the path relative to upper given by rel. */
static int mkdirs(const char *upper, const char *rel, int lastdir)
{
	char path[4096];
	size_t base = strlen(upper) + 1;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", upper, rel) >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (size_t i = base; path[i] != '\0'; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -1;
		path[i] = '/';
	}
	if (lastdir)
		return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* What one nsx_precreate call resolves against. */
struct precreate {
	int lowerfd;		/* the image's lower layer */
	const char *upper;	/* the overlay's upper layer */
	const char *dst;	/* the mount point asked for, for messages */
	int isdir;		/* make a directory (else a file) at the end */
	char base[4096];	/* where lowerfd is, to place what is missing */
	size_t blen;
	char *err;
	size_t errlen;
};

/* Results of one pass over the path. */
enum { WALK_ERR = -1, WALK_DONE, WALK_FOLLOW };

/* Put the path that fd refers to into buf; returns its length or -1. */
static ssize_t fd_path(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Rewrite path through the dangling link prefix, whose value is target:
 * target (relative to the link's directory unless absolute), then rest,
 * which points into path. */
static int follow_link(struct precreate *pc, char *path, char *prefix,
		       const char *target, const char *rest)
{
	char next[4096];

	*strrchr(prefix, '/') = '\0';
	if ((size_t)snprintf(next, sizeof next, "%s%s%s%s",
			     target[0] == '/' ? "" : prefix,
			     target[0] == '/' ? "" : "/", target,
			     rest) >= sizeof next) {
		snprintf(pc->err, pc->errlen, "path too long resolving %s", pc->dst);
		return -1;
	}
	memcpy(path, next, sizeof next);
	return 0;
}

/* name (the last component of prefix) is missing in parent, and so is rest
 * after it: make them under upper, below where parent really is in the
 * image. Closes parent. */
static int make_missing(struct precreate *pc, int parent, const char *prefix,
			const char *name, const char *rest)
{
	char real[4096], rel[8192];
	ssize_t n;

	n = fd_path(parent, real, sizeof real);
	close(parent);
	if (n < 0 || (size_t)n < pc->blen || strncmp(real, pc->base, pc->blen) != 0) {
		snprintf(pc->err, pc->errlen, "can't place %s inside the image", prefix);
		return -1;
	}
	snprintf(rel, sizeof rel, "%s/%s%s", real + pc->blen, name, rest);
	if (mkdirs(pc->upper, rel[0] == '/' ? rel + 1 : rel, pc->isdir) < 0) {
		snprintf(pc->err, pc->errlen, "can't make %s in the overlay: %s", rel,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* Open path's components in the image one by one. At the first missing
 * one, follow it if it is a dangling link (path is rewritten: WALK_FOLLOW),
 * else make the rest under upper (WALK_DONE). A path that exists is
 * WALK_DONE too; a failure is WALK_ERR with pc->err. */
static int walk_once(struct precreate *pc, char *path)
{
	char prefix[4096], target[4096];
	size_t len = strlen(path);
	int parent = dup(pc->lowerfd), fd;
	ssize_t n;

	for (size_t i = 1; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		fd = nsx_open_in_root(pc->lowerfd, prefix);
		if (fd >= 0) {
			close(parent);
			parent = fd;
			continue;
		}
		if (errno != ENOENT) {
			snprintf(pc->err, pc->errlen, "can't resolve %s in the image: %s",
				 prefix, strerror(errno));
			close(parent);
			return WALK_ERR;
		}
		const char *name = strrchr(prefix, '/') + 1;
		n = readlinkat(parent, name, target, sizeof target - 1);
		if (n < 0) /* missing from here on */
			return make_missing(pc, parent, prefix, name, path + i) < 0 ?
				WALK_ERR : WALK_DONE;
		target[n] = '\0'; /* a dangling link: follow it, inside the image */
		close(parent);
		return follow_link(pc, path, prefix, target, path + i) < 0 ?
			WALK_ERR : WALK_FOLLOW;
	}
	close(parent);
	return WALK_DONE;
}

/* Find where path stops existing in the lower layer (resolving symlinks
 * inside it, dangling ones included), and make the rest under upper at the
 * resolved place, so the overlay shows it where the container will look. */
int nsx_precreate(int lowerfd, const char *upper, const char *dst, int isdir,
		  char *err, size_t errlen)
{
	struct precreate pc = {
		.lowerfd = lowerfd, .upper = upper, .dst = dst, .isdir = isdir,
		.err = err, .errlen = errlen,
	};
	char path[4096];
	ssize_t n;

	n = fd_path(lowerfd, pc.base, sizeof pc.base);
	if (n < 0) {
		snprintf(err, errlen, "can't resolve image root: %s", strerror(errno));
		return -1;
	}
	pc.blen = (size_t)n;
	snprintf(path, sizeof path, "%s", dst);
	for (int hops = 0; hops < 40; hops++) {
		switch (walk_once(&pc, path)) {
		case WALK_ERR:
			return -1;
		case WALK_DONE:
			return 0;
		}
	}
	snprintf(err, errlen, "too many symlinks resolving %s in the image", dst);
	return -1;
}
