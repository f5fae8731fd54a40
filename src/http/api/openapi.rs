//! The API's OpenAPI 3.1 document, generated from the types the handlers return (R-API-1).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::Problem;
use super::me::{Me, PostalAddress, Verified};
use super::orgs;
use crate::paths;
use crate::state::AppState;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", scheme);
    }
}

/// The API's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Servicekonto API", version = "1", description = "Resources of the Servicekonto for online services, with the users' access tokens."),
    paths(
        super::me::me,
        orgs::get_org, orgs::patch_org, orgs::delete_org, orgs::list_users, orgs::create_user, orgs::get_user, orgs::patch_user, orgs::delete_user, orgs::grant_user, orgs::revoke_user,
        orgs::list_groups, orgs::create_group, orgs::get_group, orgs::patch_group, orgs::delete_group,
        orgs::add_member, orgs::remove_member, orgs::grant_group, orgs::revoke_group,
        orgs::list_subscriptions, orgs::subscribe, orgs::unsubscribe,
    ),
    components(schemas(
        Me, Verified, PostalAddress, Problem,
        orgs::OrgView, orgs::OrgAddressView, orgs::OrgPatch, orgs::UserView, orgs::NewUser, orgs::NewAdmin, orgs::NewEmployee, orgs::AdminRole, orgs::EmployeeRole, orgs::UserPatch, orgs::RoleChoice, orgs::UserPage, orgs::ServiceGrant, orgs::Roles,
        orgs::GroupView, orgs::GroupPage, orgs::NewGroup, orgs::GroupPatch,
        orgs::SubscriptionView, orgs::SubscriptionPage, orgs::NewSubscription,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The OpenAPI document with this installation's server URL.
pub fn document(base: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![utoipa::openapi::Server::new(base)]);
    doc
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi(State(state): State<AppState>) -> Response {
    Json(document(&state.config.url(paths::API))).into_response()
}
