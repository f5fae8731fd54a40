//! The OpenID Provider every simulator is (development only): discovery, keys, a page where
//! the tester picks who authenticates, the code flow with PKCE, client authentication by
//! secret or `private_key_jwt`, and userinfo. What is simulated — the eID service, ELSTER —
//! says who can be picked and what their claims are ([`Played`]). A "fault" choice makes the
//! ID token wrong on purpose (signature, nonce, issuer, audience, expiry), so the IdP's checks
//! are tested against a peer in another process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::escape;
use crate::config::SigningAlg;
use crate::keys::jws::{self, PrivateKey};
use crate::keys::new_private_key;
use crate::secret::{Secret, constant_time_eq, random_token, sha256_b64};
use crate::upstream::SIMULATOR_MARKER;

/// Ways the simulator can answer wrongly on purpose.
const FAULTS: &[(&str, &str)] = &[
    ("none", "keiner (korrekte Antwort)"),
    ("wrong_signature", "ID-Token mit falscher Signatur"),
    ("wrong_nonce", "ID-Token mit falscher Nonce"),
    ("wrong_issuer", "ID-Token mit fremdem Aussteller"),
    ("wrong_audience", "ID-Token für einen anderen Client"),
    ("expired", "abgelaufenes ID-Token"),
];

/// The texts of a simulator's page.
pub struct PageText {
    /// Name in the title and the warning line, e.g. "eID-Simulator".
    pub name: &'static str,
    /// The heading.
    pub heading: &'static str,
    /// Legend of the choice of who authenticates.
    pub legend: &'static str,
    /// The button that authenticates.
    pub submit: &'static str,
    /// A checkbox (name, label), ticked by default, passed to [`Played::claims`].
    pub option: Option<(&'static str, &'static str)>,
}

/// What a simulated upstream is: who can authenticate there and what its answer says.
pub trait Played: Send + Sync + 'static {
    /// The page's texts.
    fn text(&self) -> PageText;
    /// The `acr` of every answer.
    fn acr(&self) -> &'static str;
    /// The `amr` of every answer.
    fn amr(&self) -> &'static str;
    /// The claims discovery names.
    fn claims_supported(&self) -> &'static [&'static str];
    /// Who can be picked: key and what the page says about them.
    fn choices(&self) -> Vec<(&'static str, String)>;
    /// The claims (with `sub`) for choice `key`, with the page's checkbox `option`, as released
    /// to `client_id`; `None` for an unknown key.
    fn claims(&self, key: &str, option: bool, client_id: &str) -> Option<Map<String, Value>>;
}

/// How a simulator is started.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Listen address; the issuer is `http://{bind}`.
    pub bind: SocketAddr,
    /// The one client it knows (the IdP).
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret<String>,
    /// The IdP's callback, compared exactly.
    pub redirect_uri: String,
    /// Where the IdP publishes its keys, for private_key_jwt client authentication.
    pub client_jwks_uri: Option<String>,
}

#[derive(Clone)]
struct Grant {
    claims: Map<String, Value>,
    fault: String,
    nonce: Option<String>,
    challenge: Option<String>,
    redirect_uri: String,
    created: i64,
}

struct Inner {
    config: SimConfig,
    played: Box<dyn Played>,
    issuer: String,
    key: PrivateKey,
    kid: String,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, Map<String, Value>>>,
}

type Shared = Arc<Inner>;

/// The simulator's router, with a fresh signing key.
pub fn router(config: SimConfig, played: impl Played) -> Result<Router, String> {
    let key = PrivateKey::from_pkcs8(SigningAlg::RS256, &new_private_key(SigningAlg::RS256)?)?;
    let issuer = format!("http://{}", config.bind);
    let inner = Arc::new(Inner {
        config,
        played: Box::new(played),
        issuer,
        key,
        kid: format!("sim-{}", random_token(6)),
        codes: Mutex::new(HashMap::new()),
        tokens: Mutex::new(HashMap::new()),
    });
    Ok(Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize_page).post(authorize))
        .route("/token", axum::routing::post(token))
        .route("/userinfo", get(userinfo))
        .with_state(inner))
}

/// Runs the simulator until the process ends.
pub async fn serve(mut config: SimConfig, played: impl Played) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(config.bind).await.map_err(|e| e.to_string())?;
    // Port 0 picks a free port: the issuer names the one actually bound, printed as the first
    // line on stdout for whoever started the simulator.
    config.bind = listener.local_addr().map_err(|e| e.to_string())?;
    let name = played.text().name;
    let app = router(config.clone(), played)?;
    println!("http://{}", config.bind);
    tracing::warn!("{name} running — development and tests only, never in production");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

fn now() -> i64 {
    // The simulator is a separate process playing an external service: its own clock.
    crate::clock::now().seconds()
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    let i = &s.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [s.played.acr()],
        "authorization_response_iss_parameter_supported": true,
        "claims_supported": s.played.claims_supported(),
        SIMULATOR_MARKER: true,
    }))
}

async fn jwks(State(s): State<Shared>) -> Json<Value> {
    let mut jwk = s.key.public_key().jwk_members();
    jwk.insert("kid".into(), s.kid.clone().into());
    jwk.insert("use".into(), "sig".into());
    jwk.insert("alg".into(), "RS256".into());
    Json(json!({ "keys": [jwk] }))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

fn page(s: &Inner, body: String) -> Response {
    let name = s.played.text().name;
    Html(format!(
        "<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>{name}</title></head><body><main>\
         <p><strong>{name} — nur für Entwicklung und Tests.</strong></p>{body}</main></body></html>"
    ))
    .into_response()
}

async fn authorize_page(State(s): State<Shared>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id.as_deref() != Some(s.config.client_id.as_str()) || q.redirect_uri.as_deref() != Some(s.config.redirect_uri.as_str()) {
        let body = page(&s, "<p>Unbekannter Client oder Rücksprungadresse.</p>".into());
        return (StatusCode::BAD_REQUEST, body).into_response();
    }
    if q.response_type.as_deref() != Some("code") || q.code_challenge_method.as_deref().is_some_and(|m| m != "S256") {
        return (
            StatusCode::BAD_REQUEST,
            page(&s, "<p>Nur response_type=code mit PKCE S256.</p>".into()),
        )
            .into_response();
    }
    let hidden = |name: &str, v: &Option<String>| {
        v.as_ref()
            .map(|v| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(v)))
            .unwrap_or_default()
    };
    let text = s.played.text();
    let mut choices = String::new();
    for (i, (key, label)) in s.played.choices().iter().enumerate() {
        choices.push_str(&format!(
            "<div><input type=\"radio\" name=\"person\" id=\"person-{key}\" value=\"{key}\"{checked}>\
             <label for=\"person-{key}\">{}</label></div>",
            escape(label),
            checked = if i == 0 { " checked" } else { "" },
        ));
    }
    let option = text
        .option
        .map(|(name, label)| {
            format!(
                "<div><input type=\"checkbox\" id=\"{name}\" name=\"{name}\" value=\"yes\" checked>\
                 <label for=\"{name}\">{}</label></div>",
                escape(label)
            )
        })
        .unwrap_or_default();
    let faults: String = FAULTS
        .iter()
        .map(|(v, label)| format!("<option value=\"{v}\">{}</option>", escape(label)))
        .collect();
    page(
        &s,
        format!(
            "<h1>{heading}</h1><form method=\"post\" action=\"/authorize\">{}{}{}{}\
             <fieldset><legend>{legend}</legend>{choices}</fieldset>{option}\
             <div><label for=\"fault\">Fehlerfall</label> <select id=\"fault\" name=\"fault\">{faults}</select></div>\
             <button type=\"submit\" name=\"decision\" value=\"ok\">{submit}</button> \
             <button type=\"submit\" name=\"decision\" value=\"cancel\">Abbrechen</button></form>",
            hidden("state", &q.state),
            hidden("nonce", &q.nonce),
            hidden("code_challenge", &q.code_challenge),
            hidden("redirect_uri", &q.redirect_uri),
            heading = escape(text.heading),
            legend = escape(text.legend),
            submit = escape(text.submit),
        ),
    )
}

#[derive(Deserialize)]
struct AuthorizeForm {
    person: Option<String>,
    // The page's checkbox, whatever its name (the eID's `pseudonym`).
    #[serde(flatten)]
    rest: HashMap<String, String>,
    #[serde(default)]
    fault: String,
    #[serde(default)]
    decision: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    #[serde(default)]
    redirect_uri: String,
}

async fn authorize(State(s): State<Shared>, Form(f): Form<AuthorizeForm>) -> Response {
    if f.redirect_uri != s.config.redirect_uri {
        return (StatusCode::BAD_REQUEST, page(&s, "<p>Unbekannte Rücksprungadresse.</p>".into())).into_response();
    }
    let mut url = match url::Url::parse(&f.redirect_uri) {
        Ok(u) => u,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    {
        let mut q = url.query_pairs_mut();
        if f.decision == "ok" {
            let option = s.played.text().option.is_some_and(|(name, _)| f.rest.contains_key(name));
            let claims = f
                .person
                .as_deref()
                .and_then(|key| s.played.claims(key, option, &s.config.client_id));
            let Some(claims) = claims else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let code = random_token(24);
            let grant = Grant {
                claims,
                fault: f.fault.clone(),
                nonce: f.nonce.clone(),
                challenge: f.code_challenge.clone(),
                redirect_uri: f.redirect_uri.clone(),
                created: now(),
            };
            if let Ok(mut codes) = s.codes.lock() {
                codes.insert(code.clone(), grant);
            }
            q.append_pair("code", &code);
        } else {
            q.append_pair("error", "access_denied");
        }
        if let Some(st) = &f.state {
            q.append_pair("state", st);
        }
        q.append_pair("iss", &s.issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": code }))).into_response()
}

async fn client_ok(s: &Inner, headers: &HeaderMap, f: &TokenForm) -> bool {
    if f.client_assertion_type.as_deref() == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
        return match (&f.client_assertion, &s.config.client_jwks_uri) {
            (Some(a), Some(uri)) => assertion_ok(s, a, uri).await,
            _ => false,
        };
    }
    let (id, secret) = match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(h) => {
            let Some(decoded) = h
                .strip_prefix("Basic ")
                .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok())
                .and_then(|b| String::from_utf8(b).ok())
            else {
                return false;
            };
            let Some((id, secret)) = decoded.split_once(':') else {
                return false;
            };
            let unescape = |v: &str| {
                url::form_urlencoded::parse(format!("v={v}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            (unescape(id).unwrap_or_default(), unescape(secret).unwrap_or_default())
        }
        None => (f.client_id.clone().unwrap_or_default(), f.client_secret.clone().unwrap_or_default()),
    };
    id == s.config.client_id && constant_time_eq(secret.as_bytes(), s.config.client_secret.expose().as_bytes())
}

/// RFC 7523: a JWT from the client, signed with a key from its JWKS, addressed to our token
/// endpoint.
async fn assertion_ok(s: &Inner, assertion: &str, jwks_uri: &str) -> bool {
    let Ok(parsed) = jws::Unverified::parse(assertion) else {
        return false;
    };
    let Some(kid) = parsed.kid().map(str::to_owned) else { return false };
    let Ok(res) = reqwest::get(jwks_uri).await else { return false };
    let Ok(jwks) = res.json::<Value>().await else { return false };
    let key = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"].as_str() == Some(kid.as_str())))
        .and_then(jws::PublicKey::from_jwk);
    let Some(key) = key else { return false };
    let Ok(claims) = parsed.verify(&key) else { return false };
    let id = s.config.client_id.as_str();
    claims["iss"].as_str() == Some(id)
        && claims["sub"].as_str() == Some(id)
        && claims["aud"].as_str() == Some(format!("{}/token", s.issuer).as_str())
        && claims["exp"].as_i64().is_some_and(|e| e > now())
}

async fn token(State(s): State<Shared>, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    if !client_ok(&s, &headers, &f).await {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_client" }))).into_response();
    }
    if f.grant_type.as_deref() != Some("authorization_code") {
        return oauth_error("unsupported_grant_type");
    }
    let grant = f
        .code
        .as_ref()
        .and_then(|c| s.codes.lock().ok().and_then(|mut codes| codes.remove(c)));
    let Some(g) = grant else { return oauth_error("invalid_grant") };
    let t = now();
    if t - g.created > 60 || f.redirect_uri.as_deref() != Some(g.redirect_uri.as_str()) {
        return oauth_error("invalid_grant");
    }
    if let Some(challenge) = &g.challenge {
        let ok = f.code_verifier.as_ref().is_some_and(|v| sha256_b64(v.as_bytes()) == *challenge);
        if !ok {
            return oauth_error("invalid_grant");
        }
    }
    let mut claims = g.claims.clone();
    let fault = g.fault.as_str();
    claims.insert(
        "iss".into(),
        if fault == "wrong_issuer" {
            "http://127.0.0.1:1/other".into()
        } else {
            s.issuer.clone().into()
        },
    );
    claims.insert(
        "aud".into(),
        if fault == "wrong_audience" {
            "someone-else".into()
        } else {
            s.config.client_id.clone().into()
        },
    );
    let (iat, exp) = if fault == "expired" { (t - 3600, t - 1800) } else { (t, t + 300) };
    claims.insert("iat".into(), iat.into());
    claims.insert("exp".into(), exp.into());
    claims.insert("auth_time".into(), t.into());
    claims.insert("acr".into(), s.played.acr().into());
    claims.insert("amr".into(), json!([s.played.amr()]));
    if let Some(n) = g.nonce {
        claims.insert(
            "nonce".into(),
            if fault == "wrong_nonce" { format!("{n}x").into() } else { n.into() },
        );
    }
    let signed = if fault == "wrong_signature" {
        // Same kid, another key: the signature cannot verify against the published key.
        new_private_key(SigningAlg::RS256)
            .and_then(|der| PrivateKey::from_pkcs8(SigningAlg::RS256, &der))
            .and_then(|k| jws::sign(&k, SigningAlg::RS256, &s.kid, "JWT", &claims).map_err(|e| e.to_string()))
    } else {
        jws::sign(&s.key, SigningAlg::RS256, &s.kid, "JWT", &claims).map_err(|e| e.to_string())
    };
    let Ok(id_token) = signed else {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "server_error" }))).into_response();
    };
    let access = random_token(24);
    if let Ok(mut tokens) = s.tokens.lock() {
        tokens.insert(access.clone(), g.claims);
    }
    Json(json!({ "access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token })).into_response()
}

async fn userinfo(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let found = token.and_then(|t| s.tokens.lock().ok().and_then(|m| m.get(t).cloned()));
    let Some(claims) = found else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    Json(Value::Object(claims)).into_response()
}
