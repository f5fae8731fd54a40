//! Token requests (RFC 6749 §4.1.3, §4.4.2, §6; RFC 7636 §4.5), parsed from the form body.

use super::params::Params;
use super::scope::Scopes;
use super::{OAuthError, OAuthErrorCode};
use crate::secret::Secret;

/// A token request after its grant-specific parameters were read.
#[derive(Debug)]
pub enum TokenRequest {
    /// Redeem an authorization code.
    AuthorizationCode {
        /// The code.
        code: Secret<String>,
        /// Must equal the authorization request's redirect URI.
        redirect_uri: Option<String>,
        /// PKCE verifier.
        code_verifier: Option<Secret<String>>,
    },
    /// Rotate a refresh token.
    RefreshToken {
        /// The refresh token.
        refresh_token: Secret<String>,
        /// A narrower scope, if asked for.
        scope: Option<Scopes>,
    },
    /// A machine token for the client itself.
    ClientCredentials {
        /// Requested scope.
        scope: Option<Scopes>,
    },
}

fn scope(params: &Params) -> Result<Option<Scopes>, OAuthError> {
    params
        .get("scope")
        .map(|s| Scopes::parse(s).map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e)))
        .transpose()
}

impl TokenRequest {
    /// Reads the grant from the form.
    pub fn parse(params: &Params) -> Result<TokenRequest, OAuthError> {
        match params.require("grant_type")? {
            "authorization_code" => Ok(TokenRequest::AuthorizationCode {
                code: Secret::new(params.require("code")?.to_string()),
                redirect_uri: params.get("redirect_uri").map(str::to_owned),
                code_verifier: params.get("code_verifier").map(|v| Secret::new(v.to_string())),
            }),
            "refresh_token" => Ok(TokenRequest::RefreshToken {
                refresh_token: Secret::new(params.require("refresh_token")?.to_string()),
                scope: scope(params)?,
            }),
            "client_credentials" => Ok(TokenRequest::ClientCredentials { scope: scope(params)? }),
            other => Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                format!("grant_type {other} is not supported"),
            )),
        }
    }
}
