/* nsexec: the single-threaded half of mpiwrap. Go plans; this C code applies
 * the plan before the Go runtime starts, because unshare(CLONE_NEWUSER) and
 * setns() into a mount namespace both require a single-threaded caller. */
#ifndef MPIWRAP_NSEXEC_H
#define MPIWRAP_NSEXEC_H

#include <stddef.h>
#include <stdint.h>

/* Plan opcodes. Each record is [u32 op][u32 nargs]([u32 len][bytes])*nargs. */
enum {
	OP_LOG = 1,     /* rank verbose image: for messages */
	OP_UNSHARE,     /* new user+mount namespace, caller's uid/gid mapped to themselves */
	OP_SETNS,       /* userfd mntfd */
	OP_OPEN,        /* slot path: O_PATH handle on a host path, taken after unshare */
	OP_STAGE,       /* mount the private staging tmpfs over /tmp */
	OP_STAGE_MKDIR, /* relpath */
	OP_STAGE_WRITE, /* relpath mode content */
	OP_STAGE_FD,    /* slot relpath: O_PATH handle on a staged file */
	OP_FUSE,        /* sockfd image subtype: mount /dev/fuse at stage/lower, hand the fd out */
	OP_PRECREATE,   /* lowerslot dst kind(d/f): make a missing mount point in the overlay's upper layer */
	OP_ROOT,        /* lowerslot overlay(0/1): mount the image at stage/root */
	OP_BIND,        /* srcslot dst kind(d/f) rec(0/1) flags optional(0/1) */
	OP_REMOUNT_ROOT,/* flags */
	OP_DETACH,      /* dst */
	OP_PIVOT,
	OP_SENDNS,      /* sockfd */
	OP_CHDIR,       /* path */
	OP_EXEC,        /* image argc argv... env... */
	OP_RETURN,      /* continue into the Go runtime, inside the namespaces */
	OP_PRINT,       /* level message: a line on stderr */
	OP_INHERIT,     /* slot fd: use an inherited descriptor as a bind source */
	OP_ROOT_HERE,   /* the current root is the container root (after setns) */
	OP_STAGE_LINK,  /* relpath target: a symlink in the staging tmpfs */
	OP_NET_NONE,    /* a private network namespace with only loopback, up */
	OP_ENV,         /* (kind name value sep)*: the environment program, on this process's environment */
	OP_EXEC_ENV,    /* image argc argv...: exec with the environment OP_ENV made */
	OP_HOLD,        /* readyfd waitfd: write a byte to readyfd, then stay until waitfd ends */
	OP_MAX
};

/* Exit codes that tell "the wrapper failed" apart from "the command failed". */
#define EXIT_MPIWRAP 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

/* The rest of the contract with the Go half, defined here once; package
 * nsexec exports each as a Go constant.
 *
 * The node rendezvous (mpiwrap/rendezvous.go, fastpath.c): a request is
 * u32 length, NSX_REQ_MAGIC, u32 nargv, u32 nenv, then the strings cwd,
 * client, argv..., env..., each as u32 length plus bytes; a reply is u32
 * length, u32 status (NSX_REP_*), then a plan or a message, with
 * descriptors attached to its first byte. */
#define NSX_REQ_MAGIC 0x4a57504d /* "MPWJ" */
enum {
	NSX_REP_OK = 0,          /* join: the namespaces, then a plan that execs */
	NSX_REP_ERROR = 1,       /* a message: the rank must not start */
	NSX_REP_FALLTHROUGH = 2, /* C client: let the Go half handle this rank */
	NSX_REP_PROXY = 3,       /* Go client: run the rank behind a PMI proxy, then ask again */
	NSX_REP_PROXY_FORK = 4,  /* C client: fork the rank with this plan; the parent proxies it */
	NSX_REP_PROXY_HOSTED = 5 /* C client: the keeper proxies; exec with its socket as PMI_FD */
};
#define NSX_MAX_MESSAGE (64 << 20)

/* Per-user directories: the rendezvous in $XDG_RUNTIME_DIR/NSX_XDG_DIR
 * (when XDG_RUNTIME_DIR is private and shorter than NSX_XDG_MAX), else in
 * NSX_RENDEZVOUS_PREFIX + uid; the node cache in NSX_CACHE_PREFIX + uid.
 * Sockets are named by the FNV-1a hash of the node key, "%016x.sock".
 *
 * Another user may take a name in /tmp or /var/tmp first, so each is the
 * first of a series: the name, then the name + NSX_SERIES_SUFFIX for 1 to
 * NSX_SERIES_LEN - 1 (/tmp/mpiwrap-UID, /tmp/mpiwrap-UID.1, ...), after
 * $XDG_RUNTIME_DIR/NSX_XDG_DIR for the rendezvous. The directory used is the
 * first that is a private directory of ours (lstat: never a symlink; owned
 * by us, no group or other bits); only when none is, the first that can be
 * made as one is made. A rank looks for its node's socket in every private
 * entry, and a leader is elected holding the lock of every one of them
 * (userdir.c; mpiwrap/userdir is the Go half, and a test checks that both
 * pick the same). */
#define NSX_XDG_DIR "mpiwrap"
#define NSX_XDG_MAX 64
#define NSX_RENDEZVOUS_PREFIX "/tmp/mpiwrap-"
#define NSX_CACHE_PREFIX "/var/tmp/mpiwrap-"
#define NSX_SERIES_LEN 8
#define NSX_SERIES_SUFFIX ".%d"

/* The plan cache (mpiwrap/nodecache, plancache.c): a file named by the
 * FNV-1a hash of argv, cwd and the planning inputs of env (nsx_plan_env_key)
 * ("%016x.plan") holding NSX_PLAN_MAGIC, the inputs as length-prefixed
 * strings (identity of /proc/self/exe, uid, gid, groups, cwd, argc,
 * argv..., the count of env's planning inputs, those variables...), the
 * number of dependencies and each as path plus identity, then u32 length
 * and the encoded plan, whose environment is a program (OP_ENV) run on the
 * environment of each replay. */
#define NSX_PLAN_MAGIC "MPWC2\n"
#define NSX_PLAN_MAX (16 << 20)

/* Direct join (direct.c, mpiwrap/direct.go): next to a keeper's socket,
 * with NSX_SHAPES_SUFFIX for ".sock", the request shapes it has planned:
 * a struct nsx_shapes_head, a u32 count of records, then for each the
 * strings shape key (mpiwrap/keeper.go's shapeKey), rank variable, image
 * and reply (the plan after its log label), each as u32 length plus bytes.
 * A rank joins the holder's namespaces through a pidfd and execs the plan,
 * then writes a byte to the FIFO with NSX_JOINED_SUFFIX; the one that brings
 * its bytes to size writes one to the FIFO with NSX_DONE_SUFFIX too. */
#define NSX_SHAPES_MAGIC 0x5357504d /* "MPWS" */
#define NSX_SHAPES_SUFFIX ".shapes"
#define NSX_JOINED_SUFFIX ".joined"
#define NSX_DONE_SUFFIX ".done"
#define NSX_HOLDER_SUFFIX ".holder" /* holds gen; the holder keeps it locked (flock) while it lives */
#define NSX_SHAPES_MAX (16 << 10)    /* a shapes file is smaller: a rank reads it into a buffer */
struct nsx_shapes_head {
	uint32_t magic;
	uint32_t size;   /* the local ranks the keeper waits for */
	uint32_t holder; /* the pid of a process in the namespaces */
	uint32_t pad;
	uint64_t gen;    /* random, also in its NSX_HOLDER_SUFFIX file: this keeper's */
};
const char *const *nsx_per_rank_vars(void);
long nsx_shape_key(const char *cwd, int argc, char **argv, char **env, int nfds, char *out,
		   size_t cap);
long nsx_shape_plan(const unsigned char *buf, size_t n, unsigned char *out, size_t cap,
		    const char *cwd, int argc, char **argv, char **env, int nfds,
		    struct nsx_shapes_head *head);

/* Set by the constructor for Go to read. The proxy pair: after a fork for
 * a proxied rank, the parent's end of the rank's PMI socket and its pid. */
extern int nsexec_proxy_fd;
extern int nsexec_rank_pid;
extern char nsexec_pmi_fd[16];
/* Set by the constructor for Go to read. */
extern const char *nsexec_stage;     /* value of _MPIWRAP_STAGE, or NULL */
extern char nsexec_sigstate[64];     /* "IGNMASK:BLOCKMASK" taken before Go touched signals */

/* Apply an encoded plan. It decodes buf in place (its strings end up
 * NUL-terminated there), so buf is used up and must stay until the exec. */
int nsexec_apply(unsigned char *buf, size_t len);

/* The plan cache entry for this process's argv, cwd and environment whose
 * inputs all still match: the encoded plan (malloc'd; *len its length), or
 * NULL. */
unsigned char *nsx_cached_plan(int argc, char **argv, size_t *len, void **owner);

/* Whether a NAME=VALUE is an input of planning (see plancache.c). */
int nsx_plan_env_key(const char *kv);

/* The environment program run on in (see envprog.c), for tests. */
char **nsx_env_run(char **in, char **steps, size_t nsteps);

/* The node rendezvous, shared with the Go half (which must agree). */
int nsx_join_key(char *key, size_t len);
int nsx_socket_path(const char *key, char *out, size_t len);

/* The per-user directories (userdir.c), with the prefix a parameter for
 * tests: the directory of prefix's series that is used (made when none is
 * and create is set), and the socket path for key among prefix's
 * rendezvous directories. 0, or -1 where every entry is taken. */
int nsx_user_dir(const char *prefix, int create, char *out, size_t len);
int nsx_socket_path_at(const char *prefix, const char *key, char *out, size_t len);

#endif
