//! The bounded password hashing (R-SEC-1) through the real pages: a full pool answers 503 with
//! `Retry-After` and changes nothing, cheap checks come before any hash, and each client
//! address registers and resets only so often. Each test holds the pool's places itself, so
//! "full" is certain, not a race.

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::support::{Browser, PASSWORD, TestApp};

const NEW_PASSWORD: &str = "Neues-Passwort-1";

/// A server whose pool has one worker and no queue: holding one slot fills it.
async fn one_place(adjust: impl FnOnce(&mut servicekonto::config::Config)) -> TestApp {
    TestApp::with(|c| {
        c.password_hashing.workers = 1;
        c.password_hashing.queue = Some(0);
        adjust(c);
    })
    .await
}

/// Posts `fields` to `path` and expects the 503 of a full pool; returns the body.
async fn refused_busy(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> String {
    let res = browser.post(path, fields).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry: u64 = res.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    res.text().await.unwrap()
}

#[tokio::test]
async fn r_sec_1_a_full_pool_answers_the_login_with_503_and_retry_after_and_counts_no_failure() {
    let app = one_place(|c| c.login_throttle.delay_after = 1).await;
    app.account("erika@example.de", false).await;
    let browser = app.browser();
    let held = app.state.hasher.reserve().unwrap();
    for _ in 0..3 {
        let body = refused_busy(&browser, "/login", &[("email", "erika@example.de"), ("password", "Falsch-123")]).await;
        // The login form again, the email kept, saying why.
        assert!(body.contains("name=\"password\"") && body.contains("erika@example.de"), "{body}");
        assert!(body.contains("Gerade melden sich sehr viele Menschen an"));
    }
    drop(held);
    // None of the refused attempts was counted: with delay_after = 1 a single counted failure
    // would make this login wait.
    browser.login("erika@example.de", PASSWORD).await;
}

#[tokio::test]
async fn r_sec_1_staff_logins_share_the_pool_and_its_503() {
    let app = one_place(|_| {}).await;
    let browser = app.browser();
    let held = app.state.hasher.reserve().unwrap();
    let res = browser.post("/staff/login", &[("username", "clerk"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key(RETRY_AFTER));
    drop(held);
}

#[tokio::test]
async fn r_sec_1_a_dead_reset_link_costs_no_hash_and_a_full_pool_leaves_a_live_link_working() {
    let app = one_place(|_| {}).await;
    app.account("erika@example.de", false).await;
    let browser = app.browser();
    browser.submit("/password/forgot", &[("email", "erika@example.de")]).await;
    let link = app.mail_link("erika@example.de", "/password/reset").await;
    let token = link.rsplit('=').next().unwrap();
    let held = app.state.hasher.reserve().unwrap();
    // The link is checked before the new password is hashed: a dead one is refused as such.
    let (status, _) = browser.submit("/password/reset", &fields(&"A".repeat(43))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body = refused_busy(&browser, "/password/reset", &fields(token)).await;
    assert!(body.contains("Es wurde nichts geändert"), "{body}");
    drop(held);
    // The refused reset used nothing up: the link still works and the old password too.
    assert_eq!(browser.page(&link).await.0, StatusCode::OK);
    app.browser().login("erika@example.de", PASSWORD).await;
    let (status, body) = browser.submit("/password/reset", &fields(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.browser().login("erika@example.de", NEW_PASSWORD).await;
}

fn fields(token: &str) -> [(&'static str, &str); 3] {
    [("token", token), ("password", NEW_PASSWORD), ("password_repeat", NEW_PASSWORD)]
}

fn registration(email: &str) -> [(&'static str, &str); 5] {
    [
        ("given_name", "Erika"),
        ("family_name", "Mustermann"),
        ("email", email),
        ("password", PASSWORD),
        ("password_repeat", PASSWORD),
    ]
}

#[tokio::test]
async fn r_sec_1_a_registration_with_field_errors_costs_no_hash_and_a_full_pool_stores_nothing() {
    let app = one_place(|_| {}).await;
    let browser = app.browser();
    let held = app.state.hasher.reserve().unwrap();
    let mut broken = registration("neu@example.de");
    broken[4] = ("password_repeat", "Anders-123");
    let (status, body) = browser.submit("/register", &broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the field error, though the pool is full");
    assert!(body.contains("stimmen nicht überein"), "{body}");
    refused_busy(&browser, "/register", &registration("neu@example.de")).await;
    assert_eq!(
        browser.page("/register/summary").await.0,
        StatusCode::SEE_OTHER,
        "no draft was kept"
    );
    drop(held);
    let (status, body) = browser.submit("/register", &registration("neu@example.de")).await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/register/summary"));
}

#[tokio::test]
async fn r_sec_1_one_address_registers_and_resets_only_so_often_per_hour() {
    let app = TestApp::with(|c| {
        c.login_throttle.registrations_per_hour = 2;
        c.login_throttle.resets_per_hour = 1;
    })
    .await;
    app.account("erika@example.de", false).await;
    for i in 0..2 {
        let email = format!("neu{i}@example.de");
        let (status, _) = app.browser().submit("/register", &registration(&email)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, body) = app.browser().submit("/register", &registration("neu9@example.de")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("zu viele Registrierungen"), "{body}");
    let (status, _) = app.browser().submit("/password/forgot", &[("email", "erika@example.de")]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.browser().submit("/password/forgot", &[("email", "erika@example.de")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn r_sec_3_padding_the_login_name_gives_it_no_fresh_failure_counter() {
    let app = TestApp::with(|c| c.login_throttle.delay_after = 1).await;
    app.account("erika@example.de", false).await;
    let padded = format!("{}erika@example.de", " ".repeat(300));
    let (status, _) = app
        .browser()
        .submit("/login", &[("email", &padded), ("password", "Falsch-123")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The failure counted for the account's own name: the right password must wait now.
    let (status, body) = app
        .browser()
        .submit("/login", &[("email", "erika@example.de"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("warten Sie einige Sekunden"), "{body}");
}
