//! The resource API under `/api/v1` (PRODUCT §9): the bearer checks, problem+json errors, the
//! OpenAPI document, and its first operation `GET /api/v1/me` (scope `account`).

use reqwest::StatusCode;
use reqwest::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::support::*;

/// A user access token for `email` with `scope`, through the pages and the token endpoint.
async fn user_token(app: &TestApp, email: &str, scope: &str) -> (String, Value) {
    let (id, secret) = app.client(ClientSpec::default()).await;
    let mut browser = app.browser();
    let code = login_code(app, &mut browser, &id, email, &[("scope", scope)]).await;
    let (status, tokens) = redeem(app, &id, &secret.clone().unwrap(), &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap().to_string();
    (token, tokens)
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http().get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// The status, the problem document and the challenge of a refused request.
async fn problem(res: reqwest::Response) -> (StatusCode, Value, String) {
    let status = res.status();
    assert_eq!(res.headers()[CONTENT_TYPE], "application/problem+json", "{status}");
    let challenge = res
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], "about:blank");
    (status, body, challenge)
}

#[tokio::test]
async fn r_api_2_me_shows_the_callers_account_for_a_user_token_with_the_scope_account() {
    let app = TestApp::start().await;
    let account = app.account("erika@example.de", false).await;
    let (token, tokens) = user_token(&app, "erika@example.de", "openid account").await;
    let res = get(&app, "/api/v1/me", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(me["sub"], id_token["sub"], "the subject this service knows");
    assert_ne!(me["sub"], account.id.as_str(), "pairwise, never the internal id");
    assert_eq!(
        (me["given_name"].as_str(), me["email"].as_str(), me["level"].as_str()),
        (Some("Erika"), Some("erika@example.de"), Some("urn:servicekonto:acr:basic"))
    );
    assert!(me.get("verified").is_none(), "a basic account has nothing verified");
    let access = jwt_claims(&token);
    assert!(access["aud"].as_array().unwrap().contains(&app.url("/api/v1").into()), "{access}");

    // A Servicekonto Plus shows its verified data and how they were verified.
    app.account("max@example.de", true).await;
    let (plus, _) = user_token(&app, "max@example.de", "openid account").await;
    let me: Value = get(&app, "/api/v1/me", Some(&plus)).await.json().await.unwrap();
    assert_eq!(me["level"], "urn:servicekonto:acr:plus");
    assert_eq!(me["verified"]["method"], "operator", "{me}");
    assert_eq!(me["verified"]["birthdate"], "1964-08-12");
    assert!(me["verified"]["address"]["city"].is_string());
    assert!(me["verified"]["verified_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn r_api_3_refused_requests_get_problem_json_with_the_bearer_challenge() {
    let app = TestApp::start().await;
    app.account("erika@example.de", false).await;

    let (status, _, challenge) = problem(get(&app, "/api/v1/me", None).await).await;
    assert_eq!(
        (status, challenge.as_str()),
        (StatusCode::UNAUTHORIZED, "Bearer realm=\"servicekonto\"")
    );

    let (status, body, challenge) = problem(get(&app, "/api/v1/me", Some("not-a-token")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(body["error"], "invalid_token");

    // A token without the scope: 403 naming the scope it needs.
    let (openid_only, tokens) = user_token(&app, "erika@example.de", "openid profile").await;
    let (status, _, challenge) = problem(get(&app, "/api/v1/me", Some(&openid_only)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"account\""),
        "{challenge}"
    );
    assert!(tokens["scope"].as_str().unwrap().split(' ').all(|s| s != "account"));

    // A service's own token stands for no person.
    let (id, secret) = app.machine_client(&[]).await;
    let (status, cc) = app.post_as("/token", &id, &secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::OK, "{cc}");
    let (status, _, _) = problem(get(&app, "/api/v1/me", cc["access_token"].as_str()).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A token in the query, a malformed header.
    let (token, _) = user_token(&app, "erika@example.de", "openid account").await;
    assert_eq!(get(&app, "/api/v1/me", Some(&token)).await.status(), StatusCode::OK);
    let res = app
        .http()
        .get(app.url(&format!("/api/v1/me?access_token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res).await.0, StatusCode::BAD_REQUEST, "never a token in the query");
    let res = app
        .http()
        .get(app.url("/api/v1/me"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res).await.0, StatusCode::BAD_REQUEST);

    // Unknown paths and methods under the API are problems too.
    let (status, _, _) = problem(get(&app, "/api/v1/nothing-here", Some(&token)).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app.http().post(app.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap();
    assert!(res.headers()[ALLOW].to_str().unwrap().contains("GET"));
    assert_eq!(problem(res).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn r_api_2_a_revoked_user_token_is_refused_at_once() {
    let app = TestApp::start().await;
    app.account("erika@example.de", false).await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    let secret = secret.unwrap();
    let mut browser = app.browser();
    let code = login_code(&app, &mut browser, &id, "erika@example.de", &[("scope", "openid account")]).await;
    let (_, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(get(&app, "/api/v1/me", Some(token)).await.status(), StatusCode::OK);
    let (status, _) = app.post_as("/revoke", &id, &secret, &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = problem(get(&app, "/api/v1/me", Some(token)).await).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
}

#[tokio::test]
async fn r_api_1_the_openapi_document_describes_every_operation_its_scope_and_errors() {
    let app = TestApp::start().await;
    let res = get(&app, "/api/v1/openapi.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["servers"][0]["url"], app.url("/api/v1"));
    let me = &doc["paths"]["/me"]["get"];
    assert_eq!(me["security"][0]["bearer"][0], "account");
    for status in ["200", "400", "401", "403", "404", "503"] {
        assert!(me["responses"][status].is_object(), "{status} documented");
    }
    assert!(me["responses"]["401"]["content"]["application/problem+json"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    // The scope is offered like the others: in discovery, and on the consent page.
    let discovery: Value = get(&app, "/.well-known/openid-configuration", None).await.json().await.unwrap();
    assert!(discovery["scopes_supported"].as_array().unwrap().contains(&"account".into()));
    app.account("erika@example.de", false).await;
    let (id, _) = app.client(ClientSpec::default()).await;
    let mut browser = app.browser();
    browser
        .walk(
            &authorize_url(&app, &id, &[("scope", "openid account")]),
            Some(("erika@example.de", PASSWORD)),
            Consent::Allow,
        )
        .await
        .code();
    assert!(
        browser.seen.iter().any(|p| p.contains("Ihr Servicekonto über die Schnittstelle")),
        "the consent names it"
    );
}
