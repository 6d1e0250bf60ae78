/* shim.h: the C side of package libpmix. Every call returns a PMIx status
 * (0 is success). */
#ifndef MPW_PMIX_SHIM_H
#define MPW_PMIX_SHIM_H

#include <stddef.h>
#include <stdint.h>

/* mpw_open dlopens name and resolves the entry points; on failure it
 * returns -1 with a message in err. */
int mpw_open(const char *name, char *err, size_t errlen);
/* mpw_version is PMIx_Get_version() of the opened library. */
const char *mpw_version(void);
/* mpw_init selects the hash data store (PMIX_MCA_gds=hash), calls
 * PMIx_Init and registers a handler that writes each lost-connection
 * status (int32) to lost_fd. */
int mpw_init(int lost_fd, char *nspace, size_t nslen, uint32_t *rank);
int mpw_put(const char *key, const char *value);
int mpw_commit(void);
int mpw_fence(void);
/* mpw_get stores a malloc'd string in *out: strings as they are, numbers
 * in decimal. A value of another type gives MPW_SHIM_BADTYPE and *type. */
int mpw_get(const char *nspace, uint32_t rank, const char *key, char **out, int *type);
int mpw_abort(int code, const char *msg);
int mpw_finalize(void);
/* The name service: PMIx_Publish of key=value (a string), PMIx_Lookup of
 * key (a malloc'd string in *out; MPW_SHIM_BADTYPE if it is none),
 * PMIx_Unpublish of key. */
int mpw_publish(const char *key, const char *value);
int mpw_lookup(const char *key, char **out);
int mpw_unpublish(const char *key);
const char *mpw_strerror(int status);

#define MPW_SHIM_BADTYPE (-100000)

#endif
