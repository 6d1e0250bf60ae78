/* sigprobe: compiles abi.h's entry point and callback types with pmix.h's
 * type names; with -Werror any prototype that differs from pmix.h's
 * fails to build. Built by abi_test.go. */
#include <pmix.h>
#include <pmix_server.h>

#define MPW_PMIX_REAL_TYPES
#define mpw_status_t pmix_status_t
#define mpw_rank_t pmix_rank_t
#define mpw_dtype_t pmix_data_type_t
#define mpw_scope_t pmix_scope_t
#define mpw_ifdirs_t pmix_info_directives_t
#define mpw_proc_t pmix_proc_t
#define mpw_value_t pmix_value_t
#define mpw_info_t pmix_info_t
#define mpw_data_array_t pmix_data_array_t
#define mpw_pdata_t pmix_pdata_t
#define mpw_server_module_t pmix_server_module_t
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
    mpw_publish_fn publish = PMIx_Publish;
    mpw_lookup_fn lookup = PMIx_Lookup;
    mpw_unpublish_fn unpublish = PMIx_Unpublish;
    mpw_error_string_fn errstr = PMIx_Error_string;
    mpw_get_version_fn version = PMIx_Get_version;
    pmix_notification_fn_t notify = (mpw_notification_fn_t)0;
    pmix_event_notification_cbfunc_fn_t evcb = (mpw_evnotify_cbfunc_t)0;
    pmix_hdlr_reg_cbfunc_t regcb = (mpw_hdlr_reg_cbfunc_t)0;
    pmix_op_cbfunc_t opcb = (mpw_op_cbfunc_t)0;
    /* the server side */
    mpw_server_init_fn sinit = PMIx_server_init;
    mpw_server_finalize_fn sfinalize = PMIx_server_finalize;
    mpw_register_nspace_fn regns = PMIx_server_register_nspace;
    mpw_register_client_fn regcl = PMIx_server_register_client;
    mpw_setup_fork_fn fork = PMIx_server_setup_fork;
    mpw_deregister_client_fn dereg = PMIx_server_deregister_client;
    mpw_deregister_nspace_fn deregns = PMIx_server_deregister_nspace;
    mpw_dmodex_request_fn dmodex = PMIx_server_dmodex_request;
    mpw_generate_regex_fn regex = PMIx_generate_regex;
    mpw_generate_regex_fn ppn = PMIx_generate_ppn;
    mpw_info_load_fn iload = PMIx_Info_load;
    pmix_modex_cbfunc_t modexcb = (mpw_modex_cbfunc_t)0;
    pmix_release_cbfunc_t relcb = (mpw_release_cbfunc_t)0;
    pmix_lookup_cbfunc_t lookcb = (mpw_lookup_cbfunc_t)0;
    pmix_dmodex_response_fn_t dmresp = (mpw_dmodex_response_fn_t)0;
    pmix_server_client_connected_fn_t conn = (mpw_srv_client_connected_fn_t)0;
    pmix_server_client_finalized_fn_t fin = (mpw_srv_client_finalized_fn_t)0;
    pmix_server_abort_fn_t ab = (mpw_srv_abort_fn_t)0;
    pmix_server_fencenb_fn_t fence_nb = (mpw_srv_fencenb_fn_t)0;
    pmix_server_dmodex_req_fn_t dmreq = (mpw_srv_dmodex_req_fn_t)0;
    pmix_server_publish_fn_t pub = (mpw_srv_publish_fn_t)0;
    pmix_server_lookup_fn_t look = (mpw_srv_lookup_fn_t)0;
    pmix_server_unpublish_fn_t unpub = (mpw_srv_unpublish_fn_t)0;
    pmix_server_job_control_fn_t jctl = (mpw_srv_job_control_fn_t)0;
    pmix_info_cbfunc_t infocb = (mpw_info_cbfunc_t)0;

    return !init + !finalize + !abort_ + !put + !commit + !fence + !get + !reg + !destruct + !errstr + !version +
           !!notify + !!evcb + !!regcb + !!opcb + !publish + !lookup + !unpublish + !sinit + !sfinalize + !dereg + !deregns + !regns + !regcl + !fork + !dmodex + !regex +
           !ppn + !iload + !!modexcb + !!relcb + !!lookcb + !!dmresp + !!conn + !!fin + !!ab + !!fence_nb + !!dmreq +
           !!pub + !!look + !!unpub + !!jctl + !!infocb;
}
