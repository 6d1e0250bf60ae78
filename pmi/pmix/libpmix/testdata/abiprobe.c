/* abiprobe: prints each size, offset and constant that abi.h declares
 * next to the real one from pmix.h, as "kind name mine real" lines, and
 * the real attribute keys the Go code uses as "key NAME value". Built by
 * abi_test.go with libpmix-dev's headers. */
#include <stddef.h>
#include <stdio.h>

#include <pmix.h>
#include <pmix_server.h>

#include "../abi.h"

#define SIZE(mine, real) printf("sizeof %s %zu %zu\n", #real, sizeof(mine), sizeof(real))
#define ALIGN(mine, real) printf("alignof %s %zu %zu\n", #real, _Alignof(mine), _Alignof(real))
#define OFFSET(mt, rt, f) printf("offsetof %s.%s %zu %zu\n", #rt, #f, offsetof(mt, f), offsetof(rt, f))
#define CONST(name) printf("const %s %lld %lld\n", #name, (long long)(MPW_##name), (long long)(name))
#define STRING(name) printf("string %s %s %s\n", #name, MPW_##name, name)
#define KEY(name) printf("key %s %s\n", #name, name)

int main(void)
{
    SIZE(mpw_status_t, pmix_status_t);
    SIZE(mpw_rank_t, pmix_rank_t);
    SIZE(mpw_dtype_t, pmix_data_type_t);
    SIZE(mpw_scope_t, pmix_scope_t);
    SIZE(mpw_ifdirs_t, pmix_info_directives_t);
    SIZE(mpw_proc_t, pmix_proc_t);
    OFFSET(mpw_proc_t, pmix_proc_t, rank);
    SIZE(mpw_value_t, pmix_value_t);
    ALIGN(mpw_value_t, pmix_value_t);
    OFFSET(mpw_value_t, pmix_value_t, data);
    OFFSET(mpw_value_t, pmix_value_t, data.string);
    OFFSET(mpw_value_t, pmix_value_t, data.uint32);
    OFFSET(mpw_value_t, pmix_value_t, data.flag);
    SIZE(mpw_info_t, pmix_info_t);
    OFFSET(mpw_info_t, pmix_info_t, flags);
    OFFSET(mpw_info_t, pmix_info_t, value);
    SIZE(mpw_data_array_t, pmix_data_array_t);
    OFFSET(mpw_data_array_t, pmix_data_array_t, size);
    OFFSET(mpw_data_array_t, pmix_data_array_t, array);
    SIZE(mpw_pdata_t, pmix_pdata_t);
    OFFSET(mpw_pdata_t, pmix_pdata_t, key);
    OFFSET(mpw_pdata_t, pmix_pdata_t, value);
    SIZE(mpw_server_module_t, pmix_server_module_t);
    OFFSET(mpw_server_module_t, pmix_server_module_t, client_connected);
    OFFSET(mpw_server_module_t, pmix_server_module_t, client_finalized);
    OFFSET(mpw_server_module_t, pmix_server_module_t, abort);
    OFFSET(mpw_server_module_t, pmix_server_module_t, fence_nb);
    OFFSET(mpw_server_module_t, pmix_server_module_t, direct_modex);
    OFFSET(mpw_server_module_t, pmix_server_module_t, publish);
    OFFSET(mpw_server_module_t, pmix_server_module_t, lookup);
    OFFSET(mpw_server_module_t, pmix_server_module_t, unpublish);
    OFFSET(mpw_server_module_t, pmix_server_module_t, job_control);

    CONST(PMIX_MAX_NSLEN);
    CONST(PMIX_MAX_KEYLEN);
    CONST(PMIX_SUCCESS);
    CONST(PMIX_ERROR);
    CONST(PMIX_ERR_BAD_PARAM);
    CONST(PMIX_ERR_NOT_SUPPORTED);
    CONST(PMIX_OPERATION_SUCCEEDED);
    CONST(PMIX_ERR_TIMEOUT);
    CONST(PMIX_ERR_UNREACH);
    CONST(PMIX_ERR_NOT_FOUND);
    CONST(PMIX_ERR_LOST_CONNECTION);
    CONST(PMIX_ERR_LOST_CONNECTION_TO_SERVER);
    CONST(PMIX_EVENT_ACTION_COMPLETE);
    CONST(PMIX_RANK_UNDEF);
    CONST(PMIX_RANK_WILDCARD);
    CONST(PMIX_GLOBAL);
    CONST(PMIX_BOOL);
    CONST(PMIX_BYTE);
    CONST(PMIX_STRING);
    CONST(PMIX_SIZE);
    CONST(PMIX_PID);
    CONST(PMIX_INT);
    CONST(PMIX_INT8);
    CONST(PMIX_INT16);
    CONST(PMIX_INT32);
    CONST(PMIX_INT64);
    CONST(PMIX_UINT);
    CONST(PMIX_UINT8);
    CONST(PMIX_UINT16);
    CONST(PMIX_UINT32);
    CONST(PMIX_UINT64);
    CONST(PMIX_STATUS);
    CONST(PMIX_INFO);
    CONST(PMIX_DATA_ARRAY);
    CONST(PMIX_PROC_RANK);
    CONST(PMIX_REGEX);
    STRING(PMIX_COLLECT_DATA);
    STRING(PMIX_IMMEDIATE);
    STRING(PMIX_SERVER_TMPDIR);
    STRING(PMIX_SYSTEM_TMPDIR);
    STRING(PMIX_SERVER_TOOL_SUPPORT);
    STRING(PMIX_PROC_DATA);
    STRING(PMIX_RANK);

    KEY(PMIX_JOB_SIZE);
    KEY(PMIX_UNIV_SIZE);
    KEY(PMIX_APPNUM);
    KEY(PMIX_NODEID);
    KEY(PMIX_HOSTNAME);
    KEY(PMIX_LOCAL_PEERS);
    KEY(PMIX_LOCAL_RANK);
    KEY(PMIX_NODE_RANK);
    KEY(PMIX_GLOBAL_RANK);
    KEY(PMIX_APP_RANK);
    KEY(PMIX_LOCALLDR);
    KEY(PMIX_LOCAL_SIZE);
    KEY(PMIX_MAX_PROCS);
    KEY(PMIX_NUM_NODES);
    KEY(PMIX_JOB_NUM_APPS);
    KEY(PMIX_APP_SIZE);
    KEY(PMIX_TMPDIR);
    KEY(PMIX_NSDIR);
    KEY(PMIX_PROCDIR);
    KEY(PMIX_TDIR_RMCLEAN);
    KEY(PMIX_NODE_MAP);
    KEY(PMIX_PROC_MAP);
    KEY(PMIX_JOBID);
    KEY(PMIX_SPAWNED);
    return 0;
}
