//! Back-Channel Logout 1.0 (R-SES-5): services that relied on a session are told when it ends,
//! with a signed logout token POSTed to the URI they registered.

use std::time::Duration;

use axum::Form;
use axum::routing::post;
use reqwest::StatusCode;
use tokio::sync::mpsc;

use crate::support::*;

/// A service's back-channel logout endpoint: every logout token it receives goes to the channel.
async fn receiver() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/backchannel",
        post(move |Form(form): Form<std::collections::HashMap<String, String>>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(form.get("logout_token").cloned().unwrap_or_default());
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

async fn next_token(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a logout token")
        .unwrap()
}

/// Checks a logout token the way a service must (§2.6) and returns its claims.
fn check_logout_token(app: &TestApp, token: &str, client_id: &str) -> serde_json::Value {
    let (typ, claims) = app
        .state
        .keys
        .verify(token, servicekonto::clock::now())
        .expect("signed by the provider's published key");
    assert_eq!(typ.as_deref(), Some("logout+jwt"));
    assert_eq!(claims["iss"], app.issuer.as_str());
    assert_eq!(claims["aud"], client_id);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none(), "a logout token never carries a nonce");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    claims
}

#[tokio::test]
async fn r_ses_5_logout_tells_every_service_that_relied_on_the_session_and_no_other() {
    let app = TestApp::start().await;
    let (url, mut rx) = receiver().await;
    let with_bcl = || ClientSpec {
        backchannel_logout_uri: Some(url.clone()),
        ..ClientSpec::default()
    };
    let (a, secret_a) = app.client(with_bcl()).await;
    let (b, _) = app.client(ClientSpec::default()).await;
    let (unused, _) = app.client(with_bcl()).await;
    app.account("erika@example.de", false).await;

    let mut browser = app.browser();
    let code_a = login_code(&app, &mut browser, &a, "erika@example.de", &[]).await;
    let (_, tokens) = redeem(&app, &a, secret_a.as_deref().unwrap(), &code_a, &[]).await;
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    login_code(&app, &mut browser, &b, "erika@example.de", &[]).await;
    // Another session of the same account, at the same service, on another device.
    let mut phone = app.browser();
    let code_phone = login_code(&app, &mut phone, &a, "erika@example.de", &[]).await;
    redeem(&app, &a, secret_a.as_deref().unwrap(), &code_phone, &[]).await;

    let hint = tokens["id_token"].as_str().unwrap();
    let res = browser
        .http
        .get(app.url(&format!("/logout?id_token_hint={hint}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let token = next_token(&mut rx).await;
    let claims = check_logout_token(&app, &token, &a);
    assert_eq!(claims["sub"], id_token["sub"]);
    assert_eq!(claims["sid"], id_token["sid"], "only the session that ended");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "neither the other session nor a service never used is told");
    let _ = unused;
    // The other device is still logged in.
    assert!(phone.page("/profile").await.0 == StatusCode::OK);
}

#[tokio::test]
async fn r_ses_5_a_password_reset_logs_the_account_out_of_every_service_and_session() {
    let app = TestApp::start().await;
    let (url, mut rx) = receiver().await;
    let (a, secret) = app
        .client(ClientSpec {
            backchannel_logout_uri: Some(url),
            ..ClientSpec::default()
        })
        .await;
    let secret = secret.unwrap();
    app.account("erika@example.de", false).await;
    let mut sids = Vec::new();
    for _ in 0..2 {
        let mut browser = app.browser();
        let code = login_code(&app, &mut browser, &a, "erika@example.de", &[]).await;
        let (_, tokens) = redeem(&app, &a, &secret, &code, &[]).await;
        sids.push(
            jwt_claims(tokens["id_token"].as_str().unwrap())["sid"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    app.browser().submit("/password/forgot", &[("email", "erika@example.de")]).await;
    let link = app.mail_link("erika@example.de", "/password/reset").await;
    let token = link.rsplit('=').next().unwrap();
    let (status, _) = app
        .browser()
        .submit(
            "/password/reset",
            &[("token", token), ("password", "Neu-Pass-123"), ("password_repeat", "Neu-Pass-123")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut told = vec![];
    for _ in 0..2 {
        let t = next_token(&mut rx).await;
        told.push(check_logout_token(&app, &t, &a)["sid"].as_str().unwrap().to_string());
    }
    told.sort();
    sids.sort();
    assert_eq!(told, sids);
}

#[test]
fn back_channel_logout_uris_must_be_https_or_loopback() {
    use servicekonto::clients::check_backchannel_uri;
    assert!(check_backchannel_uri("https://dienst.example.de/logout").is_ok());
    assert!(check_backchannel_uri("http://127.0.0.1:8080/logout").is_ok());
    assert!(check_backchannel_uri("http://dienst.example.de/logout").is_err());
    assert!(check_backchannel_uri("https://dienst.example.de/logout#x").is_err());
    assert!(check_backchannel_uri("de.example.app:/logout").is_err());
}
