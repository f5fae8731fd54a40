//! Registration (R-REG-1 … R-REG-4) through the real pages and the real outbox.

use reqwest::StatusCode;
use servicekonto::accounts::registration;
use servicekonto::secret::Secret;

use crate::support::{PASSWORD, TestApp};

const NEW: &str = "neu@example.de";

/// Fills the form and reaches the summary; returns the browser.
async fn to_summary(app: &TestApp, email: &str, password: &str) -> crate::support::Browser {
    let browser = app.browser();
    let (status, body) = browser
        .submit(
            "/register",
            &[
                ("given_name", "Erika"),
                ("family_name", "Mustermann"),
                ("email", email),
                ("password", password),
                ("password_repeat", password),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(body, "redirect:/register/summary");
    browser
}

#[tokio::test]
async fn r_reg_1_r_reg_3_r_reg_4_register_check_the_summary_consent_activate_and_log_in() {
    let app = TestApp::start().await;
    let browser = to_summary(&app, NEW, PASSWORD).await;
    let (status, summary) = browser.page("/register/summary").await;
    assert_eq!(status, StatusCode::OK);
    assert!(summary.contains(NEW) && summary.contains("Erika") && summary.contains("Mustermann"));
    assert!(!summary.contains(PASSWORD), "R-REG-3: the summary never shows the password");

    // Without consent to data processing nothing is created.
    let (status, body) = browser.submit("/register/summary", &[("action", "create")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Bitte stimmen Sie der Datenverarbeitung zu"));
    assert!(app.state.store.registration_for(NEW).await.unwrap().is_none());

    let (status, body) = browser
        .submit("/register/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/register/sent"));
    let pending = app.state.store.registration_for(NEW).await.unwrap().unwrap();
    assert_eq!(pending.expires_at - pending.created_at, 24 * 3600, "R-REG-4: valid for 24 hours");
    assert!(
        app.state.store.account_by_email(NEW).await.unwrap().is_none(),
        "not active before the link"
    );
    let (status, _) = browser.submit("/login", &[("email", NEW), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no login before activation");

    let link = app.mail_link(NEW, "/register/activate").await;
    // Opening the link only asks; a mail scanner following it activates nothing.
    let (status, page) = browser.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(app.state.store.account_by_email(NEW).await.unwrap().is_none());
    let token = crate::support::form_value(&page, "token").unwrap();
    assert!(
        page.contains(r#"action="/register/activate""#),
        "the form posts to the citizen's activation: {page}"
    );
    let (status, body) = browser
        .submit("/register/activate", &[("token", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let account = app.state.store.account_by_email(NEW).await.unwrap().unwrap();
    assert!(account.email_verified);
    assert!(app.state.store.registration_for(NEW).await.unwrap().is_none());
    app.browser().login(NEW, PASSWORD).await;

    // The link works once.
    let (status, _) = browser
        .submit("/register/activate", &[("token", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = browser.page(&link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn r_reg_3_back_keeps_what_was_entered_and_the_password() {
    let app = TestApp::start().await;
    let browser = to_summary(&app, NEW, PASSWORD).await;
    let (_, body) = browser.submit("/register/summary", &[("action", "back")]).await;
    assert_eq!(body, "redirect:/register?back=1");
    let (_, form) = browser.page("/register?back=1").await;
    assert_eq!(crate::support::form_value(&form, "email").as_deref(), Some(NEW));
    assert_eq!(crate::support::form_value(&form, "given_name").as_deref(), Some("Erika"));
    assert!(!form.contains(PASSWORD));
    // Correct the family name, leave the password empty: the earlier password is kept.
    let (status, _) = browser
        .submit(
            "/register",
            &[
                ("given_name", "Erika"),
                ("family_name", "Musterfrau"),
                ("email", NEW),
                ("password", ""),
                ("password_repeat", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, summary) = browser.page("/register/summary").await;
    assert!(summary.contains("Musterfrau"));
    browser
        .submit("/register/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    let link = app.mail_link(NEW, "/register/activate").await;
    let token = link.rsplit('=').next().unwrap();
    let deps = (&app.state.store, &app.state.hasher);
    registration::activate(deps, token, Secret::new(PASSWORD.into()), servicekonto::clock::now())
        .await
        .unwrap();
    app.browser().login(NEW, PASSWORD).await;
}

#[tokio::test]
async fn r_reg_2_the_form_explains_which_rule_failed_and_stores_nothing() {
    let app = TestApp::start().await;
    let browser = app.browser();
    for (password, message) in [
        ("abcdefgh", "mindestens zwei von drei"),
        ("ABab123", "kürzer als 8 Zeichen"),
        ("ABab 1234", "keine Leerzeichen"),
        ("ABab<1234", "Zeichen &lt; und &gt; nicht"),
        ("Aa1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "länger als 40"),
    ] {
        let (status, body) = browser
            .submit(
                "/register",
                &[
                    ("given_name", "Erika"),
                    ("family_name", "M"),
                    ("email", NEW),
                    ("password", password),
                    ("password_repeat", password),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{password}");
        assert!(body.contains(message), "{password}: {message}");
        assert!(
            body.contains("id=\"error-summary\"") && body.contains("href=\"#password\""),
            "summary links to the field"
        );
        assert!(body.contains("aria-invalid=\"true\"") && body.contains("id=\"password-error\""));
        assert!(!body.contains(password), "a rejected password is not echoed");
    }
    let (status, body) = browser
        .submit(
            "/register",
            &[
                ("given_name", "Erika"),
                ("family_name", "M"),
                ("email", "a<b@example.de"),
                ("password", PASSWORD),
                ("password_repeat", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("ohne &lt; und &gt;"), "R-REG-1: no angle brackets in the email");
    let (status, body) = browser
        .submit(
            "/register",
            &[
                ("given_name", "Erika"),
                ("family_name", "M"),
                ("email", NEW),
                ("password", PASSWORD),
                ("password_repeat", "ABab1234?"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("stimmen nicht überein"));
    let (_, summary) = browser.page("/register/summary").await;
    assert_eq!(summary, "redirect:/register", "no draft was kept");
    assert!(app.state.store.registration_for(NEW).await.unwrap().is_none());
}

#[tokio::test]
async fn r_reg_4_an_expired_registration_is_purged_and_the_email_registers_again() {
    let app = TestApp::start().await;
    let browser = to_summary(&app, NEW, PASSWORD).await;
    browser
        .submit("/register/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    let link = app.mail_link(NEW, "/register/activate").await;
    let token = link.rsplit('=').next().unwrap().to_string();
    let later = servicekonto::clock::now() + 24 * 3600 + 1;
    // After 24 hours the link no longer works, even before the purge ran.
    assert!(matches!(
        registration::activate((&app.state.store, &app.state.hasher), &token, Secret::new(PASSWORD.into()), later).await,
        Err(servicekonto::accounts::AccountError::LinkInvalid)
    ));
    servicekonto::server::purge(&app.state.store, 365, later).await;
    assert!(app.state.store.registration_for(NEW).await.unwrap().is_none());
    let (status, _) = browser.page(&link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The address is free again.
    let again = to_summary(&app, NEW, PASSWORD).await;
    again.submit("/register/summary", &[("action", "create"), ("consent", "yes")]).await;
    assert!(app.state.store.registration_for(NEW).await.unwrap().is_some());
}

#[tokio::test]
async fn r_reg_1_an_active_email_gets_the_same_answer_and_its_owner_a_mail() {
    let app = TestApp::start().await;
    app.account("erika@example.de", false).await;
    let browser = to_summary(&app, "Erika@Example.de", "Other123!").await;
    let (status, body) = browser
        .submit("/register/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/register/sent"));
    let mails = app.wait_mails("erika@example.de", 1).await;
    assert!(mails[0].contains("bereits Ihr Servicekonto"));
    assert!(!mails[0].contains("/register/activate"));
    assert!(app.state.store.registration_for("erika@example.de").await.unwrap().is_none());
    // The owner's password is untouched.
    app.browser().login("erika@example.de", PASSWORD).await;
}

#[tokio::test]
async fn registration_refuses_forms_without_a_valid_csrf_token() {
    let app = TestApp::start().await;
    let res = app
        .http()
        .post(app.url("/register"))
        .form(&[
            ("given_name", "E"),
            ("family_name", "M"),
            ("email", NEW),
            ("password", PASSWORD),
            ("password_repeat", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Formular ist abgelaufen"));
}

#[tokio::test]
async fn pages_speak_english_when_asked_and_remember_it() {
    let app = TestApp::start().await;
    let browser = app.browser();
    let (_, body) = browser.page("/register?lang=en").await;
    assert!(body.contains("lang=\"en\"") && body.contains("Register a Servicekonto"));
    let (_, body) = browser.page("/password/forgot").await;
    assert!(body.contains("Forgotten password"), "the choice is remembered for the next page");
    let (_, body) = browser.page("/password/forgot?lang=de").await;
    assert!(body.contains("Passwort vergessen"));
}

#[tokio::test]
async fn a_service_asking_for_english_keeps_registration_in_english() {
    let app = TestApp::start().await;
    let (id, _) = app.client(crate::support::ClientSpec::default()).await;
    let mut browser = app.browser();
    let end = browser
        .walk(
            &crate::support::authorize_url(&app, &id, &[("ui_locales", "en")]),
            None,
            crate::support::Consent::Allow,
        )
        .await;
    let crate::support::End::Page(_, login) = end else {
        panic!("expected the login page")
    };
    assert!(login.contains("lang=\"en\""));
    let (_, register) = browser.page("/register").await;
    assert!(register.contains("Register a Servicekonto"));
}

#[tokio::test]
async fn r_reg_4_a_second_registration_of_an_address_by_someone_else_never_opens_an_account_with_their_password() {
    let app = TestApp::start().await;
    // The owner of the address registers; then someone else registers it with a password of
    // their own. The newest link arrives in the owner's mailbox.
    to_summary(&app, NEW, PASSWORD)
        .await
        .submit("/register/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    app.wait_mails(NEW, 1).await;
    let intruder = "Fremd-Pass-99";
    to_summary(&app, NEW, intruder)
        .await
        .submit("/register/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    app.wait_mails(NEW, 2).await;
    let link = app.mail_link(NEW, "/register/activate").await;
    let owner = app.browser();
    let (status, page) = owner.page(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"password\""), "the activation asks for the chosen password");
    let token = crate::support::form_value(&page, "token").unwrap();
    // The owner types their own password: refused, nothing opened, the link still waiting.
    let (status, body) = owner
        .submit("/register/activate", &[("token", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("passt nicht zu dieser Registrierung"), "{body}");
    assert!(app.state.store.account_by_email(NEW).await.unwrap().is_none());
    assert!(app.state.store.registration_for(NEW).await.unwrap().is_some());
    // Without the intruder's password the link opens nothing; the intruder never sees the link.
    let (status, _) = owner.submit("/register/activate", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The owner registers again, and that link works with their password.
    to_summary(&app, NEW, PASSWORD)
        .await
        .submit("/register/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    app.wait_mails(NEW, 3).await;
    let link = app.mail_link(NEW, "/register/activate").await;
    let token = link.rsplit('=').next().unwrap();
    let (status, body) = owner
        .submit("/register/activate", &[("token", token), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.browser().login(NEW, PASSWORD).await;
}
