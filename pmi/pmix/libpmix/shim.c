/* shim.c: calls into a dlopen'ed libpmix through the declarations of
 * abi.h. PMIx keeps one client per process, so the state here is global. */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi.h"
#include "shim.h"

static struct {
    mpw_init_fn init;
    mpw_finalize_fn finalize;
    mpw_abort_fn abort;
    mpw_put_fn put;
    mpw_commit_fn commit;
    mpw_fence_fn fence;
    mpw_get_fn get;
    mpw_register_fn register_handler;
    mpw_value_destruct_fn value_destruct; /* optional: absent before v4 */
    mpw_error_string_fn error_string;
    mpw_get_version_fn get_version;
    mpw_publish_fn publish;
    mpw_lookup_fn lookup;
    mpw_unpublish_fn unpublish;
} lib;

static int lost_fd = -1;

int mpw_open(const char *name, char *err, size_t errlen)
{
    struct {
        const char *name;
        void **dst;
        int required;
    } syms[] = {
        {"PMIx_Init", (void **)&lib.init, 1},
        {"PMIx_Finalize", (void **)&lib.finalize, 1},
        {"PMIx_Abort", (void **)&lib.abort, 1},
        {"PMIx_Put", (void **)&lib.put, 1},
        {"PMIx_Commit", (void **)&lib.commit, 1},
        {"PMIx_Fence", (void **)&lib.fence, 1},
        {"PMIx_Get", (void **)&lib.get, 1},
        {"PMIx_Register_event_handler", (void **)&lib.register_handler, 1},
        {"PMIx_Value_destruct", (void **)&lib.value_destruct, 0},
        {"PMIx_Error_string", (void **)&lib.error_string, 1},
        {"PMIx_Get_version", (void **)&lib.get_version, 1},
        {"PMIx_Publish", (void **)&lib.publish, 1},
        {"PMIx_Lookup", (void **)&lib.lookup, 1},
        {"PMIx_Unpublish", (void **)&lib.unpublish, 1},
    };
    /* RTLD_GLOBAL: libpmix's plugins resolve its symbols. */
    void *h = dlopen(name, RTLD_NOW | RTLD_GLOBAL);

    if (h == NULL) {
        snprintf(err, errlen, "%s", dlerror());
        return -1;
    }
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].dst = dlsym(h, syms[i].name);
        if (*syms[i].dst == NULL && syms[i].required) {
            snprintf(err, errlen, "%s has no symbol %s", name, syms[i].name);
            dlclose(h);
            memset(&lib, 0, sizeof lib);
            return -1;
        }
    }
    return 0;
}

const char *mpw_version(void)
{
    return lib.get_version();
}

const char *mpw_strerror(int status)
{
    const char *s = lib.error_string ? lib.error_string(status) : NULL;

    return s ? s : "unknown PMIx status";
}

static void set_bool(mpw_info_t *info, const char *key)
{
    memset(info, 0, sizeof *info);
    snprintf(info->key, sizeof info->key, "%s", key);
    info->value.type = MPW_PMIX_BOOL;
    info->value.data.flag = true;
}

/* on_event passes the status to Go and lets PMIx go on. */
static void on_event(size_t id, mpw_status_t status, const mpw_proc_t *source, mpw_info_t info[], size_t ninfo,
                     mpw_info_t *results, size_t nresults, mpw_evnotify_cbfunc_t cbfunc, void *cbdata)
{
    int32_t st = status;

    (void)id, (void)source, (void)info, (void)ninfo, (void)results, (void)nresults;
    if (lost_fd >= 0 && write(lost_fd, &st, sizeof st) < 0) {
        /* nothing to do: Go stopped listening */
    }
    if (cbfunc != NULL)
        cbfunc(MPW_PMIX_EVENT_ACTION_COMPLETE, NULL, 0, NULL, NULL, cbdata);
}

int mpw_init(int fd, char *nspace, size_t nslen, uint32_t *rank)
{
    mpw_status_t codes[] = {MPW_PMIX_ERR_LOST_CONNECTION, MPW_PMIX_ERR_LOST_CONNECTION_TO_SERVER,
                            MPW_PMIX_ERR_UNREACH};
    mpw_proc_t me;
    int rc;

    /* ds21/ds12 cannot look a key up by PMIX_RANK_UNDEF (see doc.go); this
     * process is only a client, so a site-wide choice does not apply. */
    setenv("PMIX_MCA_gds", "hash", 1);
    memset(&me, 0, sizeof me);
    rc = lib.init(&me, NULL, 0);
    if (rc != MPW_PMIX_SUCCESS)
        return rc;
    snprintf(nspace, nslen, "%s", me.nspace);
    *rank = me.rank;
    lost_fd = fd;
    /* v4: with no cbfunc the call blocks and returns the handler id. */
    rc = lib.register_handler(codes, sizeof codes / sizeof codes[0], NULL, 0, on_event, NULL, NULL);
    return rc < 0 ? rc : MPW_PMIX_SUCCESS;
}

int mpw_put(const char *key, const char *value)
{
    mpw_value_t v;

    memset(&v, 0, sizeof v);
    v.type = MPW_PMIX_STRING;
    v.data.string = (char *)value; /* PMIx_Put copies it */
    return lib.put(MPW_PMIX_GLOBAL, key, &v);
}

int mpw_commit(void)
{
    return lib.commit();
}

int mpw_fence(void)
{
    mpw_info_t info;

    set_bool(&info, MPW_PMIX_COLLECT_DATA);
    return lib.fence(NULL, 0, &info, 1);
}

/* format writes a scalar value as a malloc'd string. */
static int format(const mpw_value_t *v, char **out)
{
    char buf[32];

    switch (v->type) {
    case MPW_PMIX_STRING:
        *out = strdup(v->data.string ? v->data.string : "");
        return 0;
    case MPW_PMIX_BOOL: snprintf(buf, sizeof buf, "%d", v->data.flag ? 1 : 0); break;
    case MPW_PMIX_BYTE: case MPW_PMIX_UINT8: snprintf(buf, sizeof buf, "%u", v->data.uint8); break;
    case MPW_PMIX_SIZE: snprintf(buf, sizeof buf, "%zu", v->data.size); break;
    case MPW_PMIX_PID: snprintf(buf, sizeof buf, "%ld", (long)v->data.pid); break;
    case MPW_PMIX_INT: snprintf(buf, sizeof buf, "%d", v->data.integer); break;
    case MPW_PMIX_INT8: snprintf(buf, sizeof buf, "%d", v->data.int8); break;
    case MPW_PMIX_INT16: snprintf(buf, sizeof buf, "%d", v->data.int16); break;
    case MPW_PMIX_INT32: snprintf(buf, sizeof buf, "%" PRId32, v->data.int32); break;
    case MPW_PMIX_INT64: snprintf(buf, sizeof buf, "%" PRId64, v->data.int64); break;
    case MPW_PMIX_UINT: snprintf(buf, sizeof buf, "%u", v->data.uint); break;
    case MPW_PMIX_UINT16: snprintf(buf, sizeof buf, "%u", v->data.uint16); break;
    case MPW_PMIX_UINT32: snprintf(buf, sizeof buf, "%" PRIu32, v->data.uint32); break;
    case MPW_PMIX_UINT64: snprintf(buf, sizeof buf, "%" PRIu64, v->data.uint64); break;
    case MPW_PMIX_STATUS: snprintf(buf, sizeof buf, "%d", v->data.status); break;
    case MPW_PMIX_PROC_RANK: snprintf(buf, sizeof buf, "%" PRIu32, v->data.rank); break;
    default:
        return -1;
    }
    *out = strdup(buf);
    return 0;
}

int mpw_get(const char *nspace, uint32_t rank, const char *key, char **out, int *type)
{
    mpw_proc_t p;
    mpw_info_t info;
    mpw_value_t *v = NULL;
    int rc;

    memset(&p, 0, sizeof p);
    snprintf(p.nspace, sizeof p.nspace, "%s", nspace);
    p.rank = rank;
    /* A key nobody put is "not found" at once, not after a server wait. */
    set_bool(&info, MPW_PMIX_IMMEDIATE);
    *out = NULL;
    rc = lib.get(&p, key, &info, 1, &v);
    if (rc != MPW_PMIX_SUCCESS || v == NULL)
        return rc != MPW_PMIX_SUCCESS ? rc : MPW_PMIX_ERR_NOT_FOUND;
    *type = v->type;
    rc = format(v, out) == 0 ? MPW_PMIX_SUCCESS : MPW_SHIM_BADTYPE;
    if (lib.value_destruct != NULL)
        lib.value_destruct(v);
    else if (v->type == MPW_PMIX_STRING)
        free(v->data.string);
    free(v);
    return rc;
}

int mpw_abort(int code, const char *msg)
{
    return lib.abort(code, msg, NULL, 0);
}

int mpw_finalize(void)
{
    return lib.finalize(NULL, 0);
}

int mpw_publish(const char *key, const char *value)
{
    mpw_info_t info;

    memset(&info, 0, sizeof info);
    snprintf(info.key, sizeof info.key, "%s", key);
    info.value.type = MPW_PMIX_STRING;
    info.value.data.string = (char *)value; /* PMIx_Publish copies it */
    return lib.publish(&info, 1);
}

int mpw_lookup(const char *key, char **out)
{
    mpw_pdata_t d;
    int rc;

    memset(&d, 0, sizeof d);
    snprintf(d.key, sizeof d.key, "%s", key);
    *out = NULL;
    if ((rc = lib.lookup(&d, 1, NULL, 0)) != MPW_PMIX_SUCCESS)
        return rc;
    rc = d.value.type == MPW_PMIX_STRING && d.value.data.string != NULL ? MPW_PMIX_SUCCESS : MPW_SHIM_BADTYPE;
    if (rc == MPW_PMIX_SUCCESS)
        *out = strdup(d.value.data.string);
    if (lib.value_destruct != NULL)
        lib.value_destruct(&d.value);
    return rc;
}

int mpw_unpublish(const char *key)
{
    char *keys[2] = {(char *)key, NULL};

    return lib.unpublish(keys, NULL, 0);
}
