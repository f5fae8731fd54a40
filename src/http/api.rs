//! The resource API under `/api/v1` (PRODUCT §9), set up once for every resource: [`Caller`]
//! checks our access token (signature, `typ`, issuer, audience, expiry, revocation) from the
//! `Authorization` header only, each operation names its scope and level; every error is RFC 9457
//! problem+json, with the RFC 6750 challenge and the RFC 9470 step-up where they apply; the
//! OpenAPI 3.1 document is generated from the types the handlers return.

pub mod idempotent;
pub mod paging;
pub mod preconditions;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, extract::Request};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::error::bearer_header;
use crate::clock::{self, Timestamp};
use crate::grants::access::{self, AccessError, ActiveToken};
use crate::paths;
use crate::protocol::scope::ACCOUNT;
use crate::state::AppState;
use crate::trust::TrustLevel;

/// The API's routes, to be nested under [`paths::API`]; anything else there is a problem 404.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::API_ME, get(me))
        .route(paths::API_OPENAPI, get(openapi))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(problems_only))
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `about:blank`: the status says what happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for the developer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For token problems, the RFC 6750 / RFC 9470 error code also in `WWW-Authenticate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why an API request is refused.
#[derive(Debug)]
pub enum ApiError {
    /// No token: a bare challenge (RFC 6750 §3.1).
    Unauthenticated,
    /// A malformed `Authorization` header, or a token outside it.
    InvalidRequest,
    /// The token is invalid, expired or revoked.
    InvalidToken,
    /// The token lacks the operation's scope.
    InsufficientScope(&'static str),
    /// The login behind the token is below the operation's level (RFC 9470).
    StepUp(TrustLevel),
    /// Nothing here for this caller: unknown, or somebody else's (R-API-5).
    NotFound,
    /// A malformed parameter (a cursor, a limit, an `Idempotency-Key`), said for the developer.
    BadRequest(String),
    /// `If-Match` names another version than the current one (RFC 9110 §13.1.1).
    PreconditionFailed,
    /// The first request with this `Idempotency-Key` still runs.
    KeyInUse,
    /// The `Idempotency-Key` was used for a different request.
    KeyReused,
    /// A backing store failed.
    Unavailable,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, Option<&'static str>, String) {
        match self {
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, None, "an access token is required".into()),
            ApiError::InvalidRequest => (
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                "send the token as `Authorization: Bearer …`, once".into(),
            ),
            ApiError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                Some("invalid_token"),
                "the access token is invalid, expired or revoked".into(),
            ),
            ApiError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
                format!("this operation needs a user token with the scope {scope}"),
            ),
            ApiError::StepUp(level) => (
                StatusCode::UNAUTHORIZED,
                Some("insufficient_user_authentication"),
                format!("this operation needs a login at {}", level.acr()),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, None, "no such resource".into()),
            ApiError::BadRequest(why) => (StatusCode::BAD_REQUEST, None, why.clone()),
            ApiError::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                None,
                "the resource changed since it was read; read it again".into(),
            ),
            ApiError::KeyInUse => (
                StatusCode::CONFLICT,
                None,
                "a request with this Idempotency-Key is still running; retry later".into(),
            ),
            ApiError::KeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                "this Idempotency-Key was used for a different request".into(),
            ),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, None, "try again shortly".into()),
        }
    }

    fn challenge(&self) -> Option<String> {
        let realm = "Bearer realm=\"servicekonto\"";
        Some(match self {
            ApiError::Unauthenticated => realm.to_string(),
            ApiError::InvalidRequest => format!("{realm}, error=\"invalid_request\""),
            ApiError::InvalidToken => format!("{realm}, error=\"invalid_token\""),
            ApiError::InsufficientScope(scope) => format!("{realm}, error=\"insufficient_scope\", scope=\"{scope}\""),
            ApiError::StepUp(level) => format!(
                "{realm}, error=\"insufficient_user_authentication\", acr_values=\"{}\"",
                level.acr()
            ),
            ApiError::NotFound
            | ApiError::BadRequest(_)
            | ApiError::PreconditionFailed
            | ApiError::KeyInUse
            | ApiError::KeyReused
            | ApiError::Unavailable => return None,
        })
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        ApiError::Unavailable
    }
}

fn problem(status: StatusCode, error: Option<&str>, detail: Option<String>) -> Response {
    let body = Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
        error: error.map(str::to_owned),
    };
    let mut res = (status, Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, detail) = self.parts();
        let mut res = problem(status, error, Some(detail));
        if let Some(v) = self.challenge().and_then(|c| HeaderValue::from_str(&c).ok()) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        if matches!(self, ApiError::Unavailable | ApiError::KeyInUse) {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        res
    }
}

/// Whatever the framework answers by itself under `/api/v1` (a wrong method, a rejected
/// extractor) becomes problem+json too, its headers (`Allow`) kept.
async fn problems_only(request: Request, next: Next) -> Response {
    let res = next.run(request).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/problem+json"));
    if res.status().is_success() || is_json {
        return res;
    }
    let (parts, _) = res.into_parts();
    let mut out = problem(parts.status, None, None);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// The caller of an operation: a checked access token, and the time of the request.
pub struct Caller {
    /// The token, verified and not revoked.
    pub token: ActiveToken,
    /// When the request came (read once).
    pub now: Timestamp,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // RFC 9700 §4.3.2: never a token in the query, not even beside a header.
        if parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token=")))
        {
            return Err(ApiError::InvalidRequest);
        }
        let token = bearer_header(&parts.headers)
            .map_err(|_| ApiError::InvalidRequest)?
            .ok_or(ApiError::Unauthenticated)?;
        let now = state.clock.now();
        let token = access::check(&state.tokens, &state.store, token, now).await.map_err(|e| match e {
            AccessError::Invalid => ApiError::InvalidToken,
            AccessError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                ApiError::Unavailable
            }
        })?;
        if !state.tokens.is_for_api(&token.claims) {
            return Err(ApiError::InvalidToken);
        }
        Ok(Caller { token, now })
    }
}

impl Caller {
    /// Refuses the caller unless the token carries `scope` and its login reached `level`.
    pub fn require(&self, scope: &'static str, level: TrustLevel) -> Result<(), ApiError> {
        if !self.token.scopes().contains(scope) {
            return Err(ApiError::InsufficientScope(scope));
        }
        if self.token.level().unwrap_or(TrustLevel::Basic) < level {
            return Err(ApiError::StepUp(level));
        }
        Ok(())
    }
}

/// The caller's own account, as `GET /api/v1/me` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The account's identifier as this service knows it: the token's `sub`.
    pub sub: String,
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// The login email.
    pub email: String,
    /// Whether the email address was confirmed.
    pub email_verified: bool,
    /// The account's trust level as an `acr` value.
    pub level: String,
    /// For a Servicekonto Plus: the verified data and how they were verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
}

/// Verified identity data (Servicekonto Plus).
#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    /// `eid` (online ID function), `kundenzentrum` (in person) or `operator` (set by the
    /// operator's command line).
    pub method: String,
    /// When, as an RFC 3339 UTC time.
    pub verified_at: String,
    /// Date of birth, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    /// Postal address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<PostalAddress>,
    /// Birth name, when the eID gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_name: Option<String>,
    /// Place of birth, when the eID gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place_of_birth: Option<String>,
    /// Nationality (ISO 3166-1 alpha-2), when the eID gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
}

/// A postal address.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostalAddress {
    /// Street.
    pub street: String,
    /// House number.
    pub house_number: String,
    /// Postal code.
    pub postal_code: String,
    /// City.
    pub city: String,
    /// Country (ISO 3166-1 alpha-2).
    pub country: String,
}

/// `GET /api/v1/me`.
#[utoipa::path(
    get,
    path = "/me",
    tag = "account",
    summary = "The caller's own account",
    description = "The account behind a user token with the scope `account`: names, email, level and, for a Servicekonto Plus, the verified data with how they were verified.",
    security(("bearer" = ["account"])),
    responses(
        (status = 200, description = "The account", body = Me),
        (status = 400, description = "A malformed Authorization header", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or an invalid, expired or revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the scope `account`, or stands for no person", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The person has no account here (a login through another Land)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Try again shortly", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    caller.require(ACCOUNT, TrustLevel::Basic)?;
    if caller.token.federated.is_some() {
        return Err(ApiError::NotFound);
    }
    let Some(grant) = &caller.token.grant else {
        // A client-credentials token stands for the service, not for a person.
        return Err(ApiError::InsufficientScope(ACCOUNT));
    };
    let found = crate::accounts::with_verification(&state.store, &grant.account_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "store failure");
            ApiError::Unavailable
        })?;
    let Some((account, verification)) = found else {
        return Err(ApiError::InvalidToken);
    };
    // A Plus account without a verification record was marked verified by an operator
    // (`account add --plus`).
    let plus = account.level >= TrustLevel::Plus;
    let verified = plus.then(|| {
        let v = verification.unwrap_or_else(|| crate::accounts::eid::Verification {
            method: "operator".into(),
            verified_at: account.created_at,
            birth_name: None,
            place_of_birth: None,
            nationality: None,
            document_type: None,
        });
        (v, account.birthdate.clone(), account.address.clone())
    });
    let verified = verified.map(|(v, birthdate, address)| Verified {
        method: v.method,
        verified_at: clock::rfc3339(v.verified_at).unwrap_or_default(),
        birthdate,
        address: address.map(|a| PostalAddress {
            street: a.street,
            house_number: a.house_number,
            postal_code: a.postal_code,
            city: a.city,
            country: a.country,
        }),
        birth_name: v.birth_name,
        place_of_birth: v.place_of_birth,
        nationality: v.nationality,
    });
    Ok(Json(Me {
        sub: caller.token.claims.sub.clone(),
        given_name: account.given_name,
        family_name: account.family_name,
        email: account.email,
        email_verified: account.email_verified,
        level: account.level.acr().into(),
        verified,
    }))
}

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
    paths(me),
    components(schemas(Me, Verified, PostalAddress, Problem)),
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
async fn openapi(State(state): State<AppState>) -> Response {
    Json(document(&state.config.url(paths::API))).into_response()
}
