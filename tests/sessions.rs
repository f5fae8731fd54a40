//! Login sessions, the login form and logout (R-SES-1, R-SES-2, R-SES-3), CSRF protection
//! and transactions bound to one browser.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::support::*;

/// Posts the login form of `page` for the cookie test user.
async fn post_login(app: &TestApp, browser: &Browser, page: &str) -> reqwest::Response {
    let form = [
        ("csrf", form_value(page, "csrf").unwrap()),
        ("email", "cookie@example.de".into()),
        ("password", PASSWORD.into()),
    ];
    browser.http.post(app.url("/login")).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn r_ses_1_wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    app.account("known@example.de", false).await;
    let mut browser = app.browser();
    let End::Page(_, page) = browser.walk(&authorize_url(&app, &id, &[]), None, Consent::Allow).await else {
        panic!()
    };
    let wrong = browser.submit_login(&page, "known@example.de", "ABab9999!").await.unwrap_err();
    let unknown = browser.submit_login(&page, "unknown@example.de", PASSWORD).await.unwrap_err();
    let message = |html: &str| {
        html[html.find("role=\"alert\"").unwrap()..]
            .split("</div>")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(message(&wrong), message(&unknown));
    assert!(wrong.contains("E-Mail-Adresse oder Passwort ist falsch"));
    assert!(browser.submit_login(&page, "known@example.de", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn r_ses_3_session_cookie_is_http_only_lax_without_max_age_and_renewed_at_login() {
    let app = TestApp::start().await;
    app.account("cookie@example.de", false).await;
    let browser = app.browser();
    let page = browser.http.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let first = post_login(&app, &browser, &page).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.headers()[LOCATION], "/");
    let cookie = first
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("sk_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Max-Age") && !cookie.contains("Expires"));
    let home = browser.http.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("cookie@example.de"));
    let second = post_login(&app, &browser, &page).await;
    let cookie2 = second
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("sk_session="))
        .unwrap();
    assert_ne!(cookie, cookie2, "a new session id on every login");
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let app = TestApp::start().await;
    app.account("csrf@example.de", false).await;
    let browser = app.browser();
    browser.http.get(app.url("/login")).send().await.unwrap();
    let res = browser
        .http
        .post(app.url("/login"))
        .form(&[("csrf", "forged"), ("email", "csrf@example.de"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A token from another browser does not fit this one.
    let other = app.browser();
    let page = other.http.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let res = browser
        .http
        .post(app.url("/login"))
        .form(&[
            ("csrf", form_value(&page, "csrf").unwrap().as_str()),
            ("email", "csrf@example.de"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn r_ses_2_an_idle_session_expires_with_a_notice_and_a_new_login() {
    let (app, mut browser, id) = expired_session("idle@example.de").await;
    let End::Page(status, page) = browser.walk(&authorize_url(&app, &id, &[]), None, Consent::Allow).await else {
        panic!()
    };
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Ihre Sitzung ist abgelaufen"), "session expired notice");
    assert!(page.contains("name=\"password\""), "and a new login");
}

#[tokio::test]
async fn a_transaction_cannot_be_continued_from_another_browser() {
    let app = TestApp::start().await;
    let (id, _) = app.client(ClientSpec::default()).await;
    let victim = app.browser();
    let res = victim.http.get(authorize_url(&app, &id, &[])).send().await.unwrap();
    let login = res.headers()[LOCATION].to_str().unwrap().to_string();
    victim.http.get(app.url(&login)).send().await.unwrap();
    let attacker = app.browser();
    let res = attacker.http.get(app.url(&login)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("anderen Browser"));
}

#[tokio::test]
async fn r_ses_3_logout_confirms_without_a_hint_and_refuses_bad_hints_and_unregistered_targets() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    app.account("bye@example.de", false).await;
    let mut browser = app.browser();
    let code = login_code(&app, &mut browser, &id, "bye@example.de", &[]).await;
    let (_, tokens) = redeem(&app, &id, secret.as_deref().unwrap(), &code, &[]).await;
    let hint = tokens["id_token"].as_str().unwrap();

    let mut tampered = hint.to_string();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let res = browser
        .http
        .get(app.url(&format!("/logout?id_token_hint={tampered}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "modified id_token_hint");
    let status = |path: String| {
        let req = browser.http.get(app.url(&path));
        async move { req.send().await.unwrap().status() }
    };
    let with_query = format!("/logout?id_token_hint={hint}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye%3Fx%3D1");
    assert_eq!(
        status(with_query).await,
        StatusCode::BAD_REQUEST,
        "query added to the registered URI"
    );
    let no_client = "/logout?post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye".to_string();
    assert_eq!(status(no_client).await, StatusCode::BAD_REQUEST, "a target without a client");

    // Without a hint the user confirms.
    let page = browser
        .http
        .get(app.url("/logout?state=only"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"confirm\""));
    let still = browser
        .walk(&authorize_url(&app, &id, &[("prompt", "none")]), None, Consent::Allow)
        .await;
    assert!(still.param("code").is_some(), "showing the question logs nobody out");
    // A confirmation without this browser's CSRF token (forged by another site) only asks again.
    let other = app.browser().csrf().await;
    for form in [vec![("confirm", "yes")], vec![("csrf", other.as_str()), ("confirm", "yes")]] {
        let res = browser.http.post(app.url("/logout")).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains("name=\"confirm\""));
    }
    let still = browser
        .walk(&authorize_url(&app, &id, &[("prompt", "none")]), None, Consent::Allow)
        .await;
    assert!(still.param("code").is_some(), "a forged confirmation logs nobody out");
    let res = browser
        .http
        .post(app.url("/logout"))
        .form(&[("csrf", form_value(&page, "csrf").unwrap().as_str()), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Sie sind abgemeldet"));
    let gone = browser
        .walk(&authorize_url(&app, &id, &[("prompt", "none")]), None, Consent::Allow)
        .await;
    assert_eq!(gone.param("error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn pages_carry_strict_security_headers_and_an_accessibility_statement() {
    let app = TestApp::start().await;
    for path in ["/", "/login", "/barrierefreiheit", "/nope"] {
        let res = app.http().get(app.url(path)).send().await.unwrap();
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
        assert!(h.get("x-request-id").is_some());
    }
    let home = app.http().get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("Leichte Sprache") && home.contains("/barrierefreiheit"));
}

#[tokio::test]
async fn r_ses_2_the_start_page_sends_an_expired_session_to_login_with_a_notice() {
    let (app, browser, _) = expired_session("home@example.de").await;
    let res = browser.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let next = res.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(next.starts_with("/login?expired=1"));
    let page = browser.http.get(app.url(&next)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Ihre Sitzung ist abgelaufen"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_rightmost_untrusted_address_is_throttled_whatever_the_client_prepends() {
    let app = TestApp::with(|c| {
        c.client_ip_header = Some("x-forwarded-for".into());
        // The tests connect from 127.0.0.1: it plays the proxy.
        c.trusted_proxies = vec!["127.0.0.1".into()];
        c.login_throttle.address_lock_after = 3;
    })
    .await;
    app.account("erika@example.de", false).await;
    let browser = app.browser();
    let url = app.url("/login");
    let login = |forwarded: String, email: String, password: &'static str| {
        let (b, url) = (&browser, url.clone());
        async move {
            let csrf = b.csrf().await;
            let res = b
                .http
                .post(url)
                .header("x-forwarded-for", forwarded)
                .form(&[("csrf", csrf.as_str()), ("email", email.as_str()), ("password", password)])
                .send()
                .await
                .unwrap();
            res.status()
        }
    };
    // An attacker at 203.0.113.9 writes a fresh address in front on every try.
    for i in 0..4 {
        let spoofed = format!("198.51.100.{i}, 203.0.113.9");
        let status = login(spoofed, format!("user{i}@example.de"), "Falsch-123").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The address is locked, whatever is written in front of it, even with the right password.
    assert_eq!(
        login("192.0.2.200, 203.0.113.9".into(), "erika@example.de".into(), PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    // Another client behind the same proxy is not.
    assert_eq!(
        login("203.0.113.10".into(), "erika@example.de".into(), PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn on_an_https_issuer_cookies_are_host_prefixed_plain_names_are_ignored_and_hsts_is_sent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bound = listener.local_addr().unwrap();
    // TLS ends at a proxy in production; the issuer says https, the socket speaks plain HTTP.
    let app = TestApp::on(listener, |c| c.issuer = format!("https://{bound}")).await;
    app.account("erika@example.de", false).await;
    let http = app.http();
    let res = http.get(format!("http://{bound}/login")).send().await.unwrap();
    assert_eq!(res.headers()["strict-transport-security"], "max-age=31536000");
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("__Host-sk_browser=") && cookie.contains("; Path=/;") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    let csrf = form_value(&res.text().await.unwrap(), "csrf").unwrap();
    let login = |cookie_header: String| {
        let (http, csrf) = (http.clone(), csrf.clone());
        async move {
            http.post(format!("http://{bound}/login"))
                .header("cookie", cookie_header)
                .form(&[("csrf", csrf.as_str()), ("email", "erika@example.de"), ("password", PASSWORD)])
                .send()
                .await
                .unwrap()
        }
    };
    // The same value under the plain name (as a sibling subdomain could plant it) binds nothing.
    assert_eq!(login(format!("sk_browser={value}")).await.status(), StatusCode::FORBIDDEN);
    let res = login(format!("__Host-sk_browser={value}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session = res.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        session.starts_with("__Host-sk_session=") && session.ends_with("; Secure"),
        "{session}"
    );
}
