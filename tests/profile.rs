//! The citizen's own pages: profile (R-PRO-1, R-PRO-4), consents (R-SVC-3), email change
//! (R-PRO-2), deletion (R-PRO-3), and the session rules every page follows (R-SES-2, R-SES-3).

use reqwest::StatusCode;

use crate::support::{ClientSpec, PASSWORD, TestApp, expired_session, form_value, login_code, redeem};

const PROFILE: &[(&str, &str)] = &[
    ("title", "Dr."),
    ("given_name", "Erika Maria"),
    ("family_name", "Musterfrau"),
    ("birthdate", "1964-08-12"),
    ("street", "Heidestraße"),
    ("house_number", "17"),
    ("postal_code", "51147"),
    ("city", "Köln"),
    ("country", "de"),
    ("phone_number", "+49 221 12345"),
];

#[tokio::test]
async fn r_pro_1_a_basic_account_changes_every_field() {
    let app = TestApp::start().await;
    let browser = app.browser();
    app.account("erika@example.de", false).await;
    browser.login("erika@example.de", PASSWORD).await;
    let (status, body) = browser.submit("/profile", PROFILE).await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/profile?done=saved"));
    let a = app.state.store.account_by_email("erika@example.de").await.unwrap().unwrap();
    assert_eq!(a.title.as_deref(), Some("Dr."));
    assert_eq!((a.given_name.as_str(), a.family_name.as_str()), ("Erika Maria", "Musterfrau"));
    assert_eq!(a.birthdate.as_deref(), Some("1964-08-12"));
    assert_eq!(a.address.as_ref().unwrap().country, "DE");
    assert_eq!(a.phone_number.as_deref(), Some("+49 221 12345"));
    let (_, page) = browser.page("/profile?done=saved").await;
    assert!(page.contains("Ihre Angaben sind gespeichert") && page.contains("Musterfrau"));

    // Bad values are explained at the field and change nothing.
    let mut bad = PROFILE.to_vec();
    bad[3] = ("birthdate", "2999-01-01");
    let (status, body) = browser.submit("/profile", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("id=\"birthdate-error\"") && body.contains("href=\"#birthdate\""));
    let mut partial = PROFILE.to_vec();
    partial[7] = ("city", "");
    assert_eq!(browser.submit("/profile", &partial).await.0, StatusCode::BAD_REQUEST);
    let long = "x".repeat(101);
    let mut too_long = PROFILE.to_vec();
    too_long[1] = ("given_name", &long);
    assert_eq!(browser.submit("/profile", &too_long).await.0, StatusCode::BAD_REQUEST);
    let after = app.state.store.account_by_email("erika@example.de").await.unwrap().unwrap();
    assert_eq!(after.birthdate.as_deref(), Some("1964-08-12"));
    assert_eq!(after.given_name, "Erika Maria");
}

#[tokio::test]
async fn r_pro_1_locked_fields_of_a_plus_account_refuse_a_forged_post() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let plus = app.account("plus@example.de", true).await;
    browser.login("plus@example.de", PASSWORD).await;
    let (_, page) = browser.page("/profile").await;
    assert!(page.contains("readonly"), "the page shows locked fields read-only");
    let unchanged = [
        ("title", ""),
        ("given_name", "Erika"),
        ("family_name", "Mustermann"),
        ("birthdate", "1964-08-12"),
        ("street", "Heidestraße"),
        ("house_number", "17"),
        ("postal_code", "51147"),
        ("city", "Köln"),
        ("country", "DE"),
    ];
    for (field, forged) in [
        ("given_name", "Eve"),
        ("family_name", "X"),
        ("birthdate", "1990-01-01"),
        ("city", "Bonn"),
        ("title", "Prof."),
    ] {
        let mut form: Vec<(&str, &str)> = unchanged
            .iter()
            .map(|(k, v)| if *k == field { (*k, forged) } else { (*k, *v) })
            .collect();
        form.push(("phone_number", "0221 1"));
        let (status, body) = browser.submit("/profile", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert!(body.contains("bei einem Servicekonto Plus gesperrt"), "{field}");
    }
    let stored = app.state.store.account(&plus.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.given_name.as_str(), stored.phone_number.clone()),
        ("Erika", None),
        "nothing changed"
    );
    // The free fields still change.
    let mut form = unchanged.to_vec();
    form.push(("phone_number", "0221 1"));
    assert_eq!(browser.submit("/profile", &form).await.0, StatusCode::SEE_OTHER);
    assert_eq!(
        app.state.store.account(&plus.id).await.unwrap().unwrap().phone_number.as_deref(),
        Some("0221 1")
    );
}

#[tokio::test]
async fn r_pro_4_consent_to_electronic_delivery_is_recorded_with_its_time() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let a = app.account("erika@example.de", false).await;
    browser.login("erika@example.de", PASSWORD).await;
    let base = [("given_name", "Erika"), ("family_name", "Mustermann")];
    let mut with = base.to_vec();
    with.push(("delivery_consent", "yes"));
    let before = servicekonto::clock::now();
    browser.submit("/profile", &with).await;
    let at = app.state.store.account(&a.id).await.unwrap().unwrap().delivery_consent_at.unwrap();
    assert!(at >= before && at <= servicekonto::clock::now());
    let (_, page) = browser.page("/profile").await;
    assert!(page.contains("Zugang eröffnet am") && page.contains("checked"));
    // Saving again keeps the original time; unticking withdraws it.
    browser.submit("/profile", &with).await;
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().delivery_consent_at, Some(at));
    browser.submit("/profile", &base).await;
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().delivery_consent_at, None);
}

#[tokio::test]
async fn r_pro_4_services_read_whether_electronic_delivery_is_open() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    let secret = secret.unwrap();
    let a = app.account("erika@example.de", false).await;
    let mut browser = app.browser();
    let read = |code: String| {
        let (app, id, secret) = (&app, id.clone(), secret.clone());
        async move {
            let (_, tokens) = redeem(app, &id, &secret, &code, &[]).await;
            let res = app
                .http()
                .get(app.url("/userinfo"))
                .bearer_auth(tokens["access_token"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let code = login_code(&app, &mut browser, &id, "erika@example.de", &[("scope", "openid delivery")]).await;
    assert!(
        browser.seen.last().unwrap().contains("elektronische Zustellung"),
        "the consent page names it"
    );
    let info = read(code).await;
    assert_eq!(info["delivery_consent"], serde_json::json!(false));
    assert!(info.get("delivery_consent_at").is_none());
    browser
        .submit(
            "/profile",
            &[("given_name", "Erika"), ("family_name", "Mustermann"), ("delivery_consent", "yes")],
        )
        .await;
    let at = app.state.store.account(&a.id).await.unwrap().unwrap().delivery_consent_at.unwrap();
    let code = login_code(&app, &mut browser, &id, "erika@example.de", &[("scope", "openid delivery")]).await;
    let info = read(code).await;
    assert_eq!(
        (info["delivery_consent"].clone(), info["delivery_consent_at"].clone()),
        (serde_json::json!(true), serde_json::json!(at))
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_follows_r_reg_2() {
    let app = TestApp::start().await;
    let browser = app.browser();
    app.account("erika@example.de", false).await;
    browser.login("erika@example.de", PASSWORD).await;
    let change = |current: &'static str, new: &'static str| {
        let b = &browser;
        async move {
            b.submit(
                "/profile/password",
                &[("current", current), ("password", new), ("password_repeat", new)],
            )
            .await
        }
    };
    let (status, body) = change("Falsch-123", "Neues-Pass-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("id=\"current-error\""));
    let (status, body) = change(PASSWORD, "nurkleinbuchstaben").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("mindestens zwei von drei"));
    let (status, _) = change(PASSWORD, "Neues-Pass-1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    app.browser().login("erika@example.de", "Neues-Pass-1").await;
    let mails = app.wait_mails("erika@example.de", 1).await;
    assert!(mails[0].contains("/block?token="), "R-SES-6: the notice carries a block link");
}

#[tokio::test]
async fn r_pro_2_email_change_confirms_the_new_address_tells_the_old_one_and_needs_the_old_login_once_more() {
    let app = TestApp::start().await;
    let browser = app.browser();
    app.account("alt@example.de", false).await;
    browser.login("alt@example.de", PASSWORD).await;
    let (status, body) = browser
        .submit(
            "/profile/email",
            &[("email", "neu@example.de"), ("email_repeat", "neu@example.org")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("stimmen nicht überein"));
    let (status, _) = browser
        .submit("/profile/email", &[("email", "Neu@Example.de"), ("email_repeat", "neu@example.de")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let link = app.mail_link("neu@example.de", "/profile/email/confirm").await;
    let notice = app.wait_mails("alt@example.de", 1).await;
    assert!(notice[0].contains("neu@example.de") && notice[0].contains("/block?token="));
    // Nothing changes until confirmed.
    browser.login("alt@example.de", PASSWORD).await;

    let other = app.browser();
    let (status, page) = other.page(&link).await;
    assert_eq!(status, StatusCode::OK, "{link} {:?}", app.mails_to("neu@example.de"));
    let token = form_value(&page, "token").unwrap();
    let (status, _) = other
        .submit(
            "/profile/email/confirm",
            &[("token", &token), ("email", "alt@example.de"), ("password", "Falsch-123")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = other
        .submit(
            "/profile/email/confirm",
            &[("token", &token), ("email", "neu@example.de"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the new address does not log in before the change"
    );
    let (status, body) = other
        .submit(
            "/profile/email/confirm",
            &[("token", &token), ("email", "alt@example.de"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.browser().login("neu@example.de", PASSWORD).await;
    let (status, _) = app
        .browser()
        .submit("/login", &[("email", "alt@example.de"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The link works once.
    assert_eq!(other.page(&link).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn r_pro_2_a_taken_address_reveals_nothing_and_cannot_be_taken_over() {
    let app = TestApp::start().await;
    let browser = app.browser();
    app.account("alt@example.de", false).await;
    app.account("belegt@example.de", false).await;
    browser.login("alt@example.de", PASSWORD).await;
    let (status, body) = browser
        .submit(
            "/profile/email",
            &[("email", "belegt@example.de"), ("email_repeat", "belegt@example.de")],
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/profile?done=email"));
    let mails = app.wait_mails("belegt@example.de", 1).await;
    assert!(
        !mails[0].contains("/profile/email/confirm"),
        "the owner of the taken address gets no confirmation link"
    );
    assert_eq!(
        app.state.store.account_by_email("alt@example.de").await.unwrap().unwrap().email,
        "alt@example.de"
    );
}

#[tokio::test]
async fn r_pro_3_deletion_removes_everything_at_once_and_frees_the_email() {
    let app = TestApp::start().await;
    let (id, secret, browser, code) = app.signed_in("erika@example.de").await;
    let (_, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    let account = app.state.store.account_by_email("erika@example.de").await.unwrap().unwrap();
    assert!(!app.state.store.consents_of(&account.id).await.unwrap().is_empty());

    let (status, body) = browser.submit("/profile/delete", &[("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an explicit confirmation is needed");
    assert!(body.contains("id=\"confirm-error\""));
    let (status, _) = browser
        .submit("/profile/delete", &[("confirm", "yes"), ("password", "Falsch-123")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(app.state.store.account(&account.id).await.unwrap().is_some());

    let (status, body) = browser
        .submit("/profile/delete", &[("confirm", "yes"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(app.state.store.account(&account.id).await.unwrap().is_none());
    assert!(app.state.store.consents_of(&account.id).await.unwrap().is_empty());
    let (status, _) = app.refresh(&id, &secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "refresh tokens are gone");
    let res = app
        .http()
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "access tokens stop working");
    assert!(
        browser.page("/profile").await.1.starts_with("redirect:/login"),
        "the session is gone"
    );
    app.wait_mails("erika@example.de", 1).await;

    // The email registers again at once.
    let again = app.browser();
    let (status, _) = again
        .submit(
            "/register",
            &[
                ("given_name", "Erika"),
                ("family_name", "M"),
                ("email", "erika@example.de"),
                ("password", PASSWORD),
                ("password_repeat", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    again.submit("/register/summary", &[("action", "create"), ("consent", "yes")]).await;
    app.mail_link("erika@example.de", "/register/activate").await;
}

#[tokio::test]
async fn r_svc_3_the_profile_lists_consents_and_withdrawing_one_revokes_that_services_refresh_tokens() {
    let app = TestApp::start().await;
    let (id_a, secret_a, mut browser, code_a) = app.signed_in("erika@example.de").await;
    let (id_b, secret_b) = app.client(ClientSpec::default()).await;
    let secret_b = secret_b.unwrap();
    let code_b = login_code(&app, &mut browser, &id_b, "erika@example.de", &[("scope", "openid email")]).await;
    let (_, tokens_a) = redeem(&app, &id_a, &secret_a, &code_a, &[]).await;
    let (_, tokens_b) = redeem(&app, &id_b, &secret_b, &code_b, &[]).await;

    let (_, page) = browser.page("/profile").await;
    assert_eq!(page.matches("name=\"client_id\"").count(), 2);
    assert!(page.contains("Vorname") && page.contains("E-Mail-Adresse") && page.contains("Testdienst"));

    let (status, body) = browser.submit("/profile/consents/withdraw", &[("client_id", &id_a)]).await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/profile?done=withdrawn"));
    let refresh = |id: &str, secret: &str, token: &serde_json::Value| {
        let (id, secret, token) = (
            id.to_string(),
            secret.to_string(),
            token["refresh_token"].as_str().unwrap().to_string(),
        );
        let app = &app;
        async move {
            app.post_as(
                "/token",
                &id,
                &secret,
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
            )
            .await
            .0
        }
    };
    assert_eq!(refresh(&id_a, &secret_a, &tokens_a).await, StatusCode::BAD_REQUEST);
    assert_eq!(
        refresh(&id_b, &secret_b, &tokens_b).await,
        StatusCode::OK,
        "other services keep theirs"
    );
    let (_, page) = browser.page("/profile").await;
    assert_eq!(page.matches("name=\"client_id\"").count(), 1);
    // The next login to that service asks for consent again.
    let end = browser
        .walk(
            &crate::support::authorize_url(&app, &id_a, &[]),
            None,
            crate::support::Consent::Deny,
        )
        .await;
    assert_eq!(end.param("error").as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn r_ses_2_profile_pages_send_an_expired_session_to_the_expiry_notice() {
    let (_app, browser, _) = expired_session("erika@example.de").await;
    let (_, body) = browser.page("/profile").await;
    assert_eq!(body, "redirect:/login?next=%2Fprofile&expired=1");
    let (_, page) = browser.page("/login?next=%2Fprofile&expired=1").await;
    assert!(page.contains("Ihre Sitzung ist abgelaufen"));
    assert_eq!(form_value(&page, "next").as_deref(), Some("/profile"));
}

#[tokio::test]
async fn r_ses_3_every_page_offers_logout_and_login_returns_to_the_page_asked_for() {
    let app = TestApp::start().await;
    app.account("erika@example.de", false).await;
    let browser = app.browser();
    let (_, body) = browser.page("/profile/email").await;
    assert_eq!(body, "redirect:/login?next=%2Fprofile%2Femail");
    let (status, body) = browser
        .submit(
            "/login",
            &[("email", "erika@example.de"), ("password", PASSWORD), ("next", "/profile/email")],
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/profile/email"));
    for path in [
        "/",
        "/profile",
        "/profile/email",
        "/profile/password",
        "/profile/delete",
        "/barrierefreiheit",
    ] {
        let (_, page) = browser.page(path).await;
        assert!(page.contains("href=\"/logout\""), "{path}");
    }
    // No open redirect through `next`.
    let (_, body) = app
        .browser()
        .submit(
            "/login",
            &[("email", "erika@example.de"), ("password", PASSWORD), ("next", "//evil.example/")],
        )
        .await;
    assert_eq!(body, "redirect:/");
}

#[tokio::test]
async fn r_sec_3_checks_of_the_current_password_are_throttled_like_the_login() {
    let app = TestApp::with(|c| c.login_throttle.delay_after = 1).await;
    let browser = app.browser();
    app.account("erika@example.de", false).await;
    browser.login("erika@example.de", PASSWORD).await;
    let change = |current: &'static str| {
        let b = &browser;
        async move {
            b.submit(
                "/profile/password",
                &[
                    ("current", current),
                    ("password", "Neues-Pass-1"),
                    ("password_repeat", "Neues-Pass-1"),
                ],
            )
            .await
        }
    };
    let (status, body) = change("Falsch-123").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("id=\"current-error\""));
    // Right at once after a wrong one: the throttle makes it wait, and nothing changes.
    let (status, body) = change(PASSWORD).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("warten Sie einige Sekunden"), "{body}");
    let (status, body) = browser
        .submit("/profile/delete", &[("confirm", "yes"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "deletion waits too");
    assert!(body.contains("warten Sie einige Sekunden"), "{body}");
    // The same counter as the login page: the login waits as well.
    let (status, _) = app
        .browser()
        .submit("/login", &[("email", "erika@example.de"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let account = app.state.store.account_by_email("erika@example.de").await.unwrap().unwrap();
    assert!(
        servicekonto::accounts::password::Hasher::new(1, 0)
            .verify(servicekonto::secret::Secret::new(PASSWORD.into()), Some(account.password_hash))
            .await
            .unwrap(),
        "the password is unchanged"
    );
}

#[tokio::test]
async fn r_sec_3_a_password_change_ends_the_other_sessions_and_refresh_tokens_but_not_its_own_session() {
    let app = TestApp::start().await;
    let (id, secret, changer, code) = app.signed_in("erika@example.de").await;
    let (_, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    let other = app.browser();
    other.login("erika@example.de", PASSWORD).await;
    assert_eq!(other.page("/profile").await.0, StatusCode::OK);
    let (status, _) = changer
        .submit(
            "/profile/password",
            &[
                ("current", PASSWORD),
                ("password", "Neues-Pass-1"),
                ("password_repeat", "Neues-Pass-1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        changer.page("/profile").await.0,
        StatusCode::OK,
        "the session that changed it goes on"
    );
    assert!(
        other.page("/profile").await.1.starts_with("redirect:/login"),
        "the other session ended"
    );
    let (status, body) = app.refresh(&id, &secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}

#[tokio::test]
async fn r_sec_3_an_email_change_ends_every_session_and_refresh_token() {
    let app = TestApp::start().await;
    let (id, secret, browser, code) = app.signed_in("erika@example.de").await;
    let (_, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    let (status, _) = browser
        .submit("/profile/email", &[("email", "neu@example.de"), ("email_repeat", "neu@example.de")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let link = app.mail_link("neu@example.de", "/profile/email/confirm").await;
    let token = link.rsplit('=').next().unwrap();
    let (status, body) = app
        .browser()
        .submit(
            "/profile/email/confirm",
            &[("token", token), ("email", "erika@example.de"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(browser.page("/profile").await.1.starts_with("redirect:/login"));
    let (status, body) = app.refresh(&id, &secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    app.browser().login("neu@example.de", PASSWORD).await;
}

#[tokio::test]
async fn r_sec_3_a_blocked_account_gets_no_tokens_for_a_code_or_a_refresh_token() {
    let app = TestApp::start().await;
    let (id, secret, mut browser, code) = app.signed_in("erika@example.de").await;
    let (_, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    let second = login_code(&app, &mut browser, &id, "erika@example.de", &[]).await;
    let account = app.state.store.account_by_email("erika@example.de").await.unwrap().unwrap();
    // The block alone, as a node sees it between the block and the grants' revocation.
    app.state
        .store
        .block_account(&account.id, servicekonto::clock::now())
        .await
        .unwrap();
    let (status, body) = redeem(&app, &id, &secret, &second, &[]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, body) = app.refresh(&id, &secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}
