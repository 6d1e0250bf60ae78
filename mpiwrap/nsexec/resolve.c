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

/* Find where path stops existing in the lower layer (resolving symlinks
 * inside it, dangling ones included), and make the rest under upper at the
 * resolved place, so the overlay shows it where the container will look. */
int nsx_precreate(int lowerfd, const char *upper, const char *dst, int isdir,
		  char *err, size_t errlen)
{
	char path[4096], next[4096], prefix[4096], base[4096], real[4096], rel[8192];
	char link[64], target[4096];
	size_t blen;
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", lowerfd);
	if ((n = readlink(link, base, sizeof base - 1)) < 0) {
		snprintf(err, errlen, "can't resolve image root: %s", strerror(errno));
		return -1;
	}
	base[n] = '\0';
	blen = (size_t)n;
	snprintf(path, sizeof path, "%s", dst);
	for (int hops = 0; hops < 40; hops++) {
		size_t len = strlen(path);
		int parent = dup(lowerfd), fd = -1, followed = 0;
		for (size_t i = 1; i <= len && !followed; i++) {
			if (i < len && path[i] != '/')
				continue;
			memcpy(prefix, path, i);
			prefix[i] = '\0';
			fd = nsx_open_in_root(lowerfd, prefix);
			if (fd >= 0) {
				close(parent);
				parent = fd;
				continue;
			}
			if (errno != ENOENT) {
				snprintf(err, errlen, "can't resolve %s in the image: %s", prefix, strerror(errno));
				close(parent);
				return -1;
			}
			const char *name = strrchr(prefix, '/') + 1;
			n = readlinkat(parent, name, target, sizeof target - 1);
			if (n >= 0) { /* a dangling link: follow it, inside the image */
				target[n] = '\0';
				*strrchr(prefix, '/') = '\0';
				if ((size_t)snprintf(next, sizeof next, "%s%s%s%s",
						     target[0] == '/' ? "" : prefix,
						     target[0] == '/' ? "" : "/", target,
						     path + i) >= sizeof next) {
					snprintf(err, errlen, "path too long resolving %s", dst);
					close(parent);
					return -1;
				}
				memcpy(path, next, sizeof path);
				close(parent);
				followed = 1;
				continue;
			}
			/* Missing from here on: make it under upper, below the
			 * resolved location of the last component that exists. */
			snprintf(link, sizeof link, "/proc/self/fd/%d", parent);
			n = readlink(link, real, sizeof real - 1);
			close(parent);
			if (n < 0 || (size_t)n < blen || strncmp(real, base, blen) != 0) {
				snprintf(err, errlen, "can't place %s inside the image", prefix);
				return -1;
			}
			real[n] = '\0';
			snprintf(rel, sizeof rel, "%s/%s%s", real + blen, name, path + i);
			if (mkdirs(upper, rel[0] == '/' ? rel + 1 : rel, isdir) < 0) {
				snprintf(err, errlen, "can't make %s in the overlay: %s", rel, strerror(errno));
				return -1;
			}
			return 0;
		}
		if (!followed) {
			close(parent);
			return 0;
		}
	}
	snprintf(err, errlen, "too many symlinks resolving %s in the image", dst);
	return -1;
}
