//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636 §4.3), parsed
//! in two steps: first the client and redirect URI (errors there go to an HTML page, never to
//! the unverified redirect URI), then everything else (errors go back to the client).

use serde::{Deserialize, Serialize};

use super::claims::ClaimsRequest;
use super::params::Params;
use super::scope::Scopes;
use super::{OAuthError, OAuthErrorCode};
use crate::ids::ClientId;
use crate::trust::AcrRequest;

/// How the authorization response travels back (OAuth 2.0 Multiple Response Types, Form Post).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    /// Query parameters on the redirect URI.
    Query,
    /// An auto-submitting HTML form posting to the redirect URI.
    FormPost,
}

/// The `prompt` values we act on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// Show no page at all.
    pub none: bool,
    /// Ask for credentials again.
    pub login: bool,
    /// Ask for consent again.
    pub consent: bool,
}

/// The language of the pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// German, the portal's language.
    #[default]
    De,
    /// English.
    En,
}

impl Locale {
    /// The first supported language of a `ui_locales` list (BCP 47 tags, space-separated).
    pub fn from_ui_locales(list: &str) -> Locale {
        for tag in list.split(' ') {
            let primary = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
            match primary.as_str() {
                "de" => return Locale::De,
                "en" => return Locale::En,
                _ => {}
            }
        }
        Locale::De
    }

    /// The language tag.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::De => "de",
            Locale::En => "en",
        }
    }
}

/// The client and redirect URI of a request, before they are checked against registration.
#[derive(Debug, Clone)]
pub struct Target {
    /// `client_id`.
    pub client_id: ClientId,
    /// `redirect_uri`, compared exactly with the registered ones.
    pub redirect_uri: String,
}

/// Why the target could not be read; shown to the person, never redirected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetError {
    /// No `client_id`.
    MissingClient,
    /// No `redirect_uri` (OIDC requires it).
    MissingRedirectUri,
}

/// An authorization error to send back to the client, with what is needed to address it.
#[derive(Debug, Clone)]
pub struct RedirectError {
    /// The error.
    pub error: OAuthError,
    /// `state` to echo.
    pub state: Option<String>,
    /// How to send it.
    pub response_mode: ResponseMode,
}

/// A fully parsed and checked authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// The client.
    pub client_id: ClientId,
    /// The registered redirect URI it named.
    pub redirect_uri: String,
    /// How to answer.
    pub response_mode: ResponseMode,
    /// Requested scopes, already narrowed to what the client may ask for.
    pub scope: Scopes,
    /// Opaque client state to echo.
    pub state: Option<String>,
    /// Nonce for the ID token.
    pub nonce: Option<String>,
    /// Prompt flags.
    pub prompt: Prompt,
    /// Maximum age of the authentication in seconds.
    pub max_age: Option<i64>,
    /// Email to prefill.
    pub login_hint: Option<String>,
    /// A previously issued ID token naming the expected user.
    pub id_token_hint: Option<String>,
    /// Page language.
    pub locale: Locale,
    /// Requested trust level.
    pub acr: AcrRequest,
    /// The claims parameter.
    pub claims: ClaimsRequest,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
}

/// Step one: client and redirect URI.
pub fn parse_target(params: &Params) -> Result<Target, TargetError> {
    let client_id = params.get("client_id").ok_or(TargetError::MissingClient)?;
    let redirect_uri = params.get("redirect_uri").ok_or(TargetError::MissingRedirectUri)?;
    Ok(Target {
        client_id: ClientId::new(client_id),
        redirect_uri: redirect_uri.to_string(),
    })
}

fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Step two: everything else, for a client whose redirect URI is verified. `allowed` are the
/// scopes the client may ask for; `public_client` makes PKCE mandatory.
pub fn parse(params: &Params, target: Target, allowed: &Scopes, public_client: bool) -> Result<AuthorizeRequest, RedirectError> {
    let state = params.get("state").map(str::to_owned);
    let response_mode = match params.get("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(other) => Err(OAuthError::invalid_request(format!("response_mode {other} is not supported"))),
    };
    let fail = |error: OAuthError, mode: ResponseMode| RedirectError {
        error,
        state: state.clone(),
        response_mode: mode,
    };
    let response_mode = response_mode.map_err(|e| fail(e, ResponseMode::Query))?;
    let err = |error: OAuthError| fail(error, response_mode);

    if params.has("request") {
        return Err(err(OAuthError::new(
            OAuthErrorCode::RequestNotSupported,
            "request objects are not supported",
        )));
    }
    if params.has("request_uri") {
        return Err(err(OAuthError::new(
            OAuthErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        )));
    }
    match params.get("response_type") {
        None => return Err(err(OAuthError::invalid_request("missing parameter response_type"))),
        Some("code") => {}
        Some(other) => {
            return Err(err(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                format!("response_type {other} is not supported; use code"),
            )));
        }
    }
    let requested =
        Scopes::parse(params.require("scope").map_err(err)?).map_err(|e| err(OAuthError::new(OAuthErrorCode::InvalidScope, e)))?;
    let scope = requested.intersect(allowed);
    if scope.is_empty() {
        return Err(err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            "none of the requested scopes is allowed for this client",
        )));
    }

    let mut prompt = Prompt::default();
    if let Some(p) = params.get("prompt") {
        for value in p.split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => {
                    return Err(err(OAuthError::invalid_request(
                        "prompt=select_account is not supported: one browser session holds one account",
                    )));
                }
                other => return Err(err(OAuthError::invalid_request(format!("prompt value {other} is not supported")))),
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(err(OAuthError::invalid_request("prompt=none cannot be combined with other values")));
        }
    }

    let max_age = match params.get("max_age") {
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| err(OAuthError::invalid_request("max_age must be a non-negative integer")))?,
        ),
        None => None,
    };

    let code_challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
        (Some(c), Some("S256")) if is_pkce_value(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => {
            return Err(err(OAuthError::invalid_request(
                "code_challenge must be 43-128 unreserved characters",
            )));
        }
        (Some(_), Some(m)) => {
            return Err(err(OAuthError::invalid_request(format!(
                "code_challenge_method {m} is not supported; use S256"
            ))));
        }
        (Some(_), None) => {
            return Err(err(OAuthError::invalid_request(
                "code_challenge_method is required and must be S256",
            )));
        }
        (None, Some(_)) => return Err(err(OAuthError::invalid_request("code_challenge_method without code_challenge"))),
        (None, None) => None,
    };
    if public_client && code_challenge.is_none() {
        return Err(err(OAuthError::invalid_request(
            "public clients must use PKCE (code_challenge with S256)",
        )));
    }

    let claims = match params.get("claims") {
        Some(json) => ClaimsRequest::parse(json)
            .map_err(|e| err(OAuthError::invalid_request(e)))?
            .within(allowed),
        None => ClaimsRequest::default(),
    };
    let acr = match claims.acr() {
        Some(from_claims) if from_claims.essential || params.get("acr_values").is_none() => from_claims,
        _ => AcrRequest {
            values: params
                .get("acr_values")
                .map(|v| v.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            essential: false,
        },
    };

    Ok(AuthorizeRequest {
        client_id: target.client_id,
        redirect_uri: target.redirect_uri,
        response_mode,
        scope,
        state,
        nonce: params.get("nonce").map(str::to_owned),
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
        id_token_hint: params.get("id_token_hint").map(str::to_owned),
        locale: params.get("ui_locales").map(Locale::from_ui_locales).unwrap_or_default(),
        acr,
        claims,
        code_challenge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(q: &str, public: bool) -> Result<AuthorizeRequest, RedirectError> {
        let p = Params::parse(q).unwrap();
        let t = parse_target(&p).unwrap();
        parse(&p, t, &Scopes::parse("openid email profile").unwrap(), public)
    }

    const BASE: &str = "client_id=c&redirect_uri=https%3A%2F%2Frp%2Fcb&scope=openid%20email%20phone&state=s";

    #[test]
    fn parses_a_plain_request_and_narrows_scope() {
        let r = run(&format!("{BASE}&response_type=code&ui_locales=fr%20en-GB&max_age=0"), false).unwrap();
        assert_eq!(r.scope.to_string(), "email openid");
        assert_eq!(r.locale, Locale::En);
        assert_eq!(r.max_age, Some(0));
    }

    #[test]
    fn errors_carry_state_and_mode() {
        let e = run(&format!("{BASE}&response_mode=form_post"), false).unwrap_err();
        assert_eq!(e.error.code, OAuthErrorCode::InvalidRequest);
        assert_eq!(e.state.as_deref(), Some("s"));
        assert_eq!(e.response_mode, ResponseMode::FormPost);
        let e = run(&format!("{BASE}&response_type=token"), false).unwrap_err();
        assert_eq!(e.error.code, OAuthErrorCode::UnsupportedResponseType);
    }

    #[test]
    fn pkce_plain_is_refused_and_public_clients_need_it() {
        let v = "a".repeat(43);
        assert!(
            run(
                &format!("{BASE}&response_type=code&code_challenge={v}&code_challenge_method=plain"),
                false
            )
            .is_err()
        );
        assert!(run(&format!("{BASE}&response_type=code&code_challenge={v}"), false).is_err());
        assert!(run(&format!("{BASE}&response_type=code"), true).is_err());
        assert!(
            run(
                &format!("{BASE}&response_type=code&code_challenge={v}&code_challenge_method=S256"),
                true
            )
            .is_ok()
        );
    }

    #[test]
    fn prompt_rules() {
        assert!(run(&format!("{BASE}&response_type=code&prompt=none%20login"), false).is_err());
        let e = run(&format!("{BASE}&response_type=code&prompt=select_account"), false).unwrap_err();
        assert!(e.error.description.contains("select_account"));
        assert!(run(&format!("{BASE}&response_type=code&prompt=login%20consent"), false).is_ok());
    }

    #[test]
    fn request_objects_are_rejected_as_unsupported() {
        let e = run(&format!("{BASE}&response_type=code&request=eyJ"), false).unwrap_err();
        assert_eq!(e.error.code, OAuthErrorCode::RequestNotSupported);
        let e = run(&format!("{BASE}&response_type=code&request_uri=https%3A%2F%2Fx"), false).unwrap_err();
        assert_eq!(e.error.code, OAuthErrorCode::RequestUriNotSupported);
    }
}
