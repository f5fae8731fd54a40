//! Provider metadata (OIDC Discovery 1.0 §3, RFC 8414) and the JWK Set (RFC 7517), built from
//! the route constants and the configuration.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::Config;
use crate::grants::claims::{ORG_CLAIMS, user_claims};
use crate::keys::Keys;
use crate::paths;
use crate::protocol::scope;
use crate::state::AppState;
use crate::trust::acr_values_supported;

/// The metadata document.
pub fn document(config: &Config) -> Value {
    let mut claims: Vec<&str> = vec![
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "sid",
        "at_hash",
    ];
    claims.extend(user_claims());
    claims.extend(ORG_CLAIMS);
    let auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
    let signing_algs = ["RS256", "ES256"];
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.url(paths::AUTHORIZE),
        "token_endpoint": config.url(paths::TOKEN),
        "userinfo_endpoint": config.url(paths::USERINFO),
        "jwks_uri": config.url(paths::JWKS),
        "end_session_endpoint": config.url(paths::LOGOUT),
        "revocation_endpoint": config.url(paths::REVOKE),
        "introspection_endpoint": config.url(paths::INTROSPECT),
        "scopes_supported": scope::SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": signing_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": signing_algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": signing_algs,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims,
        "claims_parameter_supported": true,
        "backchannel_logout_supported": true,
        // OpenID Connect for Identity Assurance 1.0 (R-ACR-7).
        "verified_claims_supported": true,
        "trust_frameworks_supported": ["eidas"],
        "evidence_supported": ["document"],
        "documents_supported": ["idcard", "passport", "residence_permit"],
        "claims_in_verified_claims_supported": crate::grants::claims::VERIFIABLE,
        "backchannel_logout_session_supported": true,
        "claim_types_supported": ["normal"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "acr_values_supported": acr_values_supported(),
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "ui_locales_supported": ["de", "en"],
        "claims_locales_supported": ["de"],
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
    })
}

fn cacheable(v: Value) -> Response {
    let mut res = Json(v).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    res.headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

/// `GET /.well-known/openid-configuration`.
pub async fn metadata(State(state): State<AppState>) -> Response {
    cacheable(document(&state.config))
}

/// `GET /jwks`.
pub async fn jwks(State(keys): State<Keys>, State(clock): State<crate::clock::Clock>) -> Response {
    cacheable(keys.jwks(clock.now()))
}
