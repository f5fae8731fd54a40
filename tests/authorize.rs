//! The authorization endpoint: error routing, prompt, max_age, hints, locales, acr, the
//! claims parameter, response modes and POST requests.

use reqwest::StatusCode;
use servicekonto::trust::TrustLevel;

use crate::support::*;

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_uri_get_an_html_page_never_a_redirect() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    let http = app.http();
    for url in [
        app.url("/authorize?client_id=nope&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid"),
        app.url(&format!(
            "/authorize?client_id={id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb%2F&response_type=code&scope=openid"
        )),
        app.url(&format!(
            "/authorize?client_id={id}&redirect_uri=http%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid"
        )),
        app.url(&format!("/authorize?client_id={id}&response_type=code&scope=openid")),
        app.url("/authorize?redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"),
        app.url(&format!("/authorize?client_id={id}&client_id={id}")),
    ] {
        let res = http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(res.headers().get("location").is_none());
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(!csp.contains("unsafe-inline"));
        assert!(res.text().await.unwrap().contains("<h1>"));
    }
}

#[tokio::test]
async fn other_errors_redirect_with_state_and_iss() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    let mut browser = app.browser();
    for (extra, code) in [
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("prompt", "select_account")], "invalid_request"),
        (
            vec![("code_challenge", "abc"), ("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (vec![("request", "eyJhbGciOiJub25lIn0.e30.")], "request_not_supported"),
        (vec![("request_uri", "https://rp.example/r")], "request_uri_not_supported"),
        (vec![("scope", "unknown")], "invalid_scope"),
        (vec![("claims", "{not json")], "invalid_request"),
        (vec![("max_age", "-1")], "invalid_request"),
        (vec![("id_token_hint", "forged.token.here")], "invalid_request"),
    ] {
        let end = browser.walk(&authorize_url(&app, &id, &extra), None, Consent::Allow).await;
        assert_eq!(end.param("error").as_deref(), Some(code), "{extra:?}");
        assert_eq!(end.param("state").as_deref(), Some("st-1"));
        assert_eq!(end.param("iss").as_deref(), Some(app.issuer.as_str()));
    }
    // A missing response_type (oidcc-response-type-missing).
    let url = app.url(&format!(
        "/authorize?client_id={id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid&state=s"
    ));
    let End::Client(u) = browser.walk(&url, None, Consent::Allow).await else {
        panic!()
    };
    assert!(u.query().unwrap().contains("error=invalid_request"));
}

#[tokio::test]
async fn prompt_none_never_shows_a_page() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    app.account("none@example.de", false).await;
    let mut browser = app.browser();
    let end = browser
        .walk(&authorize_url(&app, &id, &[("prompt", "none")]), None, Consent::Allow)
        .await;
    assert_eq!(end.param("error").as_deref(), Some("login_required"));
    login_code(&app, &mut browser, &id, "none@example.de", &[]).await;
    let end = browser
        .walk(&authorize_url(&app, &id, &[("prompt", "none")]), None, Consent::Allow)
        .await;
    assert!(end.param("code").is_some(), "logged in and consented: silent success");
    let end = browser
        .walk(
            &authorize_url(&app, &id, &[("prompt", "none"), ("scope", "openid phone")]),
            None,
            Consent::Allow,
        )
        .await;
    assert_eq!(end.param("error").as_deref(), Some("consent_required"));
}

#[tokio::test]
async fn r_svc_3_consent_is_remembered_per_client_and_scope_set_and_prompt_consent_asks_again() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    app.account("consent@example.de", false).await;
    let mut browser = app.browser();
    login_code(&app, &mut browser, &id, "consent@example.de", &[]).await;
    assert_eq!(browser.seen.len(), 2, "login and consent shown");
    browser.walk(&authorize_url(&app, &id, &[]), None, Consent::Allow).await.code();
    assert_eq!(browser.seen.len(), 2, "consent remembered");
    browser
        .walk(&authorize_url(&app, &id, &[("prompt", "consent")]), None, Consent::Allow)
        .await
        .code();
    assert_eq!(browser.seen.len(), 3, "prompt=consent asks again");
    browser
        .walk(
            &authorize_url(&app, &id, &[("scope", "openid email address")]),
            None,
            Consent::Allow,
        )
        .await
        .code();
    assert_eq!(browser.seen.len(), 4, "a wider scope set asks again");
    let end = browser
        .walk(
            &authorize_url(&app, &id, &[("scope", "openid phone"), ("prompt", "consent")]),
            None,
            Consent::Deny,
        )
        .await;
    assert_eq!(end.param("error").as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn prompt_login_and_max_age_force_a_new_authentication() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    app.account("again@example.de", false).await;
    let mut browser = app.browser();
    let first = login_code(&app, &mut browser, &id, "again@example.de", &[]).await;
    let (_, t1) = redeem(&app, &id, secret.as_deref().unwrap(), &first, &[]).await;
    let auth_time_1 = jwt_claims(t1["id_token"].as_str().unwrap())["auth_time"].as_i64().unwrap();
    app.state.clock.advance(1);
    for extra in [vec![("prompt", "login")], vec![("max_age", "0")]] {
        let seen = browser.seen.len();
        let code = login_code(&app, &mut browser, &id, "again@example.de", &extra).await;
        assert_eq!(browser.seen.len(), seen + 1, "login page shown again for {extra:?}");
        let (_, t) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
        assert!(jwt_claims(t["id_token"].as_str().unwrap())["auth_time"].as_i64().unwrap() > auth_time_1);
    }
    let seen = browser.seen.len();
    browser
        .walk(&authorize_url(&app, &id, &[("max_age", "10000")]), None, Consent::Allow)
        .await
        .code();
    assert_eq!(browser.seen.len(), seen, "max_age=10000 needs no new login");
}

#[tokio::test]
async fn login_hint_prefills_and_ui_locales_switches_to_english() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    let mut browser = app.browser();
    let end = browser
        .walk(
            &authorize_url(&app, &id, &[("login_hint", "hint@example.de"), ("ui_locales", "en-US de")]),
            None,
            Consent::Allow,
        )
        .await;
    let End::Page(status, body) = end else { panic!() };
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("value=\"hint@example.de\""));
    assert!(body.contains("lang=\"en\"") && body.contains("Log in"));
    let End::Page(_, body) = browser.walk(&authorize_url(&app, &id, &[]), None, Consent::Allow).await else {
        panic!()
    };
    assert!(body.contains("lang=\"de\"") && body.contains("Anmelden"), "German by default");
}

#[tokio::test]
async fn id_token_hint_for_another_user_requires_login() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    app.account("one@example.de", false).await;
    app.account("two@example.de", false).await;
    let mut a = app.browser();
    let code = login_code(&app, &mut a, &id, "one@example.de", &[]).await;
    let (_, tokens) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
    let hint = tokens["id_token"].as_str().unwrap();
    // Same user: silent.
    let end = a
        .walk(
            &authorize_url(&app, &id, &[("prompt", "none"), ("id_token_hint", hint)]),
            None,
            Consent::Allow,
        )
        .await;
    assert!(end.param("code").is_some());
    // Another user's browser with this hint: login_required.
    let mut b = app.browser();
    login_code(&app, &mut b, &id, "two@example.de", &[]).await;
    let end = b
        .walk(
            &authorize_url(&app, &id, &[("prompt", "none"), ("id_token_hint", hint)]),
            None,
            Consent::Allow,
        )
        .await;
    assert_eq!(end.param("error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn r_acr_2_essential_acr_values_are_honoured_with_synonyms() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    app.account("plus@example.de", true).await;
    app.account("basic@example.de", false).await;
    let essential = |values: &str| format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":[{values}]}}}}}}"#);

    let mut plus = app.browser();
    let claims = essential(r#""urn:servicekonto:acr:plus""#);
    let code = login_code(&app, &mut plus, &id, "plus@example.de", &[("claims", &claims)]).await;
    let (_, t) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
    assert_eq!(jwt_claims(t["id_token"].as_str().unwrap())["acr"], "urn:servicekonto:acr:plus");

    let mut basic = app.browser();
    let claims = essential(r#""STORK-QAA-Level-1""#);
    let code = login_code(&app, &mut basic, &id, "basic@example.de", &[("claims", &claims)]).await;
    let (_, t) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
    assert_eq!(
        jwt_claims(t["id_token"].as_str().unwrap())["acr"],
        "STORK-QAA-Level-1",
        "a requested essential value is echoed"
    );

    // R-ACR-3: essential and unreachable.
    let claims = essential(r#""http://eidas.europa.eu/LoA/high""#);
    let end = basic
        .walk(&authorize_url(&app, &id, &[("claims", &claims)]), None, Consent::Allow)
        .await;
    assert_eq!(end.param("error").as_deref(), Some("unmet_authentication_requirements"));
    // Voluntary acr_values: the best level the account has.
    let code = basic
        .walk(
            &authorize_url(&app, &id, &[("acr_values", "urn:servicekonto:acr:eid")]),
            None,
            Consent::Allow,
        )
        .await
        .code();
    let (_, t) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
    assert_eq!(jwt_claims(t["id_token"].as_str().unwrap())["acr"], "urn:servicekonto:acr:basic");
}

#[tokio::test]
async fn r_acr_4_a_service_minimum_level_blocks_codes_below_it() {
    let app = TestApp::start().await;
    let (id, _) = app
        .client(ClientSpec {
            min_level: TrustLevel::Plus,
            ..ClientSpec::default()
        })
        .await;
    app.account("low@example.de", false).await;
    app.account("high@example.de", true).await;
    let mut low = app.browser();
    let end = low
        .walk(&authorize_url(&app, &id, &[]), Some(("low@example.de", PASSWORD)), Consent::Allow)
        .await;
    assert_eq!(end.param("error").as_deref(), Some("unmet_authentication_requirements"));
    let mut high = app.browser();
    assert!(!login_code(&app, &mut high, &id, "high@example.de", &[]).await.is_empty());
}

#[tokio::test]
async fn r_acr_5_amr_and_auth_time_name_the_password_login() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    app.account("amr@example.de", false).await;
    let before = servicekonto::clock::now();
    let mut browser = app.browser();
    let code = login_code(&app, &mut browser, &id, "amr@example.de", &[("nonce", "n-1")]).await;
    let (_, t) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
    let c = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(c["amr"], serde_json::json!(["pwd"]));
    assert!(c["auth_time"].as_i64().unwrap() >= before.seconds());
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["acr"], "urn:servicekonto:acr:basic", "R-ACR-1: always present");
}

#[tokio::test]
async fn claims_parameter_puts_claims_into_id_token_and_userinfo() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    app.account("claims@example.de", true).await;
    let mut browser = app.browser();
    let claims =
        r#"{"id_token":{"email":{"essential":true},"birthdate":null},"userinfo":{"address":null,"family_name":{"value":"Mustermann"}}}"#;
    let code = login_code(
        &app,
        &mut browser,
        &id,
        "claims@example.de",
        &[("scope", "openid"), ("claims", claims)],
    )
    .await;
    let (_, t) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
    let c = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(c["email"], "claims@example.de");
    assert_eq!(c["birthdate"], "1964-08-12");
    let info: serde_json::Value = app
        .http()
        .get(app.url("/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["family_name"], "Mustermann");
    assert_eq!(info["address"]["locality"], "Köln");
    assert!(info.get("email").is_none(), "only what was asked for");
}

#[tokio::test]
async fn r_svc_1_the_claims_parameter_cannot_reach_beyond_the_clients_scopes() {
    let app = TestApp::start().await;
    let spec = ClientSpec {
        scopes: vec!["openid".into()],
        ..ClientSpec::default()
    };
    let (id, secret) = app.client(spec).await;
    app.account("plus@example.de", true).await;
    let mut browser = app.browser();
    let claims = r#"{"id_token":{"birthdate":null,"address":null,"acr":null},"userinfo":{"address":null,"phone_number":null,"birthdate":null,"given_name":null,"verified_claims":null}}"#;
    let end = browser
        .walk(
            &authorize_url(&app, &id, &[("scope", "openid"), ("claims", claims)]),
            Some(("plus@example.de", PASSWORD)),
            Consent::Allow,
        )
        .await;
    assert!(
        !browser.seen.iter().any(|p| p.contains("Heidestraße") || p.contains("1964")),
        "the consent lists none of it"
    );
    let (_, t) = redeem(&app, &id, secret.as_deref().unwrap(), &end.code(), &[]).await;
    let c = jwt_claims(t["id_token"].as_str().unwrap());
    assert!(c.get("birthdate").is_none() && c.get("address").is_none(), "{c}");
    assert!(c.get("acr").is_some(), "protocol claims stay");
    let (_, info) = app.userinfo(t["access_token"].as_str().unwrap()).await;
    for name in ["address", "phone_number", "birthdate", "given_name", "verified_claims"] {
        assert!(info.get(name).is_none(), "{name} in {info}");
    }
    assert!(info["sub"].is_string());
}

#[tokio::test]
async fn form_post_response_mode_renders_an_auto_submitting_form_with_a_nonce_csp() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    app.account("fp@example.de", false).await;
    let mut browser = app.browser();
    login_code(&app, &mut browser, &id, "fp@example.de", &[]).await;
    let res = browser
        .http
        .get(authorize_url(&app, &id, &[("response_mode", "form_post")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'nonce-") && !csp.contains("unsafe-inline"));
    let body = res.text().await.unwrap();
    assert!(
        body.contains(&format!("action=\"{}\"", RP_CALLBACK.replace('/', "&#x2F;"))) || body.contains(&format!("action=\"{RP_CALLBACK}\""))
    );
    assert!(form_value(&body, "code").is_some());
    assert_eq!(form_value(&body, "state").as_deref(), Some("st-1"));
    assert_eq!(form_value(&body, "iss").as_deref(), Some(app.issuer.as_str()));
}

#[tokio::test]
async fn post_authorization_requests_succeed() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    app.account("post@example.de", false).await;
    let mut browser = app.browser();
    login_code(&app, &mut browser, &id, "post@example.de", &[]).await;
    let form = [
        ("client_id", id.as_str()),
        ("redirect_uri", RP_CALLBACK),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "p"),
    ];
    let res = browser.http.post(app.url("/authorize")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let next = app.url(res.headers()["location"].to_str().unwrap());
    let end = browser.walk(&next, None, Consent::Allow).await;
    assert!(end.param("code").is_some());
    assert_eq!(end.param("state").as_deref(), Some("p"));
}

#[tokio::test]
async fn unknown_parameters_are_ignored_and_display_is_accepted() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    app.account("extra@example.de", false).await;
    let mut browser = app.browser();
    let code = login_code(
        &app,
        &mut browser,
        &id,
        "extra@example.de",
        &[("extra", "foobar"), ("display", "popup"), ("claims_locales", "de")],
    )
    .await;
    assert!(!code.is_empty());
}

#[tokio::test]
async fn r_sec_2_a_flood_of_authorization_requests_from_one_address_keeps_nothing_beyond_its_limit() {
    let app = TestApp::with(|c| {
        c.client_ip_header = Some("x-forwarded-for".into());
        c.trusted_proxies = vec!["127.0.0.1".into()];
        c.login_throttle.authorizations_per_hour = 5;
    })
    .await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    let url = authorize_url(&app, &id, &[]);
    let mut stored = 0;
    for _ in 0..20 {
        let res = app.http().get(&url).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        if location.starts_with("/login?txn=") {
            stored += 1;
        } else {
            assert!(
                location.starts_with(RP_CALLBACK) && location.contains("error=temporarily_unavailable"),
                "{location}"
            );
        }
    }
    assert_eq!(stored, 5, "only the allowed requests kept a transaction");
    // Someone else logs in as usual.
    app.account("erika@example.de", false).await;
    let mut browser = app.browser();
    let code = login_code(&app, &mut browser, &id, "erika@example.de", &[]).await;
    assert_eq!(redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn r_sec_2_an_authorization_request_too_large_to_keep_is_refused_to_the_client() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    let big = "x".repeat(7 * 1024);
    let url = authorize_url(&app, &id, &[("nonce", &big), ("login_hint", &big), ("state", &big)]);
    let res = app.http().get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(RP_CALLBACK) && location.contains("error=invalid_request"),
        "{location}"
    );
    // Within the bound, the same request goes on to the login.
    let fits = "x".repeat(2 * 1024);
    let url = authorize_url(&app, &id, &[("nonce", &fits), ("state", &fits)]);
    let res = app.http().get(&url).send().await.unwrap();
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?txn="));
}
