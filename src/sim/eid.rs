//! The eID service simulator (development only): an OpenID Provider that plays the eID-Server
//! of the online ID function. Its page lets the tester pick a test person (in the style of the
//! BSI test cards) and whether the pseudonym (*restricted identification*) is transferred; the
//! ID token and userinfo carry the eID data groups as claims and acr
//! `http://bsi.bund.de/eID/LoA/hoch`. A "fault" choice makes it answer wrongly on purpose
//! (bad signature, nonce, issuer, audience, expiry) so the IdP's checks can be tested.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::escape;
use crate::config::SigningAlg;
use crate::keys::jws::{self, PrivateKey};
use crate::keys::new_private_key;
use crate::secret::{Secret, constant_time_eq, hmac_b64, random_token, sha256_b64};
use crate::upstream::SIMULATOR_MARKER;

/// The level the eID reaches (BSI TR-03107-1 "hoch").
pub const ACR_HOCH: &str = "http://bsi.bund.de/eID/LoA/hoch";

/// One test person: the data groups of their card.
#[derive(Debug, Clone)]
pub struct Person {
    /// Key on the selection page.
    pub key: &'static str,
    /// Card serial: the pseudonym is derived from it, so a new card gives a new pseudonym.
    pub card: &'static str,
    /// Document type (`ID` identity card, `AR` residence permit).
    pub document_type: &'static str,
    /// Given names.
    pub given_names: &'static str,
    /// Family names.
    pub family_names: &'static str,
    /// Birth name.
    pub birth_name: &'static str,
    /// `YYYY-MM-DD`.
    pub date_of_birth: &'static str,
    /// Place of birth.
    pub place_of_birth: &'static str,
    /// Street and house number.
    pub street: &'static str,
    /// Postal code.
    pub postal_code: &'static str,
    /// Town.
    pub city: &'static str,
    /// Country of residence (ISO 3166-1 alpha-2).
    pub country: &'static str,
    /// Nationality (ISO 3166-1 alpha-2).
    pub nationality: &'static str,
    /// Academic title, if any.
    pub academic_title: &'static str,
    /// What the page says about the person.
    pub note: &'static str,
}

/// The test persons.
pub const PERSONS: &[Person] = &[
    Person {
        key: "erika",
        card: "T22000129",
        document_type: "ID",
        given_names: "Erika",
        family_names: "Mustermann",
        birth_name: "Gabler",
        date_of_birth: "1964-08-12",
        place_of_birth: "Berlin",
        street: "Heidestraße 17",
        postal_code: "51147",
        city: "Köln",
        country: "DE",
        nationality: "DE",
        academic_title: "",
        note: "Personalausweis, volljährig, alle Daten",
    },
    Person {
        key: "ayse",
        card: "T22000301",
        document_type: "AR",
        given_names: "Ayşe",
        family_names: "Yılmaz",
        birth_name: "Yılmaz",
        date_of_birth: "1990-03-01",
        place_of_birth: "İzmir",
        street: "Hauptstraße 5",
        postal_code: "10115",
        city: "Berlin",
        country: "DE",
        nationality: "TR",
        academic_title: "Dr.",
        note: "Elektronischer Aufenthaltstitel",
    },
    Person {
        key: "erika-new-card",
        card: "T22000555",
        document_type: "ID",
        given_names: "Erika",
        family_names: "Mustermann",
        birth_name: "Gabler",
        date_of_birth: "1964-08-12",
        place_of_birth: "Berlin",
        street: "Poppelsdorfer Allee 1",
        postal_code: "53115",
        city: "Bonn",
        country: "DE",
        nationality: "DE",
        academic_title: "",
        note: "Erika Mustermann mit neu ausgestelltem Ausweis: anderes Pseudonym, neue Anschrift",
    },
    Person {
        key: "erika-married",
        card: "T22000777",
        document_type: "ID",
        given_names: "Erika",
        family_names: "Musterfrau",
        birth_name: "Gabler",
        date_of_birth: "1964-08-12",
        place_of_birth: "Berlin",
        street: "Heidestraße 17",
        postal_code: "51147",
        city: "Köln",
        country: "DE",
        nationality: "DE",
        academic_title: "",
        note: "Neuer Ausweis nach Namensänderung: passt nicht zum bisherigen Profil",
    },
];

/// Ways the simulator can answer wrongly on purpose.
const FAULTS: &[(&str, &str)] = &[
    ("none", "keiner (korrekte Antwort)"),
    ("wrong_signature", "ID-Token mit falscher Signatur"),
    ("wrong_nonce", "ID-Token mit falscher Nonce"),
    ("wrong_issuer", "ID-Token mit fremdem Aussteller"),
    ("wrong_audience", "ID-Token für einen anderen Client"),
    ("expired", "abgelaufenes ID-Token"),
];

/// How the simulator is started.
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
    /// Name the data groups as the eID-Server does (`GivenNames`, `FamilyNames`, …) instead of
    /// the OpenID Connect names, to exercise the connector's claim mapping.
    pub eid_server_names: bool,
}

#[derive(Clone)]
struct Grant {
    person: usize,
    pseudonym: bool,
    fault: String,
    nonce: Option<String>,
    challenge: Option<String>,
    redirect_uri: String,
    created: i64,
}

struct Inner {
    config: SimConfig,
    issuer: String,
    key: PrivateKey,
    kid: String,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, (usize, bool)>>,
}

type Shared = Arc<Inner>;

/// The simulator's router, with a fresh signing key.
pub fn router(config: SimConfig) -> Result<Router, String> {
    let key = PrivateKey::from_pkcs8(SigningAlg::RS256, &new_private_key(SigningAlg::RS256)?)?;
    let issuer = format!("http://{}", config.bind);
    let inner = Arc::new(Inner {
        config,
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
pub async fn serve(mut config: SimConfig) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(config.bind).await.map_err(|e| e.to_string())?;
    // Port 0 picks a free port: the issuer names the one actually bound, printed as the first
    // line on stdout for whoever started the simulator.
    config.bind = listener.local_addr().map_err(|e| e.to_string())?;
    let app = router(config.clone())?;
    println!("http://{}", config.bind);
    tracing::warn!("eID SIMULATOR running — development and tests only, never in production");
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
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [ACR_HOCH],
        "authorization_response_iss_parameter_supported": true,
        "claims_supported": ["sub", "given_name", "family_name", "birth_family_name", "birthdate", "place_of_birth",
            "address", "nationalities", "document_type", "academic_title", "restricted_id"],
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

fn page(body: String) -> Response {
    Html(format!(
        "<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>eID-Simulator</title></head><body><main>\
         <p><strong>eID-Simulator — nur für Entwicklung und Tests.</strong></p>{body}</main></body></html>"
    ))
    .into_response()
}

async fn authorize_page(State(s): State<Shared>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id.as_deref() != Some(s.config.client_id.as_str()) || q.redirect_uri.as_deref() != Some(s.config.redirect_uri.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            page("<p>Unbekannter Client oder Rücksprungadresse.</p>".into()),
        )
            .into_response();
    }
    if q.response_type.as_deref() != Some("code") || q.code_challenge_method.as_deref().is_some_and(|m| m != "S256") {
        return (StatusCode::BAD_REQUEST, page("<p>Nur response_type=code mit PKCE S256.</p>".into())).into_response();
    }
    let hidden = |name: &str, v: &Option<String>| {
        v.as_ref()
            .map(|v| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(v)))
            .unwrap_or_default()
    };
    let mut persons = String::new();
    for (i, p) in PERSONS.iter().enumerate() {
        persons.push_str(&format!(
            "<div><input type=\"radio\" name=\"person\" id=\"person-{key}\" value=\"{key}\"{checked}>\
             <label for=\"person-{key}\">{} {} — {}</label></div>",
            escape(p.given_names),
            escape(p.family_names),
            escape(p.note),
            key = p.key,
            checked = if i == 0 { " checked" } else { "" },
        ));
    }
    let faults: String = FAULTS
        .iter()
        .map(|(v, label)| format!("<option value=\"{v}\">{}</option>", escape(label)))
        .collect();
    page(format!(
        "<h1>Online-Ausweis (Simulator)</h1><form method=\"post\" action=\"/authorize\">{}{}{}{}\
         <fieldset><legend>Testperson</legend>{persons}</fieldset>\
         <div><input type=\"checkbox\" id=\"pseudonym\" name=\"pseudonym\" value=\"yes\" checked>\
         <label for=\"pseudonym\">Pseudonym (Restricted Identification) übermitteln</label></div>\
         <div><label for=\"fault\">Fehlerfall</label> <select id=\"fault\" name=\"fault\">{faults}</select></div>\
         <button type=\"submit\" name=\"decision\" value=\"ok\">Ausweisen</button> \
         <button type=\"submit\" name=\"decision\" value=\"cancel\">Abbrechen</button></form>",
        hidden("state", &q.state),
        hidden("nonce", &q.nonce),
        hidden("code_challenge", &q.code_challenge),
        hidden("redirect_uri", &q.redirect_uri),
    ))
}

#[derive(Deserialize)]
struct AuthorizeForm {
    person: Option<String>,
    pseudonym: Option<String>,
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
        return (StatusCode::BAD_REQUEST, page("<p>Unbekannte Rücksprungadresse.</p>".into())).into_response();
    }
    let mut url = match url::Url::parse(&f.redirect_uri) {
        Ok(u) => u,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    {
        let mut q = url.query_pairs_mut();
        if f.decision == "ok" {
            let Some(person) = PERSONS.iter().position(|p| Some(p.key) == f.person.as_deref()) else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let code = random_token(24);
            let grant = Grant {
                person,
                pseudonym: f.pseudonym.is_some(),
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

fn person_claims(p: &Person, pseudonym: Option<String>) -> serde_json::Map<String, Value> {
    let mut c = serde_json::Map::new();
    c.insert("given_name".into(), p.given_names.into());
    c.insert("family_name".into(), p.family_names.into());
    c.insert("birth_family_name".into(), p.birth_name.into());
    c.insert("birthdate".into(), p.date_of_birth.into());
    c.insert("place_of_birth".into(), json!({ "locality": p.place_of_birth }));
    c.insert(
        "address".into(),
        json!({ "street_address": p.street, "postal_code": p.postal_code, "locality": p.city, "country": p.country }),
    );
    c.insert("nationalities".into(), json!([p.nationality]));
    c.insert("document_type".into(), p.document_type.into());
    if !p.academic_title.is_empty() {
        c.insert("academic_title".into(), p.academic_title.into());
    }
    if let Some(ps) = pseudonym {
        c.insert("restricted_id".into(), ps.into());
    }
    c
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
    let p = &PERSONS[g.person];
    // Stable per card and per relying party, like the restricted identification.
    let pseudonym = g.pseudonym.then(|| hmac_b64(p.card.as_bytes(), s.config.client_id.as_bytes()));
    let sub = pseudonym.clone().unwrap_or_else(|| random_token(16));
    let mut claims = person_claims(p, pseudonym);
    if s.config.eid_server_names {
        for (oidc, eid) in [
            ("given_name", "GivenNames"),
            ("family_name", "FamilyNames"),
            ("birthdate", "DateOfBirth"),
        ] {
            if let Some(v) = claims.remove(oidc) {
                claims.insert(eid.into(), v);
            }
        }
    }
    let fault = g.fault.as_str();
    claims.insert(
        "iss".into(),
        if fault == "wrong_issuer" {
            "http://127.0.0.1:1/other".into()
        } else {
            s.issuer.clone().into()
        },
    );
    claims.insert("sub".into(), sub.into());
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
    claims.insert("acr".into(), ACR_HOCH.into());
    claims.insert("amr".into(), json!(["eid"]));
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
        tokens.insert(access.clone(), (g.person, g.pseudonym));
    }
    Json(json!({ "access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token })).into_response()
}

async fn userinfo(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let found = token.and_then(|t| s.tokens.lock().ok().and_then(|m| m.get(t).copied()));
    let Some((person, pseudonym)) = found else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    let p = &PERSONS[person];
    let ps = pseudonym.then(|| hmac_b64(p.card.as_bytes(), s.config.client_id.as_bytes()));
    let mut claims = person_claims(p, ps.clone());
    claims.insert("sub".into(), ps.unwrap_or_else(|| random_token(16)).into());
    Json(Value::Object(claims)).into_response()
}
