//! What we fetch from other parties — clients' JWK Sets, upstreams' discovery documents, keys,
//! tokens and userinfo — through one client with one policy: https only (http to a loopback
//! address for development and tests), no redirects followed, a timeout, and a size limit, so a
//! misconfigured or hostile URL can neither send us elsewhere nor make us read without end.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};
use serde_json::Value;

/// The most we read of one answer.
pub const MAX_BYTES: usize = 256 * 1024;

/// Why a document could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Neither https nor http to a loopback address.
    #[error("{0} is neither https nor http to a loopback address")]
    Scheme(String),
    /// The answer was a redirect; we follow none.
    #[error("redirect refused")]
    Redirect,
    /// The answer is larger than [`MAX_BYTES`].
    #[error("the answer exceeds {MAX_BYTES} bytes")]
    TooLarge,
    /// Connecting, reading or parsing failed, or the status was an error.
    #[error("{0}")]
    Http(String),
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether `url` may be fetched: https, or http to a loopback address.
pub fn allowed(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

/// The one client for other parties' documents.
#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    /// Development only (`allow_simulators`): plain http to any host, for a simulator elsewhere.
    plain_http_anywhere: bool,
}

/// A boxed, sendable future (what the OpenID Connect client wants of an HTTP client).
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Fetcher {
    /// A fetcher whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Fetcher {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Fetcher {
            http,
            plain_http_anywhere: false,
        }
    }

    /// The same, but plain http to any host allowed (development with a simulator on another
    /// machine, `allow_simulators`; never in production).
    pub fn allowing_plain_http(self, allow: bool) -> Fetcher {
        Fetcher {
            plain_http_anywhere: allow,
            ..self
        }
    }

    fn permits(&self, url: &url::Url) -> bool {
        allowed(url) || (self.plain_http_anywhere && url.scheme() == "http")
    }

    /// Sends `request` under the policy; the status, headers and (limited) body.
    async fn execute(&self, request: reqwest::Request) -> Result<reqwest::Response, FetchError> {
        if !self.permits(request.url()) {
            return Err(FetchError::Scheme(request.url().to_string()));
        }
        let res = self.http.execute(request).await.map_err(|e| FetchError::Http(e.to_string()))?;
        if res.status().is_redirection() {
            return Err(FetchError::Redirect);
        }
        if res.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
            return Err(FetchError::TooLarge);
        }
        Ok(res)
    }

    /// Reads a body, refusing one larger than [`MAX_BYTES`] while it arrives.
    async fn read(mut res: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| FetchError::Http(e.to_string()))? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// GETs a JSON document (a client's JWK Set, an upstream's discovery document), with
    /// `bearer` as the access token when given (userinfo).
    pub async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, FetchError> {
        let mut request = self.http.get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let request = request.build().map_err(|e| FetchError::Http(e.to_string()))?;
        let res = self.execute(request).await?;
        if !res.status().is_success() {
            return Err(FetchError::Http(format!("status {}", res.status())));
        }
        let body = Self::read(res).await?;
        serde_json::from_slice(&body).map_err(|e| FetchError::Http(format!("not JSON: {e}")))
    }

    /// The same policy as an HTTP client for `openidconnect` (discovery, keys, token, userinfo).
    pub fn oidc(&self) -> impl Fn(HttpRequest) -> BoxFuture<Result<HttpResponse, FetchError>> + use<> {
        let fetcher = self.clone();
        move |request: HttpRequest| {
            let fetcher = fetcher.clone();
            Box::pin(async move {
                let request = reqwest::Request::try_from(request).map_err(|e| FetchError::Http(e.to_string()))?;
                let res = fetcher.execute(request).await?;
                let mut answer = openidconnect::http::Response::builder().status(res.status());
                for (name, value) in res.headers() {
                    answer = answer.header(name, value);
                }
                let body = Self::read(res).await?;
                answer.body(body).map_err(|e| FetchError::Http(e.to_string()))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_and_loopback_http_may_be_fetched() {
        for ok in [
            "https://rp.example/jwks",
            "http://127.0.0.1:9/jwks",
            "http://localhost/x",
            "http://[::1]:8/k",
        ] {
            assert!(allowed(&url::Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://rp.example/jwks",
            "http://10.0.0.1/jwks",
            "ftp://rp.example/k",
            "file:///etc/passwd",
        ] {
            assert!(!allowed(&url::Url::parse(bad).unwrap()), "{bad}");
        }
    }
}
