/* Internal helpers shared by the nsexec C files. */
#ifndef MPIWRAP_NSEXEC_INT_H
#define MPIWRAP_NSEXEC_INT_H

#include <stdint.h>

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

/* resolve.c */
int nsx_open_in_root(int rootfd, const char *path);
int nsx_make_in_root(int rootfd, uint64_t rootmnt, const char *path, int isdir,
		     char *err, size_t errlen);
int nsx_mnt_id(int fd, uint64_t *id);
int nsx_precreate(int lowerfd, const char *upper, const char *path, int isdir,
		  char *err, size_t errlen);

/* fdpass.c */
int nsx_send_fds(int sock, const int *fds, int n);
int nsx_send_fds_with(int sock, const int *fds, int n, const void *buf, size_t len);
int nsx_recv_fds(int sock, int *fds, int max, void *buf, size_t *buflen);

/* exec.c */
void nsx_exec(const char *image, char **argv, char **envp)
	__attribute__((noreturn));

/* plancache.c */
void nsx_plan_cache(int argc, char **argv);
void nsx_file_identity(const char *path, char *out, size_t len);

/* pmiabort.c */
void nsx_pmi_abort(int code);

/* fastpath.c */
void nsx_fastpath(int argc, char **argv);
void nsx_fuse_helper(int argc, char **argv);

#endif
