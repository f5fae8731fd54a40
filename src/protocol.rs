//! Wire types of OAuth 2.0 / OpenID Connect, parsed once at the edge. After parsing, the rest
//! of the code handles typed values only.

pub mod authorize;
pub mod claims;
pub mod errors;
pub mod params;
pub mod scope;
pub mod token;

pub use errors::{OAuthError, OAuthErrorCode};
