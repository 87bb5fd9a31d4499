//! The OpenAPI 3 document at `/api/v1/openapi.json`, generated from the
//! handlers' `#[utoipa::path]` annotations so it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "创通 chuangtong API", description = "双创示范基地一站式服务平台 JSON API。认证：POST /api/v1/auth/login 换取令牌，之后在请求头中携带 Authorization: Bearer <token>。错误统一为 {\"error\": {code, message, fields[]}}。"),
    paths(
        crate::auth::routes::api_login,
        crate::auth::routes::api_logout,
        crate::auth::routes::api_me,
        crate::auth::routes::api_password,
        crate::tenancy::routes::api_list,
        crate::tenancy::routes::api_get,
        crate::registry::routes::list_enterprises,
        crate::registry::routes::create_enterprise,
        crate::registry::routes::get_enterprise,
        crate::registry::routes::reveal_enterprise_contact,
        crate::registry::routes::list_persons,
        crate::registry::routes::create_person,
        crate::registry::routes::reveal_person,
        crate::registry::routes::list_carriers,
        crate::registry::routes::create_carrier,
        crate::registry::routes::list_teams,
        crate::registry::routes::list_providers,
        crate::registry::routes::list_investors,
        crate::registry::routes::list_experts,
        crate::registry::routes::list_institutes,
        crate::audit::routes::api_recent,
        crate::audit::routes::api_verify,
        crate::calendar::routes::add_working_days,
        crate::calendar::routes::save_year,
        crate::ledger::routes::list_accounts,
        crate::ledger::routes::open_account,
        crate::ledger::routes::create_transfers,
        crate::ledger::routes::post_pending,
        crate::ledger::routes::void_pending,
        crate::indicator::routes::get_dashboard,
        crate::indicator::routes::list_definitions,
        crate::indicator::routes::define_indicator,
        crate::indicator::routes::list_values,
        crate::indicator::routes::enter_value,
        crate::indicator::routes::list_targets,
        crate::indicator::routes::set_target,
        crate::indicator::routes::close_period,
        crate::indicator::routes::index_history,
        crate::indicator::routes::list_imports,
        crate::indicator::routes::import_values,
        crate::indicator::routes::import_template,
        crate::indicator::routes::export_dashboard,
        crate::indicator::routes::export_enterprises,
        crate::indicator::routes::compare,
        crate::voucher::routes::list_batches,
        crate::voucher::routes::get_batch,
        crate::voucher::routes::issue_batch,
        crate::voucher::routes::claim_voucher,
        crate::voucher::routes::list_services,
        crate::voucher::routes::list_service,
        crate::voucher::routes::list_orders,
        crate::voucher::routes::place_order,
        crate::voucher::routes::deliver,
        crate::voucher::routes::confirm,
        crate::voucher::routes::cancel,
        crate::voucher::routes::list_redemptions,
        crate::voucher::routes::request_redemption,
        crate::voucher::routes::settle_redemption,
        crate::policy::routes::list_policies,
        crate::policy::routes::get_policy,
        crate::policy::routes::create_policy,
        crate::policy::routes::add_version,
        crate::policy::routes::publish,
        crate::policy::routes::matches,
        crate::policy::routes::simulate,
        crate::policy::routes::grant,
        crate::policy::routes::calculator,
        crate::policy::routes::record_facts,
        crate::application::routes::list_programmes,
        crate::application::routes::create_programme,
        crate::application::routes::get_programme,
        crate::application::routes::programme_report,
        crate::application::routes::open_programmes,
        crate::application::routes::create_application,
        crate::application::routes::list_applications,
        crate::application::routes::get_application,
        crate::application::routes::update_application,
        crate::application::routes::submit,
        crate::application::routes::withdraw,
        crate::application::routes::accept,
        crate::application::routes::return_for_amendment,
        crate::application::routes::reject,
        crate::application::routes::draw_experts,
        crate::application::routes::score,
        crate::application::routes::publish,
        crate::application::routes::lodge_objection,
        crate::application::routes::resolve_objection,
        crate::application::routes::approve,
        crate::application::routes::pay,
        crate::application::routes::evaluate,
        crate::application::routes::review_queue,
        crate::application::routes::publicity_list,
        crate::application::routes::declare_conflict,
        crate::search::routes::api_search,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
