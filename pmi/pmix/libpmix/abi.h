/* abi.h: mpiwrap's own declarations of the part of the PMIx ABI it uses,
 * so that building needs no pmix.h (libpmix-dev). Names carry an mpw_
 * prefix so that a test can compile them beside the real header;
 * abi_test.go compares every size, offset and constant here with
 * OpenPMIx's (pmix_common.h, v4.2). */
#ifndef MPW_PMIX_ABI_H
#define MPW_PMIX_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#define MPW_PMIX_MAX_NSLEN 255
#define MPW_PMIX_MAX_KEYLEN 511

/* status codes */
#define MPW_PMIX_SUCCESS 0
#define MPW_PMIX_ERROR (-1)
#define MPW_PMIX_ERR_BAD_PARAM (-27)
#define MPW_PMIX_ERR_NOT_SUPPORTED (-47)
#define MPW_PMIX_OPERATION_SUCCEEDED (-157)
#define MPW_PMIX_ERR_TIMEOUT (-24)
#define MPW_PMIX_ERR_UNREACH (-25)
#define MPW_PMIX_ERR_NOT_FOUND (-46)
#define MPW_PMIX_ERR_LOST_CONNECTION (-61)
#define MPW_PMIX_ERR_LOST_CONNECTION_TO_SERVER (-101) /* PMIx v3 name */
#define MPW_PMIX_EVENT_ACTION_COMPLETE (-334)

/* ranks */
#define MPW_PMIX_RANK_UNDEF UINT32_MAX
#define MPW_PMIX_RANK_WILDCARD (UINT32_MAX - 1)

/* scope */
#define MPW_PMIX_GLOBAL 3

/* data types */
#define MPW_PMIX_BOOL 1
#define MPW_PMIX_BYTE 2
#define MPW_PMIX_STRING 3
#define MPW_PMIX_SIZE 4
#define MPW_PMIX_PID 5
#define MPW_PMIX_INT 6
#define MPW_PMIX_INT8 7
#define MPW_PMIX_INT16 8
#define MPW_PMIX_INT32 9
#define MPW_PMIX_INT64 10
#define MPW_PMIX_UINT 11
#define MPW_PMIX_UINT8 12
#define MPW_PMIX_UINT16 13
#define MPW_PMIX_UINT32 14
#define MPW_PMIX_UINT64 15
#define MPW_PMIX_STATUS 20
#define MPW_PMIX_INFO 24
#define MPW_PMIX_DATA_ARRAY 39
#define MPW_PMIX_PROC_RANK 40
#define MPW_PMIX_REGEX 49

/* attribute keys */
#define MPW_PMIX_COLLECT_DATA "pmix.collect"
#define MPW_PMIX_IMMEDIATE "pmix.immediate"
/* server mode (srvshim.c) */
#define MPW_PMIX_SERVER_TMPDIR "pmix.srvr.tmpdir"
#define MPW_PMIX_SYSTEM_TMPDIR "pmix.sys.tmpdir"
#define MPW_PMIX_SERVER_TOOL_SUPPORT "pmix.srvr.tool"
#define MPW_PMIX_PROC_DATA "pmix.pdata"
#define MPW_PMIX_RANK "pmix.rank"

/* The ABI test compiles this file with MPW_PMIX_REAL_TYPES and the mpw_
 * type names defined to pmix.h's, to check the entry point types below
 * against the real prototypes. */
#ifndef MPW_PMIX_REAL_TYPES
typedef int mpw_status_t;       /* pmix_status_t */
typedef uint32_t mpw_rank_t;    /* pmix_rank_t */
typedef uint16_t mpw_dtype_t;   /* pmix_data_type_t */
typedef uint8_t mpw_scope_t;    /* pmix_scope_t */
typedef uint32_t mpw_ifdirs_t;  /* pmix_info_directives_t */

typedef struct { /* pmix_proc_t */
    char nspace[MPW_PMIX_MAX_NSLEN + 1];
    mpw_rank_t rank;
} mpw_proc_t;

typedef struct { /* pmix_value_t */
    mpw_dtype_t type;
    union {
        bool flag;
        uint8_t byte;
        char *string;
        size_t size;
        pid_t pid;
        int integer;
        int8_t int8;
        int16_t int16;
        int32_t int32;
        int64_t int64;
        unsigned int uint;
        uint8_t uint8;
        uint16_t uint16;
        uint32_t uint32;
        uint64_t uint64;
        mpw_status_t status;
        mpw_rank_t rank;
        void *ptr;
        /* The widest members of the real union (pmix_byte_object_t,
         * struct timeval, pmix_envar_t) fix its size and alignment. */
        struct { char *bytes; size_t size; } bo;
        struct timeval tv;
        struct { char *envar; char *value; char separator; } envar;
    } data;
} mpw_value_t;

typedef struct { /* pmix_info_t */
    char key[MPW_PMIX_MAX_KEYLEN + 1];
    mpw_ifdirs_t flags;
    mpw_value_t value;
} mpw_info_t;

typedef struct { /* pmix_data_array_t */
    mpw_dtype_t type;
    size_t size;
    void *array;
} mpw_data_array_t;

typedef struct { /* pmix_pdata_t */
    mpw_proc_t proc;
    char key[MPW_PMIX_MAX_KEYLEN + 1];
    mpw_value_t value;
} mpw_pdata_t;
#endif

/* Entry points, typed as in pmix.h v4. */
typedef void (*mpw_op_cbfunc_t)(mpw_status_t status, void *cbdata);
typedef void (*mpw_evnotify_cbfunc_t)(mpw_status_t status, mpw_info_t *results, size_t nresults,
                                      mpw_op_cbfunc_t cbfunc, void *thiscbdata, void *notification_cbdata);
typedef void (*mpw_notification_fn_t)(size_t evhdlr_registration_id, mpw_status_t status,
                                      const mpw_proc_t *source, mpw_info_t info[], size_t ninfo,
                                      mpw_info_t *results, size_t nresults,
                                      mpw_evnotify_cbfunc_t cbfunc, void *cbdata);
typedef void (*mpw_hdlr_reg_cbfunc_t)(mpw_status_t status, size_t refid, void *cbdata);

typedef mpw_status_t (*mpw_init_fn)(mpw_proc_t *proc, mpw_info_t info[], size_t ninfo);
typedef mpw_status_t (*mpw_finalize_fn)(const mpw_info_t info[], size_t ninfo);
typedef mpw_status_t (*mpw_abort_fn)(int status, const char msg[], mpw_proc_t procs[], size_t nprocs);
typedef mpw_status_t (*mpw_put_fn)(mpw_scope_t scope, const char key[], mpw_value_t *val);
typedef mpw_status_t (*mpw_commit_fn)(void);
typedef mpw_status_t (*mpw_fence_fn)(const mpw_proc_t procs[], size_t nprocs, const mpw_info_t info[], size_t ninfo);
typedef mpw_status_t (*mpw_get_fn)(const mpw_proc_t *proc, const char key[], const mpw_info_t info[], size_t ninfo,
                                   mpw_value_t **val);
typedef mpw_status_t (*mpw_register_fn)(mpw_status_t codes[], size_t ncodes, mpw_info_t info[], size_t ninfo,
                                        mpw_notification_fn_t evhdlr, mpw_hdlr_reg_cbfunc_t cbfunc, void *cbdata);
typedef mpw_status_t (*mpw_publish_fn)(const mpw_info_t info[], size_t ninfo);
typedef mpw_status_t (*mpw_lookup_fn)(mpw_pdata_t data[], size_t ndata, const mpw_info_t info[], size_t ninfo);
typedef mpw_status_t (*mpw_unpublish_fn)(char **keys, const mpw_info_t info[], size_t ninfo);
typedef void (*mpw_value_destruct_fn)(mpw_value_t *val);
typedef const char *(*mpw_error_string_fn)(mpw_status_t status);
typedef const char *(*mpw_get_version_fn)(void);

/* The server side (pmix_server.h v4), for the helper's server mode. */
typedef void (*mpw_release_cbfunc_t)(void *cbdata);
typedef void (*mpw_modex_cbfunc_t)(mpw_status_t status, const char *data, size_t ndata, void *cbdata,
                                   mpw_release_cbfunc_t release_fn, void *release_cbdata);
typedef void (*mpw_lookup_cbfunc_t)(mpw_status_t status, mpw_pdata_t data[], size_t ndata, void *cbdata);
typedef void (*mpw_dmodex_response_fn_t)(mpw_status_t status, char *data, size_t sz, void *cbdata);

typedef mpw_status_t (*mpw_srv_client_connected_fn_t)(const mpw_proc_t *proc, void *server_object,
                                                      mpw_op_cbfunc_t cbfunc, void *cbdata);
typedef mpw_status_t (*mpw_srv_client_finalized_fn_t)(const mpw_proc_t *proc, void *server_object,
                                                      mpw_op_cbfunc_t cbfunc, void *cbdata);
typedef mpw_status_t (*mpw_srv_abort_fn_t)(const mpw_proc_t *proc, void *server_object, int status,
                                           const char msg[], mpw_proc_t procs[], size_t nprocs,
                                           mpw_op_cbfunc_t cbfunc, void *cbdata);
typedef mpw_status_t (*mpw_srv_fencenb_fn_t)(const mpw_proc_t procs[], size_t nprocs, const mpw_info_t info[],
                                             size_t ninfo, char *data, size_t ndata, mpw_modex_cbfunc_t cbfunc,
                                             void *cbdata);
typedef mpw_status_t (*mpw_srv_dmodex_req_fn_t)(const mpw_proc_t *proc, const mpw_info_t info[], size_t ninfo,
                                                mpw_modex_cbfunc_t cbfunc, void *cbdata);
typedef mpw_status_t (*mpw_srv_publish_fn_t)(const mpw_proc_t *proc, const mpw_info_t info[], size_t ninfo,
                                             mpw_op_cbfunc_t cbfunc, void *cbdata);
typedef mpw_status_t (*mpw_srv_lookup_fn_t)(const mpw_proc_t *proc, char **keys, const mpw_info_t info[],
                                            size_t ninfo, mpw_lookup_cbfunc_t cbfunc, void *cbdata);
typedef mpw_status_t (*mpw_srv_unpublish_fn_t)(const mpw_proc_t *proc, char **keys, const mpw_info_t info[],
                                               size_t ninfo, mpw_op_cbfunc_t cbfunc, void *cbdata);
typedef void (*mpw_info_cbfunc_t)(mpw_status_t status, mpw_info_t info[], size_t ninfo, void *cbdata,
                                  mpw_release_cbfunc_t release_fn, void *release_cbdata);
typedef mpw_status_t (*mpw_srv_job_control_fn_t)(const mpw_proc_t *requestor, const mpw_proc_t targets[],
                                                 size_t ntargets, const mpw_info_t directives[], size_t ndirs,
                                                 mpw_info_cbfunc_t cbfunc, void *cbdata);

#ifndef MPW_PMIX_REAL_TYPES
/* pmix_server_module_t (v4.0.0 layout): the entries mpiwrap sets are
 * typed, the rest are slots it leaves NULL, so that libpmix does the
 * default (or answers "not supported") for them. */
typedef struct {
    mpw_srv_client_connected_fn_t client_connected;
    mpw_srv_client_finalized_fn_t client_finalized;
    mpw_srv_abort_fn_t abort;
    mpw_srv_fencenb_fn_t fence_nb;
    mpw_srv_dmodex_req_fn_t direct_modex;
    mpw_srv_publish_fn_t publish;
    mpw_srv_lookup_fn_t lookup;
    mpw_srv_unpublish_fn_t unpublish;
    void (*unused1[11])(void); /* spawn ... allocate */
    mpw_srv_job_control_fn_t job_control;
    void (*unused2[8])(void); /* monitor ... client_connected2 */
} mpw_server_module_t;
#endif

typedef mpw_status_t (*mpw_server_init_fn)(mpw_server_module_t *module, mpw_info_t info[], size_t ninfo);
typedef mpw_status_t (*mpw_server_finalize_fn)(void);
typedef mpw_status_t (*mpw_register_nspace_fn)(const char nspace[MPW_PMIX_MAX_NSLEN + 1], int nlocalprocs,
                                               mpw_info_t info[], size_t ninfo, mpw_op_cbfunc_t cbfunc,
                                               void *cbdata);
typedef mpw_status_t (*mpw_register_client_fn)(const mpw_proc_t *proc, uid_t uid, gid_t gid, void *server_object,
                                               mpw_op_cbfunc_t cbfunc, void *cbdata);
typedef void (*mpw_deregister_client_fn)(const mpw_proc_t *proc, mpw_op_cbfunc_t cbfunc, void *cbdata);
typedef void (*mpw_deregister_nspace_fn)(const char nspace[MPW_PMIX_MAX_NSLEN + 1], mpw_op_cbfunc_t cbfunc,
                                         void *cbdata);
typedef mpw_status_t (*mpw_setup_fork_fn)(const mpw_proc_t *proc, char ***env);
typedef mpw_status_t (*mpw_dmodex_request_fn)(const mpw_proc_t *proc, mpw_dmodex_response_fn_t cbfunc,
                                              void *cbdata);
typedef mpw_status_t (*mpw_generate_regex_fn)(const char *input, char **regex);
typedef mpw_status_t (*mpw_info_load_fn)(mpw_info_t *info, const char *key, const void *data, mpw_dtype_t type);

#endif
