//! Forgotten password (R-SES-4), blocking (R-SES-6) and login throttling.

use reqwest::StatusCode;
use servicekonto::accounts::{AccountError, recovery};
use servicekonto::secret::Secret;

use crate::support::{PASSWORD, TestApp, redeem};

const NEW_PASSWORD: &str = "Neues-Passwort-1";

/// Asks for a reset link for `email` and returns it.
async fn reset_link(app: &TestApp, email: &str) -> String {
    let (status, body) = app.browser().submit("/password/forgot", &[("email", email)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Wenn zu dieser E-Mail-Adresse ein Servicekonto gehört"));
    app.mail_link(email, "/password/reset").await
}

async fn set_password(app: &TestApp, link: &str, password: &str, repeat: &str) -> (StatusCode, String) {
    let browser = app.browser();
    let token = link.rsplit('=').next().unwrap();
    browser
        .submit(
            "/password/reset",
            &[("token", token), ("password", password), ("password_repeat", repeat)],
        )
        .await
}

#[tokio::test]
async fn r_ses_4_a_reset_link_sets_a_new_password_ends_sessions_and_revokes_refresh_tokens() {
    let app = TestApp::start().await;
    let (id, secret, browser, code) = app.signed_in("erika@example.de").await;
    let (_, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(browser.page("/profile").await.0, StatusCode::OK);

    let link = reset_link(&app, "erika@example.de").await;
    assert!(link.starts_with(&app.url("/password/reset?token=")));
    let (status, page) = app.browser().page(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Neues Passwort festlegen"));

    // R-REG-2 applies; a refused password leaves the link usable.
    let (status, body) = set_password(&app, &link, "abcdefgh", "abcdefgh").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("mindestens zwei von drei"));
    let (status, _) = set_password(&app, &link, NEW_PASSWORD, "Anderes-Passwort-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = set_password(&app, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Every session ends, every refresh token is revoked.
    let (_, after) = browser.page("/profile").await;
    assert!(after.starts_with("redirect:/login"), "{after}");
    let (status, body) = app
        .post_as(
            "/token",
            &id,
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, _) = app
        .browser()
        .submit("/login", &[("email", "erika@example.de"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.browser().login("erika@example.de", NEW_PASSWORD).await;

    // The link works once; the change was announced with a block link.
    let (status, _) = set_password(&app, &link, "Noch-eins-123", "Noch-eins-123").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.mail_link("erika@example.de", "/block").await;
}

#[tokio::test]
async fn r_ses_4_the_answer_never_reveals_whether_the_email_is_registered() {
    let app = TestApp::start().await;
    app.account("erika@example.de", false).await;
    let (s1, known) = app.browser().submit("/password/forgot", &[("email", "erika@example.de")]).await;
    let (s2, unknown) = app.browser().submit("/password/forgot", &[("email", "niemand@example.de")]).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    let strip = |s: &str| s.split("<main").nth(1).unwrap().split("</main>").next().unwrap().to_string();
    assert_eq!(strip(&known), strip(&unknown));
    app.wait_mails("erika@example.de", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.mails_to("niemand@example.de").is_empty());
    let mail = &app.mails_to("erika@example.de")[0];
    assert!(!mail.contains(PASSWORD), "no password is ever mailed");
}

#[tokio::test]
async fn r_ses_4_a_reset_link_expires_after_one_hour_and_only_the_newest_works() {
    let app = TestApp::start().await;
    app.account("erika@example.de", false).await;
    let first = reset_link(&app, "erika@example.de").await;
    // A second request replaces the first link.
    app.browser().submit("/password/forgot", &[("email", "erika@example.de")]).await;
    app.wait_mails("erika@example.de", 2).await;
    let second = app.mail_link("erika@example.de", "/password/reset").await;
    assert_ne!(first, second);
    assert_eq!(app.browser().page(&first).await.0, StatusCode::NOT_FOUND);
    let token = second.rsplit('=').next().unwrap();
    let later = servicekonto::clock::now() + 3601;
    let r = recovery::reset_password(
        app.state.account_env(),
        token,
        Secret::new(NEW_PASSWORD.into()),
        "127.0.0.1",
        Default::default(),
        later,
    )
    .await;
    assert!(matches!(r, Err(AccountError::LinkInvalid)));
    assert_eq!(app.browser().page(&second).await.0, StatusCode::OK, "still valid within the hour");
}

#[tokio::test]
async fn r_ses_6_a_block_link_blocks_at_once_and_only_a_reset_unblocks() {
    let app = TestApp::start().await;
    let (id, secret, browser, code) = app.signed_in("erika@example.de").await;
    let (_, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    // A password change mails a block link.
    let (status, _) = browser
        .submit(
            "/profile/password",
            &[("current", PASSWORD), ("password", NEW_PASSWORD), ("password_repeat", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let block = app.mail_link("erika@example.de", "/block").await;
    let other = app.browser();
    let (status, page) = other.page(&block).await;
    assert_eq!(status, StatusCode::OK);
    let token = crate::support::form_value(&page, "token").unwrap();
    let (status, body) = other.submit("/block", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        app.state
            .store
            .account_by_email("erika@example.de")
            .await
            .unwrap()
            .unwrap()
            .blocked_at
            .is_some()
    );

    // Sessions and refresh tokens are gone; the right password no longer logs in.
    assert!(browser.page("/profile").await.1.starts_with("redirect:/login"));
    let (status, _) = app.refresh(&id, &secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .browser()
        .submit("/login", &[("email", "erika@example.de"), ("password", NEW_PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("gesperrt"));
    // The block link is used up; a reset unblocks.
    assert_eq!(other.submit("/block", &[("token", &token)]).await.0, StatusCode::NOT_FOUND);
    let link = reset_link(&app, "erika@example.de").await;
    set_password(&app, &link, "Wieder-offen-1", "Wieder-offen-1").await;
    app.browser().login("erika@example.de", "Wieder-offen-1").await;
}

#[tokio::test]
async fn r_ses_1_failed_logins_are_delayed_then_locked_with_a_mail_to_the_owner_alike_for_unknown_names() {
    let app = TestApp::with(|c| {
        c.login_throttle.delay_after = 100;
        c.login_throttle.lock_after = 3;
    })
    .await;
    app.account("erika@example.de", false).await;
    let attempt = |email: &'static str, password: &'static str| {
        let browser = app.browser();
        async move { browser.submit("/login", &[("email", email), ("password", password)]).await }
    };
    for email in ["erika@example.de", "niemand@example.de"] {
        for _ in 0..2 {
            let (status, body) = attempt(email, "Falsch-123").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(body.contains("E-Mail-Adresse oder Passwort ist falsch"));
        }
        let (_, body) = attempt(email, "Falsch-123").await;
        assert!(body.contains("für 15 Minuten gesperrt"), "{email}");
        // Locked: even the right password is refused, and the answer is the same as before.
        let (status, body) = attempt(email, PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("für 15 Minuten gesperrt"));
    }
    let mails = app.wait_mails("erika@example.de", 1).await;
    assert!(mails[0].contains("Anmeldung vorübergehend gesperrt") || mails[0].contains("15 Minuten gesperrt"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.mails_to("erika@example.de").len(), 1, "the owner is told once");
    assert!(app.mails_to("niemand@example.de").is_empty());
}

#[tokio::test]
async fn r_ses_1_after_a_few_failures_the_next_attempt_must_wait() {
    let app = TestApp::with(|c| c.login_throttle.delay_after = 1).await;
    app.account("erika@example.de", false).await;
    let browser = app.browser();
    let (_, body) = browser
        .submit("/login", &[("email", "erika@example.de"), ("password", "Falsch-123")])
        .await;
    assert!(body.contains("ist falsch"));
    let (status, body) = browser
        .submit("/login", &[("email", "erika@example.de"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("warten Sie einige Sekunden"));
    // The first wait is one second, counted in whole seconds: at most two.
    app.state.clock.advance(2);
    browser.login("erika@example.de", PASSWORD).await;
}

#[tokio::test]
async fn the_forms_cannot_flood_a_mailbox() {
    let app = TestApp::start().await;
    app.account("erika@example.de", false).await;
    let browser = app.browser();
    for _ in 0..7 {
        let (status, _) = browser.submit("/password/forgot", &[("email", "erika@example.de")]).await;
        assert_eq!(status, StatusCode::OK, "the answer stays the same");
    }
    app.wait_mails("erika@example.de", servicekonto::accounts::throttle::MAILS_PER_HOUR as usize)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        app.mails_to("erika@example.de").len(),
        servicekonto::accounts::throttle::MAILS_PER_HOUR as usize
    );
}
