/* Internal helpers shared by the nsexec C files. */
#ifndef MPIWRAP_NSEXEC_INT_H
#define MPIWRAP_NSEXEC_INT_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#include "nsexec.h"

#define NSX_DONE 0
#define NSX_RETURN 1

extern char nsexec_log_rank[32];
extern int nsexec_verbose;

void nsx_logf(const char *level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void nsx_die(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
void nsx_restore_signals(void);
void nsx_join(int userfd, int mntfd);
int nsx_join_pidfd(int pidfd);

/* strs.c: string building and number parsing without stdio. A builder
 * that ran out of room says so at nsx_sb_done (-1). nsx_whole reads an
 * optional sign and decimal digits, nothing else, within a long (so
 * strconv.Atoi's reading on 64 bits); nsx_utoa writes v's digits to end
 * backwards and returns where they start; nsx_atoi is atoi(3); nsx_copy
 * is snprintf's "%s". */
struct nsx_sb {
	char *p, *end;
	int bad;
};
void nsx_sb_init(struct nsx_sb *b, char *buf, size_t len);
void nsx_sb_mem(struct nsx_sb *b, const char *s, size_t n);
void nsx_sb_str(struct nsx_sb *b, const char *s);
char *nsx_utoa(char *end, unsigned long long v);
void nsx_sb_num(struct nsx_sb *b, unsigned long long v);
void nsx_sb_int(struct nsx_sb *b, long long v);
int nsx_sb_done(struct nsx_sb *b);
int nsx_whole(const char *s, long *out);
int nsx_atoi(const char *s);
void nsx_copy(char *dst, size_t len, const char *src);

/* resolve.c */
int nsx_open_in_root(int rootfd, const char *path);
int nsx_make_in_root(int rootfd, uint64_t rootmnt, const char *path, int isdir,
		     char *err, size_t errlen);
int nsx_mnt_id(int fd, uint64_t *id);
int nsx_precreate(int lowerfd, const char *upper, const char *path, int isdir,
		  char *err, size_t errlen);

/* fdpass.c */
int nsx_send_fds(int sock, const int *fds, int n);
ssize_t nsx_send_fds_with(int sock, const int *fds, int n, const void *buf, size_t len);
int nsx_recv_fds(int sock, int *fds, int max, void *buf, size_t *buflen);

/* exec.c */
void nsx_exec(const char *image, char **argv, char **envp)
	__attribute__((noreturn));

/* plancache.c */
void nsx_plan_cache(int argc, char **argv);
void nsx_file_identity(const char *path, char *out, size_t len);

/* envprog.c */
struct nsx_env {
	char **v; /* NULL-terminated */
	size_t n, cap;
};
void nsx_env_init(struct nsx_env *e, char **in);
void nsx_env_step(struct nsx_env *e, const char *kind, const char *name, const char *value,
		  const char *sep);

/* pmiabort.c */
void nsx_pmi_abort(int code);

/* userdir.c: the candidates for a per-user directory, in order (see
 * nsexec.h), and the walk over them. */
#define NSX_DIR_MAX 256
struct nsx_dirs {
	int n;
	char path[NSX_SERIES_LEN + 1][NSX_DIR_MAX];
};
struct stat;
int nsx_private_stat(const struct stat *st);
int nsx_private_dir(const char *path);
int nsx_dirs_series(struct nsx_dirs *d, const char *prefix);
int nsx_dirs_rendezvous(struct nsx_dirs *d, const char *prefix);
int nsx_dirs_pick(const struct nsx_dirs *d, int create);
int nsx_dirs_lock(const struct nsx_dirs *d, int *fds, int *lowest);
void nsx_dirs_unlock(int *fds, int n);
int nsx_socket_in(const char *dir, const char *key, char *out, size_t len);

/* direct.c */
struct nsx_dirs;
void nsx_direct_join(const struct nsx_dirs *d, const char *key, int argc, char **argv, int nfds,
		     unsigned char *buf, size_t cap);

/* fastpath.c */
void nsx_fastpath(int argc, char **argv);
void nsx_fuse_helper(int argc, char **argv);

#endif
