/* srvshim.c: a PMIx server on a dlopen'ed libpmix, through the
 * declarations of abi.h (see srvshim.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "srvshim.h"
#include "_cgo_export.h"

static struct {
    mpw_server_init_fn init;
    mpw_server_finalize_fn finalize;
    mpw_register_nspace_fn register_nspace;
    mpw_register_client_fn register_client;
    mpw_setup_fork_fn setup_fork;
    mpw_deregister_client_fn deregister_client;
    mpw_deregister_nspace_fn deregister_nspace;
    mpw_dmodex_request_fn dmodex_request;
    mpw_generate_regex_fn generate_regex;
    mpw_generate_regex_fn generate_ppn;
    mpw_info_load_fn info_load;
    mpw_value_destruct_fn value_destruct;
    mpw_error_string_fn error_string;
    mpw_get_version_fn get_version;
} srv;

int mpw_srv_open(const char *name, char *err, size_t errlen)
{
    struct {
        const char *name;
        void **dst;
    } syms[] = {
        {"PMIx_server_init", (void **)&srv.init},
        {"PMIx_server_finalize", (void **)&srv.finalize},
        {"PMIx_server_register_nspace", (void **)&srv.register_nspace},
        {"PMIx_server_register_client", (void **)&srv.register_client},
        {"PMIx_server_setup_fork", (void **)&srv.setup_fork},
        {"PMIx_server_deregister_client", (void **)&srv.deregister_client},
        {"PMIx_server_deregister_nspace", (void **)&srv.deregister_nspace},
        {"PMIx_server_dmodex_request", (void **)&srv.dmodex_request},
        {"PMIx_generate_regex", (void **)&srv.generate_regex},
        {"PMIx_generate_ppn", (void **)&srv.generate_ppn},
        {"PMIx_Info_load", (void **)&srv.info_load},
        {"PMIx_Value_destruct", (void **)&srv.value_destruct},
        {"PMIx_Error_string", (void **)&srv.error_string},
        {"PMIx_Get_version", (void **)&srv.get_version},
    };
    /* RTLD_GLOBAL: libpmix's plugins resolve its symbols. */
    void *h = dlopen(name, RTLD_NOW | RTLD_GLOBAL);

    if (h == NULL) {
        snprintf(err, errlen, "%s", dlerror());
        return -1;
    }
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].dst = dlsym(h, syms[i].name);
        if (*syms[i].dst == NULL) {
            snprintf(err, errlen, "%s has no symbol %s", name, syms[i].name);
            dlclose(h);
            memset(&srv, 0, sizeof srv);
            return -1;
        }
    }
    return 0;
}

const char *mpw_srv_version(void)
{
    return srv.get_version();
}

const char *mpw_srv_strerror(int status)
{
    const char *s = srv.error_string ? srv.error_string(status) : NULL;

    return s ? s : "unknown PMIx status";
}

/* A pending upcall: what answering it takes. */
typedef struct {
    mpw_modex_cbfunc_t modex;
    mpw_op_cbfunc_t op;
    mpw_lookup_cbfunc_t lookup;
    void *cbdata;
} pending;

static uintptr_t hold(mpw_modex_cbfunc_t modex, mpw_op_cbfunc_t op, mpw_lookup_cbfunc_t lookup, void *cbdata)
{
    pending *p = calloc(1, sizeof *p);

    if (p == NULL)
        return 0;
    p->modex = modex, p->op = op, p->lookup = lookup, p->cbdata = cbdata;
    return (uintptr_t)p;
}

/* whole says whether procs is the whole of one namespace (the only fence
 * mpiwrap can carry over PMI-1/2, which has no partial barrier). */
static int whole(const mpw_proc_t procs[], size_t nprocs)
{
    return nprocs == 1 && procs[0].rank == MPW_PMIX_RANK_WILDCARD;
}

static int flag(const mpw_info_t info[], size_t ninfo, const char *key)
{
    for (size_t i = 0; i < ninfo; i++)
        if (strcmp(info[i].key, key) == 0)
            return info[i].value.type != MPW_PMIX_BOOL || info[i].value.data.flag;
    return 0;
}

static mpw_status_t on_connected(const mpw_proc_t *proc, void *obj, mpw_op_cbfunc_t cbfunc, void *cbdata)
{
    (void)obj, (void)cbfunc, (void)cbdata;
    goSrvClient((uint32_t)proc->rank, 1);
    return MPW_PMIX_OPERATION_SUCCEEDED;
}

static mpw_status_t on_finalized(const mpw_proc_t *proc, void *obj, mpw_op_cbfunc_t cbfunc, void *cbdata)
{
    (void)obj, (void)cbfunc, (void)cbdata;
    goSrvClient((uint32_t)proc->rank, 2);
    return MPW_PMIX_OPERATION_SUCCEEDED;
}

static mpw_status_t on_abort(const mpw_proc_t *proc, void *obj, int status, const char msg[], mpw_proc_t procs[],
                             size_t nprocs, mpw_op_cbfunc_t cbfunc, void *cbdata)
{
    uintptr_t t = hold(NULL, cbfunc, NULL, cbdata);

    (void)obj, (void)procs;
    if (t == 0)
        return MPW_PMIX_ERROR;
    goSrvAbort(t, (uint32_t)proc->rank, status, (char *)(msg ? msg : ""), nprocs == 0 || whole(procs, nprocs));
    return MPW_PMIX_SUCCESS;
}

static mpw_status_t on_fence(const mpw_proc_t procs[], size_t nprocs, const mpw_info_t info[], size_t ninfo,
                             char *data, size_t ndata, mpw_modex_cbfunc_t cbfunc, void *cbdata)
{
    uintptr_t t;
    int rc;

    if (!whole(procs, nprocs))
        return MPW_PMIX_ERR_NOT_SUPPORTED;
    if ((t = hold(cbfunc, NULL, NULL, cbdata)) == 0)
        return MPW_PMIX_ERROR;
    rc = goSrvFence(t, flag(info, ninfo, MPW_PMIX_COLLECT_DATA), data, ndata);
    if (rc != MPW_PMIX_SUCCESS)
        free((void *)t);
    return rc;
}

static mpw_status_t on_dmodex(const mpw_proc_t *proc, const mpw_info_t info[], size_t ninfo,
                              mpw_modex_cbfunc_t cbfunc, void *cbdata)
{
    uintptr_t t = hold(cbfunc, NULL, NULL, cbdata);

    (void)info, (void)ninfo;
    if (t == 0)
        return MPW_PMIX_ERROR;
    goSrvDmodex(t, (char *)proc->nspace, (uint32_t)proc->rank);
    return MPW_PMIX_SUCCESS;
}

/* on_publish passes the string data of info on; PMIx's own directives
 * (PMIX_RANGE, PMIX_PERSISTENCE, ...) are "pmix."-prefixed. */
static mpw_status_t on_publish(const mpw_proc_t *proc, const mpw_info_t info[], size_t ninfo,
                               mpw_op_cbfunc_t cbfunc, void *cbdata)
{
    char **keys = calloc(ninfo + 1, sizeof *keys), **vals = calloc(ninfo + 1, sizeof *vals);
    size_t n = 0;
    uintptr_t t;

    if (keys == NULL || vals == NULL || (t = hold(NULL, cbfunc, NULL, cbdata)) == 0) {
        free(keys), free(vals);
        return MPW_PMIX_ERROR;
    }
    for (size_t i = 0; i < ninfo; i++) {
        if (strncmp(info[i].key, "pmix.", 5) == 0)
            continue;
        keys[n] = (char *)info[i].key;
        vals[n++] = info[i].value.type == MPW_PMIX_STRING ? info[i].value.data.string : NULL;
    }
    goSrvPublish(t, (uint32_t)proc->rank, n, keys, vals);
    free(keys), free(vals);
    return MPW_PMIX_SUCCESS;
}

static size_t count(char **keys)
{
    size_t n = 0;

    while (keys != NULL && keys[n] != NULL)
        n++;
    return n;
}

static mpw_status_t on_lookup(const mpw_proc_t *proc, char **keys, const mpw_info_t info[], size_t ninfo,
                              mpw_lookup_cbfunc_t cbfunc, void *cbdata)
{
    uintptr_t t = hold(NULL, NULL, cbfunc, cbdata);

    (void)info, (void)ninfo;
    if (t == 0)
        return MPW_PMIX_ERROR;
    goSrvLookup(t, (uint32_t)proc->rank, count(keys), keys, 0);
    return MPW_PMIX_SUCCESS;
}

static mpw_status_t on_unpublish(const mpw_proc_t *proc, char **keys, const mpw_info_t info[], size_t ninfo,
                                 mpw_op_cbfunc_t cbfunc, void *cbdata)
{
    uintptr_t t = hold(NULL, cbfunc, NULL, cbdata);

    (void)info, (void)ninfo;
    if (t == 0)
        return MPW_PMIX_ERROR;
    goSrvLookup(t, (uint32_t)proc->rank, count(keys), keys, 1);
    return MPW_PMIX_SUCCESS;
}

/* on_job_control is here for libpmix to take a client's
 * PMIX_REGISTER_CLEANUP (Open MPI registers its shared-memory files),
 * which it keeps and runs itself when the client ends, but only when the
 * host has job control; it does not call this for those. Other job
 * control (signals, checkpoints) is not offered. */
static mpw_status_t on_job_control(const mpw_proc_t *requestor, const mpw_proc_t targets[], size_t ntargets,
                                   const mpw_info_t directives[], size_t ndirs, mpw_info_cbfunc_t cbfunc,
                                   void *cbdata)
{
    (void)requestor, (void)targets, (void)ntargets, (void)directives, (void)ndirs, (void)cbfunc, (void)cbdata;
    return MPW_PMIX_ERR_NOT_SUPPORTED;
}

static mpw_server_module_t module = {
    .client_connected = on_connected,
    .client_finalized = on_finalized,
    .abort = on_abort,
    .fence_nb = on_fence,
    .direct_modex = on_dmodex,
    .publish = on_publish,
    .lookup = on_lookup,
    .unpublish = on_unpublish,
    .job_control = on_job_control,
};

static void load_bool(mpw_info_t *info, const char *key, bool v)
{
    memset(info, 0, sizeof *info);
    snprintf(info->key, sizeof info->key, "%s", key);
    info->value.type = MPW_PMIX_BOOL;
    info->value.data.flag = v;
}

static void load_string(mpw_info_t *info, const char *key, const char *v)
{
    memset(info, 0, sizeof *info);
    snprintf(info->key, sizeof info->key, "%s", key);
    info->value.type = MPW_PMIX_STRING;
    info->value.data.string = (char *)v; /* the server copies what it keeps */
}

int mpw_srv_init(const char *dir)
{
    mpw_info_t info[3];

    load_string(&info[0], MPW_PMIX_SERVER_TMPDIR, dir);
    load_string(&info[1], MPW_PMIX_SYSTEM_TMPDIR, dir);
    load_bool(&info[2], MPW_PMIX_SERVER_TOOL_SUPPORT, false);
    return srv.init(&module, info, 3);
}

int mpw_srv_finalize(void)
{
    return srv.finalize();
}

struct mpw_infos {
    mpw_info_t *v;
    size_t n, cap;
};

mpw_infos *mpw_infos_new(void)
{
    return calloc(1, sizeof(mpw_infos));
}

void mpw_infos_free(mpw_infos *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        srv.value_destruct(&l->v[i].value);
    free(l->v);
    free(l);
}

static mpw_info_t *next(mpw_infos *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        mpw_info_t *v = realloc(l->v, cap * sizeof *v);

        if (v == NULL)
            return NULL;
        l->v = v, l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof l->v[l->n]);
    return &l->v[l->n];
}

int mpw_infos_add(mpw_infos *l, const char *key, char kind, const char *value)
{
    mpw_info_t *info = next(l);
    unsigned long long n = strtoull(value, NULL, 10);
    uint32_t u32 = (uint32_t)n;
    uint16_t u16 = (uint16_t)n;
    bool b = n != 0;
    char *regex = NULL;
    int rc;

    if (info == NULL)
        return MPW_PMIX_ERROR;
    switch (kind) {
    case 's': rc = srv.info_load(info, key, value, MPW_PMIX_STRING); break;
    case 'u': rc = srv.info_load(info, key, &u32, MPW_PMIX_UINT32); break;
    case 'h': rc = srv.info_load(info, key, &u16, MPW_PMIX_UINT16); break;
    case 'r': rc = srv.info_load(info, key, &u32, MPW_PMIX_PROC_RANK); break;
    case 'b': rc = srv.info_load(info, key, &b, MPW_PMIX_BOOL); break;
    case 'n':
    case 'p':
        rc = (kind == 'n' ? srv.generate_regex : srv.generate_ppn)(value, &regex);
        if (rc == MPW_PMIX_SUCCESS)
            rc = srv.info_load(info, key, regex, MPW_PMIX_REGEX);
        free(regex);
        break;
    default: return MPW_PMIX_ERR_BAD_PARAM;
    }
    if (rc == MPW_PMIX_SUCCESS)
        l->n++;
    return rc;
}

int mpw_infos_add_array(mpw_infos *l, const char *key, mpw_infos *sub)
{
    mpw_info_t *info = next(l);
    mpw_data_array_t da = {MPW_PMIX_INFO, sub->n, sub->v};
    int rc;

    if (info == NULL)
        return MPW_PMIX_ERROR;
    rc = srv.info_load(info, key, &da, MPW_PMIX_DATA_ARRAY); /* a deep copy */
    if (rc == MPW_PMIX_SUCCESS)
        l->n++;
    return rc;
}

/* A blocking wait for an operation's callback. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    mpw_status_t status;
} waiter;

static void wake(mpw_status_t status, void *cbdata)
{
    waiter *w = cbdata;

    pthread_mutex_lock(&w->mu);
    w->status = status, w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* finish turns an operation's return into its outcome: done at once
 * (PMIX_OPERATION_SUCCEEDED), failed at once, or done in the callback. */
static int finish(waiter *w, int rc)
{
    if (rc == MPW_PMIX_SUCCESS) {
        pthread_mutex_lock(&w->mu);
        while (!w->done)
            pthread_cond_wait(&w->cv, &w->mu);
        rc = w->status;
        pthread_mutex_unlock(&w->mu);
    } else if (rc == MPW_PMIX_OPERATION_SUCCEEDED)
        rc = MPW_PMIX_SUCCESS;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return rc;
}

static void waiter_init(waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void procid(mpw_proc_t *p, const char *nspace, uint32_t rank)
{
    memset(p, 0, sizeof *p);
    snprintf(p->nspace, sizeof p->nspace, "%s", nspace);
    p->rank = rank;
}

int mpw_srv_register_nspace(const char *nspace, int nlocal, mpw_infos *l)
{
    char ns[MPW_PMIX_MAX_NSLEN + 1] = {0};
    waiter w;

    snprintf(ns, sizeof ns, "%s", nspace);
    waiter_init(&w);
    return finish(&w, srv.register_nspace(ns, nlocal, l->v, l->n, wake, &w));
}

int mpw_srv_register_client(const char *nspace, uint32_t rank, uid_t uid, gid_t gid)
{
    mpw_proc_t p;
    waiter w;

    procid(&p, nspace, rank);
    waiter_init(&w);
    return finish(&w, srv.register_client(&p, uid, gid, NULL, wake, &w));
}

/* mpw_srv_deregister runs what the clients asked to be done when they end
 * (PMIX_REGISTER_CLEANUP: Open MPI's shared-memory files) and forgets
 * them and the namespace. */
int mpw_srv_deregister(const char *nspace, const uint32_t *ranks, size_t n)
{
    char ns[MPW_PMIX_MAX_NSLEN + 1] = {0};
    mpw_proc_t p;
    waiter w;

    for (size_t i = 0; i < n; i++) {
        procid(&p, nspace, ranks[i]);
        waiter_init(&w);
        srv.deregister_client(&p, wake, &w);
        finish(&w, MPW_PMIX_SUCCESS);
    }
    snprintf(ns, sizeof ns, "%s", nspace);
    waiter_init(&w);
    srv.deregister_nspace(ns, wake, &w);
    return finish(&w, MPW_PMIX_SUCCESS);
}

int mpw_srv_setup_fork(const char *nspace, uint32_t rank, char ***env)
{
    mpw_proc_t p;

    procid(&p, nspace, rank);
    *env = NULL;
    return srv.setup_fork(&p, env);
}

static void on_dmodex_data(mpw_status_t status, char *data, size_t sz, void *cbdata)
{
    goSrvDmodexData((uintptr_t)cbdata, status, data, sz);
}

int mpw_srv_dmodex_request(const char *nspace, uint32_t rank, uintptr_t token)
{
    mpw_proc_t p;

    procid(&p, nspace, rank);
    return srv.dmodex_request(&p, on_dmodex_data, (void *)token);
}

void mpw_srv_modex_done(uintptr_t token, int status, const char *data, size_t n)
{
    pending *p = (pending *)token;
    char *copy = malloc(n ? n : 1);

    if (copy == NULL) {
        status = MPW_PMIX_ERROR, n = 0;
    } else if (n > 0) {
        memcpy(copy, data, n);
    }
    /* libpmix releases copy with free once it has taken the data. */
    p->modex(status, copy, n, p->cbdata, free, copy);
    free(p);
}

void mpw_srv_op_done(uintptr_t token, int status)
{
    pending *p = (pending *)token;

    if (p->op != NULL)
        p->op(status, p->cbdata);
    free(p);
}

void mpw_srv_lookup_done(uintptr_t token, int status, size_t n, char **keys, char **values, const char *nspace,
                         uint32_t rank)
{
    pending *p = (pending *)token;
    mpw_pdata_t *d = calloc(n ? n : 1, sizeof *d);

    if (d == NULL)
        status = MPW_PMIX_ERROR, n = 0;
    for (size_t i = 0; i < n; i++) {
        procid(&d[i].proc, nspace, rank);
        snprintf(d[i].key, sizeof d[i].key, "%s", keys[i]);
        d[i].value.type = MPW_PMIX_STRING;
        d[i].value.data.string = values[i]; /* libpmix copies what it returns */
    }
    p->lookup(status, d, n, p->cbdata);
    free(d);
    free(p);
}
