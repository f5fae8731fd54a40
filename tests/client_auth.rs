//! Client authentication methods at the token endpoint: client_secret_basic,
//! client_secret_post, private_key_jwt (RFC 7523) and none.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Json;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::json;
use servicekonto::clients::{AuthMethod, GrantType};
use servicekonto::clock::Timestamp;
use servicekonto::config::SigningAlg;
use servicekonto::keys::jws::{self, PrivateKey};
use servicekonto::secret::random_token;

use crate::support::*;

async fn token(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
    let res = app.http().post(app.url("/token")).form(form).send().await.unwrap();
    (res.status(), res.json().await.unwrap())
}

#[tokio::test]
async fn client_secret_post_works_and_methods_are_not_interchangeable() {
    let app = TestApp::start().await;
    let cc = vec![GrantType::ClientCredentials];
    let (post, post_secret) = app
        .client(ClientSpec {
            auth_method: AuthMethod::ClientSecretPost,
            grant_types: cc.clone(),
            ..ClientSpec::default()
        })
        .await;
    let (basic, basic_secret) = app
        .client(ClientSpec {
            grant_types: cc,
            ..ClientSpec::default()
        })
        .await;
    let (s, _) = token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &post),
            ("client_secret", post_secret.as_deref().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &basic),
            ("client_secret", basic_secret.as_deref().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "a basic client may not post its secret"
    );
    let (s, _) = token(&app, &[("grant_type", "client_credentials"), ("client_id", &basic)]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a confidential client cannot act as public");
}

/// A client's key pair and a server publishing its JWKS.
struct JwtClient {
    key: PrivateKey,
    kid: String,
    jwks_uri: String,
}

async fn jwt_client() -> JwtClient {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let key = PrivateKey::from_pkcs8(SigningAlg::ES256, pkcs8.as_ref()).unwrap();
    let kid = random_token(6);
    let mut jwk = key.public_key().jwk_members();
    jwk.insert("kid".into(), kid.clone().into());
    let jwks = json!({ "keys": [jwk] });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/jwks", get(move || std::future::ready(Json(jwks.clone()))));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    JwtClient {
        key,
        kid,
        jwks_uri: format!("http://{addr}/jwks"),
    }
}

impl JwtClient {
    fn assertion(&self, client_id: &str, aud: &str, jti: &str, exp_in: i64) -> String {
        let now = servicekonto::clock::now();
        let claims = json!({ "iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": now, "exp": now + exp_in });
        jws::sign(&self.key, SigningAlg::ES256, &self.kid, "JWT", &claims).unwrap()
    }
}

#[tokio::test]
async fn private_key_jwt_is_verified_against_the_client_jwks_with_audience_and_replay_checks() {
    let app = TestApp::start().await;
    let jc = jwt_client().await;
    let (id, secret) = app
        .client(ClientSpec {
            auth_method: AuthMethod::PrivateKeyJwt,
            jwks_uri: Some(jc.jwks_uri.clone()),
            grant_types: vec![GrantType::ClientCredentials, GrantType::AuthorizationCode],
            ..ClientSpec::default()
        })
        .await;
    assert!(secret.is_none());
    let bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let call = |assertion: String| {
        let app = &app;
        async move {
            token(
                app,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", bearer),
                    ("client_assertion", &assertion),
                ],
            )
            .await
        }
    };
    let jti = random_token(8);
    let (s, body) = call(jc.assertion(&id, &app.url("/token"), &jti, 60)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _) = call(jc.assertion(&id, &app.url("/token"), &jti, 60)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "jti replay refused");
    let (s, _) = call(jc.assertion(&id, &app.issuer, &random_token(8), 60)).await;
    assert_eq!(s, StatusCode::OK, "the issuer is an accepted audience");
    let (s, _) = call(jc.assertion(&id, "https://other.example/token", &random_token(8), 60)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "wrong audience");
    let (s, _) = call(jc.assertion(&id, &app.url("/token"), &random_token(8), -120)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "expired");
    let (s, _) = call(jc.assertion(&id, &app.url("/token"), &random_token(8), 7200)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "lives too long");
    let other = jwt_client().await;
    let (s, _) = call(other.assertion(&id, &app.url("/token"), &random_token(8), 60)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "signed by a key not in the client's JWKS");

    // The same client in the code flow.
    app.account("jwt@example.de", false).await;
    let mut browser = app.browser();
    let code = login_code(&app, &mut browser, &id, "jwt@example.de", &[]).await;
    let assertion = jc.assertion(&id, &app.url("/token"), &random_token(8), 60);
    let (s, body) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", RP_CALLBACK),
            ("client_assertion_type", bearer),
            ("client_assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body["id_token"].is_string());
}

#[tokio::test]
async fn a_client_jwks_is_fetched_without_following_redirects_and_within_a_size_limit() {
    let app = TestApp::start().await;
    let jc = jwt_client().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let real = jc.jwks_uri.clone();
    let keys: serde_json::Value = reqwest::get(&real).await.unwrap().json().await.unwrap();
    let mut padded = keys.clone();
    padded["padding"] = "x".repeat(300 * 1024).into();
    let router = axum::Router::new()
        .route(
            "/moved",
            get(move || std::future::ready(axum::response::Redirect::temporary(&real))),
        )
        .route("/big", get(move || std::future::ready(Json(padded.clone()))));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    for (path, why) in [("moved", "a redirect is not followed"), ("big", "an oversized JWKS is not read")] {
        let (id, _) = app
            .client(ClientSpec {
                auth_method: AuthMethod::PrivateKeyJwt,
                jwks_uri: Some(format!("http://{addr}/{path}")),
                grant_types: vec![GrantType::ClientCredentials],
                ..ClientSpec::default()
            })
            .await;
        let assertion = jc.assertion(&id, &app.url("/token"), &random_token(8), 60);
        let (s, body) = token(
            &app,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", &assertion),
            ],
        )
        .await;
        assert_eq!(
            (s, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{why}"
        );
    }
}

#[tokio::test]
async fn a_client_jwks_uri_must_be_https_or_loopback_http() {
    let app = TestApp::start().await;
    for (uri, ok) in [
        ("https://rp.example/jwks", true),
        ("http://127.0.0.1:9/jwks", true),
        ("http://rp.example/jwks", false),
        ("file:///etc/passwd", false),
    ] {
        let new = servicekonto::clients::NewClient {
            name: "Dienst".into(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            auth_method: AuthMethod::PrivateKeyJwt,
            jwks_uri: Some(uri.into()),
            scopes: vec![],
            min_level: servicekonto::trust::TrustLevel::Basic,
            client_id: None,
            secret: None,
            subject_type: servicekonto::clients::SubjectType::Pairwise,
            backchannel_logout_uri: None,
            allow_interop: false,
            federation_partner: false,
            offer: Default::default(),
        };
        let registered = servicekonto::clients::register(&app.state.store, app.client_keys(), new, Timestamp(0)).await;
        assert_eq!(registered.is_ok(), ok, "{uri}");
    }
}
