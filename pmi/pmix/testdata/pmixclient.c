/* pmixclient: a PMIx client for the tests of the node's PMIx server
 * (node_test.go), built against libpmix-dev's headers.
 *
 *   pmixclient keys KEY@WHO...   print "KEY@WHO VALUE" for each (WHO: job,
 *                                or a rank), "KEY@WHO notfound" when the
 *                                server has none; then fence and finalize
 *   pmixclient abort CODE        rank 1 calls PMIx_Abort(CODE), the others
 *                                wait in a fence
 *   pmixclient exit              init, then exit 0 without finalizing
 *   pmixclient hold              init, then sleep until killed
 */
#include <pmix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_value(const char *what, const pmix_value_t *v)
{
    switch (v->type) {
    case PMIX_STRING: printf("%s %s\n", what, v->data.string); break;
    case PMIX_UINT32: printf("%s %u\n", what, v->data.uint32); break;
    case PMIX_UINT16: printf("%s %u\n", what, v->data.uint16); break;
    case PMIX_PROC_RANK: printf("%s %u\n", what, v->data.rank); break;
    case PMIX_BOOL: printf("%s %d\n", what, v->data.flag ? 1 : 0); break;
    case PMIX_INT: printf("%s %d\n", what, v->data.integer); break;
    default: printf("%s type%d\n", what, v->type); break;
    }
}

static int fence(void)
{
    pmix_info_t info;
    bool collect = true;
    int rc;

    PMIX_INFO_CONSTRUCT(&info);
    PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    rc = PMIx_Fence(NULL, 0, &info, 1);
    PMIX_INFO_DESTRUCT(&info);
    return rc;
}

int main(int argc, char **argv)
{
    pmix_proc_t me, who;
    int rc;

    if (argc < 2)
        return 2;
    if ((rc = PMIx_Init(&me, NULL, 0)) != PMIX_SUCCESS) {
        fprintf(stderr, "PMIx_Init: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    if (strcmp(argv[1], "exit") == 0)
        return 0;
    if (strcmp(argv[1], "hold") == 0) {
        for (;;)
            pause();
    }
    if (strcmp(argv[1], "abort") == 0 && argc == 3) {
        if (me.rank == 1)
            PMIx_Abort(atoi(argv[2]), "pmixclient aborts", NULL, 0);
        fence();
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        char key[PMIX_MAX_KEYLEN + 1], *at;
        pmix_value_t *v = NULL;
        pmix_info_t info;
        bool immediate = true;

        snprintf(key, sizeof key, "%s", argv[i]);
        if ((at = strchr(key, '@')) == NULL)
            return 2;
        *at++ = '\0';
        PMIX_LOAD_PROCID(&who, me.nspace, strcmp(at, "job") == 0 ? PMIX_RANK_WILDCARD : (pmix_rank_t)atoi(at));
        PMIX_INFO_CONSTRUCT(&info);
        PMIX_INFO_LOAD(&info, PMIX_IMMEDIATE, &immediate, PMIX_BOOL);
        rc = PMIx_Get(&who, key, &info, 1, &v);
        PMIX_INFO_DESTRUCT(&info);
        if (rc == PMIX_SUCCESS && v != NULL) {
            print_value(argv[i], v);
            PMIX_VALUE_RELEASE(v);
        } else {
            printf("%s notfound\n", argv[i]);
        }
    }
    fflush(stdout);
    if ((rc = fence()) != PMIX_SUCCESS) {
        fprintf(stderr, "PMIx_Fence: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    return PMIx_Finalize(NULL, 0) == PMIX_SUCCESS ? 0 : 1;
}
