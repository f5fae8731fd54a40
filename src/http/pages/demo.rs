//! A demo relying party at `/demo`, for newcomers on a loopback issuer only. It is a real
//! OIDC client of this provider: PKCE, state and nonce, a code exchanged at `/token` over
//! HTTP, the ID token checked, userinfo fetched.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clients::{self, AuthMethod, GrantType, NewClient, Offer, SubjectType};
use crate::clock::Timestamp;
use crate::http::pages::Render;
use crate::ids::ClientId;
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::{random_token, sha256_b64};
use crate::state::AppState;
use crate::store::StoreError;
use crate::trust::TrustLevel;

/// The demo's client id.
pub const CLIENT_ID: &str = "demo";

/// Registers the demo client if it is missing.
pub async fn ensure_client(state: &AppState, now: Timestamp) -> Result<(), StoreError> {
    if state.store.client(&ClientId::new(CLIENT_ID)).await?.is_some() {
        return Ok(());
    }
    let new = NewClient {
        name: "Demo-Dienst".into(),
        redirect_uris: vec![state.config.url(paths::DEMO_CALLBACK)],
        post_logout_redirect_uris: vec![state.config.url(paths::DEMO)],
        grant_types: vec![GrantType::AuthorizationCode],
        auth_method: AuthMethod::None,
        jwks_uri: None,
        scopes: vec![],
        min_level: TrustLevel::Basic,
        client_id: Some(CLIENT_ID.into()),
        secret: None,
        subject_type: SubjectType::Pairwise,
        backchannel_logout_uri: None,
        // The demo shows every way in, logins through other Länder included.
        allow_interop: true,
        federation_partner: false,
        offer: Offer {
            description: Some("Zeigt, was ein Online-Dienst nach der Anmeldung erhält: die Angaben im ID-Token und aus dem Userinfo-Endpunkt. Nur zum Ausprobieren.".into()),
            cost_note: Some("kostenlos".into()),
            ..Offer::default()
        },
    };
    match clients::register(
        &state.store,
        (&state.secrets.client_secret_pepper, &state.secrets.pairwise_subject_key),
        new,
        now,
    )
    .await
    {
        Ok(_) | Err(clients::ClientError::Taken) => Ok(()),
        Err(clients::ClientError::Store(e)) => Err(e),
        Err(e) => Err(StoreError::Database(e.to_string())),
    }
}

/// Demo routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::DEMO, get(index))
        .route("/demo/start", get(start))
        .route(paths::DEMO_CALLBACK, get(callback))
}

#[derive(Serialize, Deserialize)]
struct Pending {
    verifier: String,
    nonce: String,
}

async fn index(State(state): State<AppState>) -> Response {
    state.pages.page(StatusCode::OK, "pages/demo.html", Locale::De, false, &json!({}))
}

async fn start(State(state): State<AppState>) -> Response {
    let now = state.clock.now();
    let (st, verifier, nonce) = (random_token(16), random_token(32), random_token(16));
    if state
        .ephemeral
        .put_json(
            &format!("demo:{st}"),
            &Pending {
                verifier: verifier.clone(),
                nonce: nonce.clone(),
            },
            now + 600,
            now,
        )
        .await
        .is_err()
    {
        return state
            .pages
            .error(StatusCode::SERVICE_UNAVAILABLE, Locale::De, "err_unavailable", None);
    }
    let mut url = match url::Url::parse(&state.config.url(paths::AUTHORIZE)) {
        Ok(u) => u,
        Err(_) => {
            return state
                .pages
                .error(StatusCode::INTERNAL_SERVER_ERROR, Locale::De, "err_internal", None);
        }
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &state.config.url(paths::DEMO_CALLBACK))
        .append_pair("scope", "openid profile email address")
        .append_pair("state", &st)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &sha256_b64(verifier.as_bytes()))
        .append_pair("code_challenge_method", "S256");
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

async fn callback(State(state): State<AppState>, Query(cb): Query<Callback>) -> Response {
    let now = state.clock.now();
    let fail = |detail: String| state.pages.error(StatusCode::BAD_REQUEST, Locale::De, "err_demo", Some(detail));
    if let Some(e) = cb.error {
        return fail(e);
    }
    if cb.iss.as_deref() != Some(state.config.issuer.as_str()) {
        return fail("iss does not name this provider (RFC 9207)".into());
    }
    let (Some(code), Some(st)) = (cb.code, cb.state) else {
        return fail("code or state missing".into());
    };
    let Ok(Some(pending)) = state.ephemeral.take_json::<Pending>(&format!("demo:{st}"), now).await else {
        return fail("unknown state".into());
    };
    let http = reqwest::Client::new();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", &state.config.url(paths::DEMO_CALLBACK)),
        ("client_id", CLIENT_ID),
        ("code_verifier", pending.verifier.as_str()),
    ];
    let tokens: Value = match http.post(state.config.url(paths::TOKEN)).form(&form).send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) => return fail(e.to_string()),
    };
    let (Some(id_token), Some(access)) = (tokens["id_token"].as_str(), tokens["access_token"].as_str()) else {
        return fail(format!("token endpoint answered {}", tokens["error"]));
    };
    let claims = match state.keys.verify(id_token, now) {
        Ok((_, c))
            if c["iss"] == state.config.issuer
                && c["aud"] == CLIENT_ID
                && c["nonce"] == pending.nonce.as_str()
                && c["exp"].as_i64().is_some_and(|e| Timestamp(e) > now) =>
        {
            c
        }
        _ => return fail("the ID token did not verify".into()),
    };
    let userinfo: Value = match http.get(state.config.url(paths::USERINFO)).bearer_auth(access).send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) => return fail(e.to_string()),
    };
    let mut logout = url::Url::parse(&state.config.url(paths::LOGOUT)).ok();
    if let Some(u) = logout.as_mut() {
        u.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", &state.config.url(paths::DEMO));
    }
    let ctx = json!({ "claims": pairs(&claims), "userinfo": pairs(&userinfo), "logout_url": logout.map(|u| u.to_string()) });
    state.pages.page(StatusCode::OK, "pages/demo.html", Locale::De, true, &ctx)
}
