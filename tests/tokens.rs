//! The token, userinfo, revocation and introspection endpoints: single-use codes, PKCE,
//! refresh rotation with reuse detection, client credentials and RFC 6750 errors.

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn a_code_works_once_and_a_second_redemption_revokes_what_the_first_issued() {
    let app = TestApp::start().await;
    let (id, secret, _browser, code) = app.signed_in("reuse@example.de").await;
    let (status, first) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(
        app.http()
            .get(app.url("/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let (status, second) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(second["error"], "invalid_grant");
    assert_eq!(
        app.http()
            .get(app.url("/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", first["refresh_token"].as_str().unwrap()),
    ];
    let res = app
        .http()
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "the refresh token died with the grant");
}

#[tokio::test]
async fn codes_are_bound_to_client_redirect_uri_and_pkce() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    let (other, other_secret) = app.client(ClientSpec::default()).await;
    let secret = secret.unwrap();
    app.account("bound@example.de", false).await;
    let mut browser = app.browser();

    let code = login_code(&app, &mut browser, &id, "bound@example.de", &[]).await;
    let (_, body) = redeem(&app, &other, other_secret.as_deref().unwrap(), &code, &[]).await;
    assert_eq!(body["error"], "invalid_grant", "another client");

    let code = login_code(&app, &mut browser, &id, "bound@example.de", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/other"),
    ];
    let body: serde_json::Value = app
        .http()
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"], "invalid_grant", "another redirect_uri");

    let (verifier, challenge) = pkce();
    let pkce_params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let code = login_code(&app, &mut browser, &id, "bound@example.de", &pkce_params).await;
    let (_, body) = redeem(&app, &id, &secret, &code, &[("code_verifier", &pkce().0)]).await;
    assert_eq!(body["error"], "invalid_grant", "wrong verifier");
    let code = login_code(&app, &mut browser, &id, "bound@example.de", &pkce_params).await;
    let (_, body) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(body["error"], "invalid_grant", "missing verifier");
    let code = login_code(&app, &mut browser, &id, "bound@example.de", &[]).await;
    let (_, body) = redeem(&app, &id, &secret, &code, &[("code_verifier", &verifier)]).await;
    assert_eq!(body["error"], "invalid_grant", "verifier without challenge (downgrade)");
    let code = login_code(&app, &mut browser, &id, "bound@example.de", &pkce_params).await;
    let (status, _) = redeem(&app, &id, &secret, &code, &[("code_verifier", &verifier)]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn codes_expire() {
    let app = TestApp::with(|c| c.tokens.code_seconds = 1).await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    app.account("slow@example.de", false).await;
    let mut browser = app.browser();
    let code = login_code(&app, &mut browser, &id, "slow@example.de", &[]).await;
    app.state.clock.advance(2);
    let (_, body) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_revokes_the_whole_chain() {
    let app = TestApp::start().await;
    let (id, secret, _browser, code) = app.signed_in("chain@example.de").await;
    let (_, t0) = redeem(&app, &id, &secret, &code, &[]).await;
    let refresh = |rt: String, scope: Option<&'static str>| {
        let (http, url, id, secret) = (app.http(), app.url("/token"), id.clone(), secret.clone());
        async move {
            let mut form = vec![("grant_type", "refresh_token".to_string()), ("refresh_token", rt)];
            if let Some(s) = scope {
                form.push(("scope", s.into()));
            }
            let res = http.post(url).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
            (res.status(), res.json::<serde_json::Value>().await.unwrap())
        }
    };
    let rt0 = t0["refresh_token"].as_str().unwrap().to_string();
    let (s, t1) = refresh(rt0.clone(), Some("openid email")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t1["scope"], "email openid", "a refresh may narrow the scope");
    let rt1 = t1["refresh_token"].as_str().unwrap().to_string();
    let (_, wider) = refresh(rt1.clone(), Some("openid phone")).await;
    assert_eq!(wider["error"], "invalid_scope");
    let (s, t2) = refresh(rt1, None).await;
    assert_eq!(s, StatusCode::OK, "a refused request does not spend the token");
    assert_eq!(t2["scope"], "email openid profile");
    let (s, replay) = refresh(rt0, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(replay["error"], "invalid_grant");
    for t in [&t1, &t2] {
        let res = app
            .http()
            .get(app.url("/userinfo"))
            .bearer_auth(t["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "every token of the chain is revoked");
    }
    let (_, dead) = refresh(t2["refresh_token"].as_str().unwrap().into(), None).await;
    assert_eq!(dead["error"], "invalid_grant");
}

#[tokio::test]
async fn client_credentials_tokens_serve_machines_not_userinfo() {
    let app = TestApp::start().await;
    let (id, secret) = app.machine_client(&["mailbox.post"]).await;
    let res = app
        .http()
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "mailbox.post")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let c = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], id.as_str());
    assert_eq!(c["client_id"], id.as_str());
    let res = app
        .http()
        .get(app.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    let (_, body) = app
        .post_as("/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "openid")])
        .await;
    assert_eq!(body["error"], "invalid_scope");
    let code_grant = [("grant_type", "authorization_code"), ("code", "x"), ("redirect_uri", RP_CALLBACK)];
    let (_, body) = app.post_as("/token", &id, &secret, &code_grant).await;
    assert_eq!(body["error"], "unauthorized_client");
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc_6749() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    let secret = secret.unwrap();
    let (status, body) = app.post_as("/token", &id, &secret, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let res = app
        .http()
        .post(app.url("/token"))
        .basic_auth(&id, Some("wrong"))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
    let as_json = app
        .http()
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .json(&serde_json::json!({"grant_type": "authorization_code"}));
    assert_eq!(
        as_json.send().await.unwrap().json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let (_, body) = app
        .post_as(
            "/token",
            &id,
            &secret,
            &[("grant_type", "authorization_code"), ("code", "a"), ("code", "b")],
        )
        .await;
    assert_eq!(body["error"], "invalid_request", "repeated parameter");
    let (_, body) = app
        .post_as(
            "/token",
            &id,
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", RP_CALLBACK),
            ],
        )
        .await;
    assert_eq!(body["error"], "invalid_grant");
    let huge = "x".repeat(70 * 1024);
    let (status, _) = app
        .post_as("/token", &id, &secret, &[("grant_type", "authorization_code"), ("code", &huge)])
        .await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn userinfo_accepts_get_post_header_and_post_body_and_refuses_the_rest() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    app.account("ui@example.de", false).await;
    let mut browser = app.browser();
    let code = login_code(&app, &mut browser, &id, "ui@example.de", &[]).await;
    let (_, t) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
    let at = t["access_token"].as_str().unwrap();
    let http = app.http();
    let json = |req: reqwest::RequestBuilder| async move { req.send().await.unwrap().json::<serde_json::Value>().await.unwrap() };
    let get = json(http.get(app.url("/userinfo")).bearer_auth(at)).await;
    let post_header = json(http.post(app.url("/userinfo")).bearer_auth(at)).await;
    let post_body = json(http.post(app.url("/userinfo")).form(&[("access_token", at)])).await;
    assert_eq!(get, post_header);
    assert_eq!(get, post_body);
    assert_eq!(get["email"], "ui@example.de");
    assert_eq!(get["given_name"], "Erika");

    let res = http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"servicekonto\"");
    let res = http.get(app.url(&format!("/userinfo?access_token={at}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "query tokens are not read");
    let mut forged = at.to_string();
    forged.pop();
    forged.push(if at.ends_with('A') { 'B' } else { 'A' });
    let res = http.get(app.url("/userinfo")).bearer_auth(&forged).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let res = http
        .post(app.url("/userinfo"))
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "two ways at once");
}

#[tokio::test]
async fn access_tokens_can_be_es256() {
    let app = TestApp::with(|c| c.tokens.access_token_alg = servicekonto::config::SigningAlg::ES256).await;
    let (id, secret) = app.machine_client(&[]).await;
    let (_, body) = app.post_as("/token", &id, &secret, &[("grant_type", "client_credentials")]).await;
    let at = body["access_token"].as_str().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&servicekonto::secret::b64_decode(at.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let jwks: serde_json::Value = app.http().get(app.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert!(algs.contains(&"ES256") && algs.contains(&"RS256"));
    let (_, info) = app.post_as("/introspect", &id, &secret, &[("token", at)]).await;
    assert_eq!(info["active"], true);
}

#[tokio::test]
async fn introspection_reveals_nothing_about_other_clients_tokens() {
    let app = TestApp::start().await;
    let (a, sa) = app.machine_client(&[]).await;
    let (b, sb) = app.machine_client(&[]).await;
    let (_, body) = app.post_as("/token", &a, &sa, &[("grant_type", "client_credentials")]).await;
    let at = body["access_token"].as_str().unwrap();
    let (_, info) = app.post_as("/introspect", &b, &sb, &[("token", at)]).await;
    assert_eq!(info, serde_json::json!({"active": false}));
    // Revocation by another client changes nothing.
    let (status, _) = app.post_as("/revoke", &b, &sb, &[("token", at)]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, info) = app.post_as("/introspect", &a, &sa, &[("token", at)]).await;
    assert_eq!(info["active"], true);
    let res = app.http().post(app.url("/introspect")).form(&[("token", at)]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "introspection needs client authentication");
}

#[tokio::test]
async fn malformed_bodies_at_token_introspection_and_revocation_get_oauth_json_errors() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    let secret = secret.unwrap();
    let form = "application/x-www-form-urlencoded";
    let oversized = format!("grant_type=client_credentials&x={}", "a".repeat(70 * 1024));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not UTF-8", b"grant_type=client_credentials&scope=\xff\xfe".to_vec(), form),
        ("wrong content type", b"grant_type=client_credentials".to_vec(), "text/plain"),
        ("oversized", oversized.into_bytes(), form),
        (
            "a parameter twice",
            b"grant_type=client_credentials&grant_type=password".to_vec(),
            form,
        ),
    ];
    for path in ["/token", "/introspect", "/revoke"] {
        for (what, body, content_type) in &cases {
            let res = app
                .http()
                .post(app.url(path))
                .basic_auth(&id, Some(&secret))
                .header("content-type", *content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}, {what}");
            assert!(
                res.headers()["content-type"].to_str().unwrap().starts_with("application/json"),
                "{path}, {what}"
            );
            assert_eq!(res.headers()["cache-control"], "no-store", "{path}, {what}");
            let json: serde_json::Value = res.json().await.unwrap();
            assert_eq!(json["error"], "invalid_request", "{path}, {what}: {json}");
        }
    }
}

#[tokio::test]
async fn a_code_shown_by_another_client_is_refused_without_being_used_up_or_revoking_anything() {
    let app = TestApp::start().await;
    let (id, secret, _browser, code) = app.signed_in("erika@example.de").await;
    let (other, other_secret) = app.client(ClientSpec::default()).await;
    let other_secret = other_secret.unwrap();
    let (status, body) = redeem(&app, &other, &other_secret, &code, &[]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    // A wrong redirect URI from the rightful client uses nothing up either.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/other"),
    ];
    let (status, _) = app.post_as("/token", &id, &secret, &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    // Replayed by the other client: refused, and the rightful client's tokens stay good.
    let (status, _) = redeem(&app, &other, &other_secret, &code, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.refresh(&id, &secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_token_without_offline_access_ends_with_the_login_session_and_one_with_it_outlives_it() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    let secret = secret.unwrap();
    app.account("erika@example.de", false).await;
    let mut browser = app.browser();
    let online = login_code(&app, &mut browser, &id, "erika@example.de", &[]).await;
    let (_, online) = redeem(&app, &id, &secret, &online, &[]).await;
    // Asked with consent: the consent page names the permission.
    let url = authorize_url(&app, &id, &[("scope", "openid offline_access"), ("prompt", "consent")]);
    let end = browser.walk(&url, None, Consent::Allow).await;
    assert!(
        browser
            .seen
            .iter()
            .any(|p| p.contains("auch, wenn Sie beim Servicekonto nicht angemeldet sind"))
    );
    let (_, offline) = redeem(&app, &id, &secret, &end.code(), &[]).await;
    let (status, online) = app.refresh(&id, &secret, online["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "while the session lives: {online}");

    // The person logs out: the session ends, and with it the refresh token bound to it.
    let (status, _) = browser.submit("/logout", &[("confirm", "yes")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(browser.page("/profile").await.1.starts_with("redirect:/login"));
    let (status, body) = app.refresh(&id, &secret, online["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, body) = app.refresh(&id, &secret, offline["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "offline_access outlives the session: {body}");
}
