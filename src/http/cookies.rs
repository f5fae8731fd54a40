//! Cookies: the login-session cookie and the browser cookie that binds CSRF tokens and
//! authorization transactions to one browser. Only session cookies (no `Max-Age`), HttpOnly,
//! SameSite=Lax, Secure on https issuers (R-SES-3), and there named with the `__Host-` prefix.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

use crate::config::Config;
use crate::secret::{KeyRing, random_token, sha256_b64};

/// Name of the login-session cookie.
pub const SESSION: &str = "sk_session";
/// Name of the staff session cookie (separate from citizens' sessions).
pub const STAFF_SESSION: &str = "sk_staff";
/// Name of the browser cookie.
pub const BROWSER: &str = "sk_browser";

/// The request's cookies.
#[derive(Debug, Clone, Default)]
pub struct Cookies(HashMap<String, String>);

impl Cookies {
    /// A cookie's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// The prefix that makes a browser keep a cookie only if it was set by this host over https,
/// for the whole host (`Secure`, `Path=/`, no `Domain`): a sibling subdomain cannot plant one.
const HOST_PREFIX: &str = "__Host-";

/// A cookie's name on the wire: with the `__Host-` prefix on https issuers.
fn wire_name(name: &str, secure: bool) -> String {
    if secure { format!("{HOST_PREFIX}{name}") } else { name.to_string() }
}

impl<S> FromRequestParts<S> for Cookies
where
    S: Send + Sync,
    Arc<Config>: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let secure = Arc::<Config>::from_ref(state).issuer_is_https();
        let mut map = HashMap::new();
        for value in parts.headers.get_all(header::COOKIE) {
            for pair in value.to_str().unwrap_or("").split(';') {
                let Some((k, v)) = pair.trim().split_once('=') else { continue };
                // On https only the prefixed names count, so a cookie tossed in from another
                // subdomain under the plain name is ignored.
                let name = match (secure, k.strip_prefix(HOST_PREFIX)) {
                    (true, Some(name)) => name,
                    (false, None) => k,
                    _ => continue,
                };
                map.entry(name.to_string()).or_insert_with(|| v.to_string());
            }
        }
        Ok(Cookies(map))
    }
}

/// Builds a `Set-Cookie` value.
pub fn set(name: &str, value: &str, secure: bool) -> HeaderValue {
    let flag = if secure { "; Secure" } else { "" };
    let name = wire_name(name, secure);
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{flag}")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Builds a `Set-Cookie` value that deletes the cookie.
pub fn clear(name: &str, secure: bool) -> HeaderValue {
    let flag = if secure { "; Secure" } else { "" };
    let name = wire_name(name, secure);
    HeaderValue::from_str(&format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{flag}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The browser's identity for CSRF and transaction binding; created when missing.
#[derive(Debug, Clone)]
pub struct Browser {
    value: String,
    fresh: bool,
}

impl Browser {
    /// Reads the browser cookie or makes a new one.
    pub fn from_cookies(cookies: &Cookies) -> Browser {
        match cookies.get(BROWSER).filter(|v| v.len() == 43) {
            Some(v) => Browser {
                value: v.to_string(),
                fresh: false,
            },
            None => Browser {
                value: random_token(32),
                fresh: true,
            },
        }
    }

    /// What transactions store to recognise this browser.
    pub fn binding(&self) -> String {
        sha256_b64(self.value.as_bytes())
    }

    /// The CSRF token for forms shown to this browser.
    pub fn csrf_token(&self, key: &KeyRing) -> String {
        key.tag(format!("csrf|{}", self.value).as_bytes())
    }

    /// Whether a submitted CSRF token belongs to this browser. A browser that had no cookie
    /// cannot have a valid token.
    pub fn csrf_ok(&self, key: &KeyRing, submitted: &str) -> bool {
        !self.fresh && key.verify(format!("csrf|{}", self.value).as_bytes(), submitted)
    }

    /// Adds the `Set-Cookie` header when the cookie is new.
    pub fn persist(&self, headers: &mut HeaderMap, secure: bool) {
        if self.fresh {
            headers.append(header::SET_COOKIE, set(BROWSER, &self.value, secure));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_ses_3_cookies_are_session_only_http_only_lax_and_secure_on_https() {
        let plain = set(SESSION, "v", false);
        assert_eq!(plain, "sk_session=v; Path=/; HttpOnly; SameSite=Lax");
        let secure = set(SESSION, "v", true);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
        assert!(
            secure.to_str().unwrap().starts_with("__Host-sk_session=v; Path=/;"),
            "no Domain, the whole host"
        );
        assert!(clear(BROWSER, true).to_str().unwrap().starts_with("__Host-sk_browser=;"));
        assert!(clear(SESSION, false).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn csrf_tokens_belong_to_one_browser() {
        let a = Browser {
            value: "a".repeat(43),
            fresh: false,
        };
        let b = Browser {
            value: "b".repeat(43),
            fresh: false,
        };
        let key = &KeyRing::new([(1, vec![7; 32])]).unwrap();
        assert!(a.csrf_ok(key, &a.csrf_token(key)));
        assert!(!b.csrf_ok(key, &a.csrf_token(key)));
        let fresh = Browser {
            value: "a".repeat(43),
            fresh: true,
        };
        assert!(!fresh.csrf_ok(key, &a.csrf_token(key)), "no cookie, no valid token");
    }
}
