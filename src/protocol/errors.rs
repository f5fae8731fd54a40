//! OAuth 2.0 error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009; OIDC Core §3.1.2.6)
//! and the error value that carries one with a description.

use std::fmt;

/// Every error code we send; `Display` is the exact spec string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    /// Malformed or missing parameter.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// Code, refresh token or credentials invalid, expired, revoked or mis-bound.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// Grant type not supported.
    UnsupportedGrantType,
    /// Response type not supported.
    UnsupportedResponseType,
    /// Scope unknown or not allowed.
    InvalidScope,
    /// The user or the server refused.
    AccessDenied,
    /// Unexpected failure.
    ServerError,
    /// Temporarily unable to serve.
    TemporarilyUnavailable,
    /// Token hint type unknown (RFC 7009).
    UnsupportedTokenType,
    /// Bearer token invalid (RFC 6750).
    InvalidToken,
    /// Bearer token lacks scope (RFC 6750).
    InsufficientScope,
    /// prompt=none but the user must log in.
    LoginRequired,
    /// prompt=none but consent is missing.
    ConsentRequired,
    /// prompt=none but some interaction is needed.
    InteractionRequired,
    /// The `request` parameter is not supported.
    RequestNotSupported,
    /// The `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// The requested authentication level cannot be reached.
    UnmetAuthenticationRequirements,
}

impl OAuthErrorCode {
    /// The spec string.
    pub fn as_str(self) -> &'static str {
        use OAuthErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            UnsupportedResponseType => "unsupported_response_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
            UnsupportedTokenType => "unsupported_token_type",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            LoginRequired => "login_required",
            ConsentRequired => "consent_required",
            InteractionRequired => "interaction_required",
            RequestNotSupported => "request_not_supported",
            RequestUriNotSupported => "request_uri_not_supported",
            UnmetAuthenticationRequirements => "unmet_authentication_requirements",
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error with a human-readable description (never containing secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The code.
    pub code: OAuthErrorCode,
    /// `error_description`.
    pub description: String,
}

impl OAuthError {
    /// Builds an error.
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant` with a description.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    /// `invalid_client` with a description.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }

    /// `server_error`; the cause is logged by the caller, not sent.
    pub fn server_error() -> Self {
        Self::new(OAuthErrorCode::ServerError, "internal error")
    }

    /// `temporarily_unavailable`.
    pub fn unavailable() -> Self {
        Self::new(OAuthErrorCode::TemporarilyUnavailable, "a backing service is unavailable")
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}
