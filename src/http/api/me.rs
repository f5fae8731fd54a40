//! `GET /api/v1/me`: the caller's own account (scope `account`).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, Caller, Problem};
use crate::clock;
use crate::protocol::scope::ACCOUNT;
use crate::state::AppState;
use crate::trust::TrustLevel;

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
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
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
