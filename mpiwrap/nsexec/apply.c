/* The plan interpreter: namespace entry, the staging tmpfs, the image root,
 * bind mounts resolved inside the root by descriptor, pivot_root, exec. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc >= 2.36 declares these; musl (which mpiwrap may be linked with,
 * for a faster start) doesn't. */
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
struct mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#include "nsexec.h"
#include "nsexec_int.h"

#define STAGE "/tmp"
#define MAX_ARGS 4096
#define MAX_SLOTS 256

struct state {
	int slots[MAX_SLOTS];
	int rootfd;
	uint64_t rootmnt;
	const char *image;
	struct nsx_env env; /* what OP_ENV made, for OP_EXEC_ENV */
	int env_set;
};

struct rec {
	uint32_t op;
	uint32_t n;
	char *arg[MAX_ARGS];
};

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(s);

	if (fd < 0 || write(fd, s, n) != (ssize_t)n)
		nsx_die(EXIT_MPIWRAP, "can't write %s: %s", path, strerror(errno));
	close(fd);
}

static long num(const char *s)
{
	long v;

	if (nsx_whole(s, &v) < 0)
		nsx_die(EXIT_MPIWRAP, "bad number %s in plan", s);
	return v;
}

static int slot(struct state *st, const char *s)
{
	long i = num(s);

	if (i < 0 || i >= MAX_SLOTS || st->slots[i] < 0)
		nsx_die(EXIT_MPIWRAP, "bad slot %s in plan", s);
	return st->slots[i];
}

static void op_unshare(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		nsx_die(EXIT_MPIWRAP,
			"can't create a user namespace: %s; unprivileged user "
			"namespaces may be disabled (check sysctl "
			"user.max_user_namespaces, kernel.unprivileged_userns_clone "
			"and kernel.apparmor_restrict_unprivileged_userns)",
			strerror(errno));
	/* One line mapping our own ids is all an unprivileged process may
	 * write, and all we need: files and PMIx peer credentials stay right. */
	snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
	write_file("/proc/self/uid_map", map);
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
	write_file("/proc/self/gid_map", map);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		nsx_die(EXIT_MPIWRAP, "can't make / private: %s", strerror(errno));
}

static void op_setns(const char *user, const char *mnt)
{
	int ufd = (int)num(user), mfd = (int)num(mnt);

	nsx_join(ufd, mfd);
	close(ufd);
	close(mfd);
}

/* op_hold keeps this process in the namespaces it joined, for ranks that
 * join through its pidfd (direct.c), until the keeper closes the other end
 * of waitfd. */
static void op_hold(const char *ready, const char *wait)
{
	int r = (int)num(ready), w = (int)num(wait);
	char c;

	if (write(r, "h", 1) != 1)
		_exit(EXIT_MPIWRAP);
	close(r);
	while (read(w, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* op_net_none gives the process a network namespace of its own, owned by
 * the container's user namespace, with only loopback (up). */
static void op_net_none(void)
{
	struct ifreq ifr;
	int s;

	if (unshare(CLONE_NEWNET) < 0)
		nsx_die(EXIT_MPIWRAP, "can't make a private network (--net=none): %s", strerror(errno));
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		nsx_die(EXIT_MPIWRAP, "can't find loopback in the private network: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		nsx_die(EXIT_MPIWRAP, "can't bring up loopback in the private network: %s", strerror(errno));
	close(s);
}

static void op_open(struct state *st, const char *s, const char *path)
{
	long i = num(s);
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (i < 0 || i >= MAX_SLOTS)
		nsx_die(EXIT_MPIWRAP, "bad slot %s in plan", s);
	if (fd < 0)
		nsx_die(EXIT_MPIWRAP, "can't open %s: %s", path, strerror(errno));
	st->slots[i] = fd;
}

static void op_inherit(struct state *st, const char *s, const char *fd)
{
	long i = num(s);

	if (i < 0 || i >= MAX_SLOTS || fcntl((int)num(fd), F_GETFD) < 0)
		nsx_die(EXIT_MPIWRAP, "bad inherited descriptor %s in plan", fd);
	st->slots[i] = (int)num(fd);
}

/* After joining a finished container's namespaces, "/" is its root: later
 * binds (the ld.so cache built inside it) resolve there. */
static void op_root_here(struct state *st)
{
	st->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (st->rootfd < 0 || nsx_mnt_id(st->rootfd, &st->rootmnt) < 0)
		nsx_die(EXIT_MPIWRAP, "can't open the container root: %s", strerror(errno));
}

static void op_stage(void)
{
	if (mount("mpiwrap", STAGE, "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=0700,size=256m") < 0)
		nsx_die(EXIT_MPIWRAP, "can't mount staging tmpfs: %s",
			strerror(errno));
}

static void op_stage_mkdir(const char *rel)
{
	char path[4096];

	snprintf(path, sizeof path, STAGE "/%s", rel);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		nsx_die(EXIT_MPIWRAP, "can't make %s: %s", path, strerror(errno));
}

static void op_stage_write(const char *rel, const char *mode, const char *data,
			   size_t len)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, STAGE "/%s", rel);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)strtol(mode, NULL, 8));
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		nsx_die(EXIT_MPIWRAP, "can't write %s: %s", path, strerror(errno));
	close(fd);
}

static void op_stage_link(const char *rel, const char *target)
{
	char path[4096];

	snprintf(path, sizeof path, STAGE "/%s", rel);
	if (symlink(target, path) < 0)
		nsx_die(EXIT_MPIWRAP, "can't make link %s: %s", path, strerror(errno));
}

static void op_stage_fd(struct state *st, const char *s, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof path, STAGE "/%s", rel);
	op_open(st, s, path);
}

/* Mount FUSE here, inside the user namespace that owns the mount, and hand the
 * device to a squashfuse server outside it: a server inside would pin the
 * namespace and never see the unmount when the last rank ends. */
static void op_fuse(const char *sock, const char *image, const char *subtype)
{
	char type[256], data[256];
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		nsx_die(EXIT_MPIWRAP,
			"can't open /dev/fuse: %s; SquashFS images need FUSE "
			"(ask the admin for /dev/fuse mode 0666, or unpack the "
			"image to a directory with unsquashfs)", strerror(errno));
	op_stage_mkdir("lower");
	snprintf(type, sizeof type, "fuse.%s", subtype);
	snprintf(data, sizeof data, "fd=%d,rootmode=40000,user_id=%u,group_id=%u",
		 fd, getuid(), getgid());
	if (mount(image, STAGE "/lower", type, MS_NOSUID | MS_NODEV | MS_RDONLY,
		  data) < 0)
		nsx_die(EXIT_MPIWRAP, "can't mount SquashFS image %s: %s", image,
			strerror(errno));
	if (nsx_send_fds((int)num(sock), &fd, 1) < 0)
		nsx_die(EXIT_MPIWRAP, "can't hand /dev/fuse to squashfuse: %s",
			strerror(errno));
	close(fd);
	close((int)num(sock));
}

static void lower_path(struct state *st, const char *lower, char *src, size_t len)
{
	if (strcmp(lower, "-") == 0)
		snprintf(src, len, STAGE "/lower");
	else
		snprintf(src, len, "/proc/self/fd/%d", slot(st, lower));
}

/* squashfuse runs without stdio (see startFuseHelper); when it can't serve
 * the image, the mount's first use fails, and this says so. */
static void check_fuse(struct state *st, const char *lower)
{
	struct stat sb;

	if (strcmp(lower, "-") == 0 && stat(STAGE "/lower", &sb) < 0)
		nsx_die(EXIT_MPIWRAP,
			"squashfuse can't serve image %s (%s): is it a complete SquashFS "
			"file? Run squashfuse_ll -f %s DIR to see why",
			st->image, strerror(errno), st->image);
}

/* Make a missing mount point in the overlay's upper layer before the overlay
 * is mounted. Through the overlay we could not: the image's directories are
 * owned by ids that are not mapped in our user namespace. */
static void op_precreate(struct state *st, const char *lower, const char *dst,
			 const char *kind)
{
	char src[64], err[512];
	int lfd;

	check_fuse(st, lower);
	lower_path(st, lower, src, sizeof src);
	op_stage_mkdir("upper");
	lfd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lfd < 0 || nsx_precreate(lfd, STAGE "/upper", dst, kind[0] == 'd',
				     err, sizeof err) < 0)
		nsx_die(EXIT_MPIWRAP, "can't make mount point %s: %s", dst,
			lfd < 0 ? strerror(errno) : err);
	close(lfd);
}

static void op_root(struct state *st, const char *lower, const char *overlay)
{
	char src[64], data[256];

	check_fuse(st, lower);
	lower_path(st, lower, src, sizeof src);
	op_stage_mkdir("root");
	if (num(overlay)) {
		op_stage_mkdir("upper");
		op_stage_mkdir("work");
		snprintf(data, sizeof data,
			 "lowerdir=%s,upperdir=" STAGE "/upper,workdir=" STAGE "/work", src);
		if (mount("mpiwrap", STAGE "/root", "overlay", 0, data) < 0) {
			strcat(data, ",userxattr");
			if (mount("mpiwrap", STAGE "/root", "overlay", 0, data) < 0)
				nsx_die(EXIT_MPIWRAP,
					"can't mount a tmpfs overlay over image %s to make "
					"missing mount points: %s (unprivileged overlayfs "
					"needs Linux >= 5.11)", st->image, strerror(errno));
		}
	} else if (mount(src, STAGE "/root", NULL, MS_BIND | MS_REC, NULL) < 0) {
		nsx_die(EXIT_MPIWRAP, "can't bind image %s: %s", st->image,
			strerror(errno));
	}
	st->rootfd = open(STAGE "/root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (st->rootfd < 0 || nsx_mnt_id(st->rootfd, &st->rootmnt) < 0)
		nsx_die(EXIT_MPIWRAP, "can't open image root: %s", strerror(errno));
}

/* Add restrictions to a mount. mount_setattr only adds what we ask for; the
 * remount fallback must repeat the flags the kernel locked on the mount. */
static int restrict_mount(int fd, unsigned long flags, int rec)
{
	char path[64];
	struct mount_attr attr = {0};
	struct statvfs sv;
	unsigned long keep = 0;

	if (flags & MS_RDONLY)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (flags & MS_NOSUID)
		attr.attr_set |= MOUNT_ATTR_NOSUID;
	if (flags & MS_NODEV)
		attr.attr_set |= MOUNT_ATTR_NODEV;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0),
		    &attr, sizeof attr) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	if (fstatvfs(fd, &sv) < 0)
		return -1;
	if (sv.f_flag & ST_RDONLY)
		keep |= MS_RDONLY;
	if (sv.f_flag & ST_NOSUID)
		keep |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		keep |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		keep |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		keep |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		keep |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		keep |= MS_RELATIME;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | flags | keep, NULL);
}

static void op_bind(struct state *st, char **a)
{
	const char *dst = a[1];
	int isdir = a[2][0] == 'd', rec = (int)num(a[3]), optional = (int)num(a[5]);
	unsigned long flags = (unsigned long)num(a[4]);
	char src[64], tgt[64], err[512];
	int tfd, mfd;

	snprintf(src, sizeof src, "/proc/self/fd/%d", slot(st, a[0]));
	tfd = nsx_make_in_root(st->rootfd, st->rootmnt, dst, isdir, err, sizeof err);
	if (tfd < 0) {
		if (optional) {
			nsx_logf("warning: ", "skipping bind to %s: %s", dst, err);
			return;
		}
		nsx_die(EXIT_MPIWRAP, "can't bind to %s: %s", dst, err);
	}
	snprintf(tgt, sizeof tgt, "/proc/self/fd/%d", tfd);
	if (mount(src, tgt, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) < 0)
		nsx_die(EXIT_MPIWRAP, "can't bind to %s: %s", dst, strerror(errno));
	close(tfd);
	if (nsexec_verbose)
		nsx_logf("", "bound %s", dst);
	if (flags == 0)
		return;
	/* Reopen: the old descriptor still names the directory underneath. */
	mfd = nsx_open_in_root(st->rootfd, dst);
	if (mfd < 0 || restrict_mount(mfd, flags, rec) < 0)
		nsx_die(EXIT_MPIWRAP, "can't make %s read-only: %s", dst,
			strerror(errno));
	close(mfd);
}

static void op_remount_root(struct state *st, const char *flags)
{
	int fd = open(STAGE "/root", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || restrict_mount(fd, (unsigned long)num(flags), 0) < 0)
		nsx_die(EXIT_MPIWRAP, "can't make image %s read-only: %s",
			st->image, strerror(errno));
	close(fd);
}

static void op_detach(struct state *st, const char *dst)
{
	char path[64];
	int fd = nsx_open_in_root(st->rootfd, dst);

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (fd < 0 || umount2(path, MNT_DETACH) < 0)
		nsx_die(EXIT_MPIWRAP, "can't detach %s: %s", dst, strerror(errno));
	close(fd);
}

static void op_pivot(struct state *st)
{
	if (fchdir(st->rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		nsx_die(EXIT_MPIWRAP, "can't pivot into image %s: %s", st->image,
			strerror(errno));
	close(st->rootfd);
	st->rootfd = -1;
}

static void op_sendns(const char *sock)
{
	int fds[2];

	fds[0] = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (fds[0] < 0 || fds[1] < 0 || nsx_send_fds((int)num(sock), fds, 2) < 0)
		nsx_die(EXIT_MPIWRAP, "can't hand out namespaces: %s", strerror(errno));
	close(fds[0]);
	close(fds[1]);
}

static void op_exec(struct state *st, struct rec *r)
{
	long argc = num(r->arg[1]);
	char **argv, **envp;

	if (argc < 1 || argc > (long)r->n - 2)
		nsx_die(EXIT_MPIWRAP, "bad exec record in plan");
	argv = calloc((size_t)argc + 1, sizeof *argv);
	envp = calloc(r->n - 2 - (size_t)argc + 1, sizeof *envp);
	if (argv == NULL || envp == NULL)
		nsx_die(EXIT_MPIWRAP, "can't allocate exec arguments");
	memcpy(argv, &r->arg[2], (size_t)argc * sizeof *argv);
	memcpy(envp, &r->arg[2 + argc], (r->n - 2 - (size_t)argc) * sizeof *envp);
	for (char **e = envp; *e != NULL; e++) /* a rank forked for a proxy */
		if (strcmp(*e, "PMI_FD=@") == 0 && nsexec_pmi_fd[0] != '\0' &&
		    asprintf(e, "PMI_FD=%s", nsexec_pmi_fd) < 0)
			nsx_die(EXIT_MPIWRAP, "can't set PMI_FD");
	st->image = r->arg[0];
	nsx_exec(st->image, argv, envp);
}

/* op_env runs the environment program on this process's environment. */
static void op_env(struct state *st, struct rec *r)
{
	extern char **environ;

	if (r->n % 4 != 0)
		nsx_die(EXIT_MPIWRAP, "bad environment record in plan");
	if (!st->env_set)
		nsx_env_init(&st->env, environ);
	st->env_set = 1;
	for (uint32_t i = 0; i < r->n; i += 4)
		nsx_env_step(&st->env, r->arg[i], r->arg[i + 1], r->arg[i + 2], r->arg[i + 3]);
}

/* op_exec_env execs with the environment op_env made. */
static void op_exec_env(struct state *st, struct rec *r)
{
	long argc = num(r->arg[1]);
	char **argv;

	if (argc < 1 || argc != (long)r->n - 2 || !st->env_set)
		nsx_die(EXIT_MPIWRAP, "bad exec record in plan");
	argv = calloc((size_t)argc + 1, sizeof *argv);
	if (argv == NULL)
		nsx_die(EXIT_MPIWRAP, "can't allocate exec arguments");
	memcpy(argv, &r->arg[2], (size_t)argc * sizeof *argv);
	st->image = r->arg[0];
	nsx_exec(st->image, argv, st->env.v);
}

static const uint8_t nargs[OP_MAX] = {
	[OP_LOG] = 3, [OP_UNSHARE] = 0, [OP_SETNS] = 2, [OP_OPEN] = 2,
	[OP_STAGE] = 0, [OP_STAGE_MKDIR] = 1, [OP_STAGE_WRITE] = 3,
	[OP_STAGE_FD] = 2, [OP_FUSE] = 3, [OP_PRECREATE] = 3, [OP_ROOT] = 2, [OP_BIND] = 6,
	[OP_REMOUNT_ROOT] = 1, [OP_DETACH] = 1, [OP_PIVOT] = 0,
	[OP_SENDNS] = 1, [OP_CHDIR] = 1, [OP_EXEC] = 0, [OP_RETURN] = 0,
	[OP_PRINT] = 2, [OP_INHERIT] = 2, [OP_ROOT_HERE] = 0, [OP_STAGE_LINK] = 2,
	[OP_NET_NONE] = 0, [OP_HOLD] = 2,
};

static int step(struct state *st, struct rec *r, uint32_t *lens)
{
	char **a = r->arg;

	switch (r->op) {
	case OP_LOG:
		nsx_copy(nsexec_log_rank, sizeof nsexec_log_rank, a[0]);
		nsexec_verbose = (int)num(a[1]);
		st->image = a[2];
		break;
	case OP_UNSHARE: op_unshare(); break;
	case OP_SETNS: op_setns(a[0], a[1]); break;
	case OP_NET_NONE: op_net_none(); break;
	case OP_HOLD: op_hold(a[0], a[1]); break;
	case OP_ENV: op_env(st, r); break;
	case OP_EXEC_ENV: op_exec_env(st, r); break;
	case OP_OPEN: op_open(st, a[0], a[1]); break;
	case OP_STAGE: op_stage(); break;
	case OP_STAGE_MKDIR: op_stage_mkdir(a[0]); break;
	case OP_STAGE_WRITE: op_stage_write(a[0], a[1], a[2], lens[2]); break;
	case OP_STAGE_FD: op_stage_fd(st, a[0], a[1]); break;
	case OP_FUSE: op_fuse(a[0], a[1], a[2]); break;
	case OP_PRECREATE: op_precreate(st, a[0], a[1], a[2]); break;
	case OP_ROOT: op_root(st, a[0], a[1]); break;
	case OP_BIND: op_bind(st, a); break;
	case OP_REMOUNT_ROOT: op_remount_root(st, a[0]); break;
	case OP_DETACH: op_detach(st, a[0]); break;
	case OP_PIVOT: op_pivot(st); break;
	case OP_SENDNS: op_sendns(a[0]); break;
	case OP_CHDIR:
		if (chdir(a[0]) < 0)
			nsx_die(EXIT_MPIWRAP, "can't enter %s in the container: %s",
				a[0], strerror(errno));
		break;
	case OP_EXEC: op_exec(st, r); break;
	case OP_RETURN: return NSX_RETURN;
	case OP_PRINT: nsx_logf(a[0], "%s", a[1]); break;
	case OP_INHERIT: op_inherit(st, a[0], a[1]); break;
	case OP_ROOT_HERE: op_root_here(st); break;
	case OP_STAGE_LINK: op_stage_link(a[0], a[1]); break;
	}
	return NSX_DONE;
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

int nsexec_apply(unsigned char *buf, size_t len)
{
	static struct rec r;
	uint32_t lens[3] = {0}; /* of the first arguments: OP_STAGE_WRITE's data */
	struct state st = {.rootfd = -1, .image = "?"};
	size_t off = 0;

	for (int i = 0; i < MAX_SLOTS; i++)
		st.slots[i] = -1;
	while (off < len) {
		if (len - off < 8)
			nsx_die(EXIT_MPIWRAP, "truncated plan");
		r.op = get32(buf + off);
		r.n = get32(buf + off + 4);
		off += 8;
		if (r.op == 0 || r.op >= OP_MAX || r.n > MAX_ARGS ||
		    (r.op != OP_EXEC && r.op != OP_ENV && r.op != OP_EXEC_ENV && r.n != nargs[r.op]))
			nsx_die(EXIT_MPIWRAP, "bad plan record %u/%u", r.op, r.n);
		for (uint32_t i = 0; i < r.n; i++) {
			if (len - off < 4 || len - off - 4 < get32(buf + off))
				nsx_die(EXIT_MPIWRAP, "truncated plan");
			/* Terminated in place, not copied (a malloc per string
			 * in every rank): the string moves over its own length,
			 * so the byte after it, where the NUL goes, is its own. */
			uint32_t n = get32(buf + off);

			memmove(buf + off, buf + off + 4, n);
			buf[off + n] = '\0';
			r.arg[i] = (char *)buf + off;
			if (i < 3)
				lens[i] = n;
			off += 4 + n;
		}
		if (step(&st, &r, lens) == NSX_RETURN)
			return NSX_RETURN;
	}
	return NSX_DONE;
}
