/* sigprobe: compiles abi.h's entry point and callback types with pmix.h's
 * type names; with -Werror any prototype that differs from pmix.h's
 * fails to build. Built by abi_test.go. */
#include <pmix.h>

#define MPW_PMIX_REAL_TYPES
#define mpw_status_t pmix_status_t
#define mpw_rank_t pmix_rank_t
#define mpw_dtype_t pmix_data_type_t
#define mpw_scope_t pmix_scope_t
#define mpw_ifdirs_t pmix_info_directives_t
#define mpw_proc_t pmix_proc_t
#define mpw_value_t pmix_value_t
#define mpw_info_t pmix_info_t
#include "../abi.h"

int main(void)
{
    mpw_init_fn init = PMIx_Init;
    mpw_finalize_fn finalize = PMIx_Finalize;
    mpw_abort_fn abort_ = PMIx_Abort;
    mpw_put_fn put = PMIx_Put;
    mpw_commit_fn commit = PMIx_Commit;
    mpw_fence_fn fence = PMIx_Fence;
    mpw_get_fn get = PMIx_Get;
    mpw_register_fn reg = PMIx_Register_event_handler;
    mpw_value_destruct_fn destruct = PMIx_Value_destruct;
    mpw_error_string_fn errstr = PMIx_Error_string;
    mpw_get_version_fn version = PMIx_Get_version;
    pmix_notification_fn_t notify = (mpw_notification_fn_t)0;
    pmix_event_notification_cbfunc_fn_t evcb = (mpw_evnotify_cbfunc_t)0;
    pmix_hdlr_reg_cbfunc_t regcb = (mpw_hdlr_reg_cbfunc_t)0;
    pmix_op_cbfunc_t opcb = (mpw_op_cbfunc_t)0;

    return !init + !finalize + !abort_ + !put + !commit + !fence + !get + !reg + !destruct + !errstr + !version +
           !!notify + !!evcb + !!regcb + !!opcb;
}
