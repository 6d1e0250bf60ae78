/* srvshim.h: the C side of package libpmix's server mode, one PMIx server
 * per process (libpmix keeps its server state global, as its client's).
 * Every call returns a PMIx status (0 is success). libpmix's upcalls are
 * passed to Go (server.go's exported goSrv* functions) with a token, the
 * address of what the shim must remember to answer them; Go answers each
 * once through mpw_srv_*_done with that token. */
#ifndef MPW_PMIX_SRVSHIM_H
#define MPW_PMIX_SRVSHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mpw_srv_open dlopens name and resolves the server entry points; on
 * failure it returns -1 with a message in err. */
int mpw_srv_open(const char *name, char *err, size_t errlen);
const char *mpw_srv_version(void);
const char *mpw_srv_strerror(int status);

/* mpw_srv_init starts the server with its files in dir (the rendezvous
 * and the data stores) and no tool support. */
int mpw_srv_init(const char *dir);
int mpw_srv_finalize(void);

/* An info list being built, for mpw_srv_register_nspace. */
typedef struct mpw_infos mpw_infos;
mpw_infos *mpw_infos_new(void);
void mpw_infos_free(mpw_infos *l);
/* mpw_infos_add appends key with value read as kind: 's' string, 'u'
 * uint32, 'h' uint16, 'r' rank, 'b' bool ("1"/"0"), 'n' a node map
 * (comma-separated host names, made a regex), 'p' a proc map
 * ("0,1;2,3": the ranks of each node, made a regex). */
int mpw_infos_add(mpw_infos *l, const char *key, char kind, const char *value);
/* mpw_infos_add_array appends key (PMIX_PROC_DATA, PMIX_NODE_INFO_ARRAY)
 * with an array holding sub's entries (a copy). */
int mpw_infos_add_array(mpw_infos *l, const char *key, mpw_infos *sub);

int mpw_srv_register_nspace(const char *nspace, int nlocal, mpw_infos *l);
int mpw_srv_register_client(const char *nspace, uint32_t rank, uid_t uid, gid_t gid);
/* mpw_srv_setup_fork returns the client's PMIx variables as a malloc'd
 * NULL-terminated array of malloc'd strings in *env. */
int mpw_srv_setup_fork(const char *nspace, uint32_t rank, char ***env);
/* mpw_srv_deregister deregisters the clients ranks and the namespace,
 * which runs the cleanups they registered. */
int mpw_srv_deregister(const char *nspace, const uint32_t *ranks, size_t n);
/* mpw_srv_dmodex_request asks for a local client's committed data; the
 * answer comes to goSrvDmodexData with token. */
int mpw_srv_dmodex_request(const char *nspace, uint32_t rank, uintptr_t token);

/* Answers to upcalls. */
void mpw_srv_modex_done(uintptr_t token, int status, const char *data, size_t n);
void mpw_srv_op_done(uintptr_t token, int status);
void mpw_srv_lookup_done(uintptr_t token, int status, size_t n, char **keys, char **values, const char *nspace,
                         uint32_t rank);

#endif
