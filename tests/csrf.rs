//! Every state-changing form checks its CSRF token before anything else happens: posted
//! without one, or with the token of another browser, each form gets the 403 page, and nothing
//! stored changes — no account field, no consent, no mail, no audit event, no session.

use reqwest::StatusCode;

use crate::support::*;
use servicekonto::ids::AccountId;

/// Every form that changes something, with fields that would change it given a valid token.
const FORMS: &[(&str, &[(&str, &str)])] = &[
    ("/login", &[("email", "erika@example.de"), ("password", PASSWORD)]),
    (
        "/register",
        &[
            ("email", "neu@example.de"),
            ("password", PASSWORD),
            ("password_repeat", PASSWORD),
            ("given_name", "Neu"),
            ("family_name", "Person"),
            ("terms", "on"),
        ],
    ),
    ("/register/summary", &[("decision", "submit")]),
    ("/register/activate", &[("token", "t"), ("password", PASSWORD)]),
    (
        "/register/organisation",
        &[
            ("name", "Neu GmbH"),
            ("street", "Weg"),
            ("house_number", "1"),
            ("postal_code", "12345"),
            ("city", "Ort"),
        ],
    ),
    (
        "/register/organisation/admin",
        &[
            ("email", "neu@firma.example"),
            ("password", PASSWORD),
            ("password_repeat", PASSWORD),
            ("given_name", "Neu"),
            ("family_name", "Person"),
            ("phone_number", "0221 1"),
            ("birthdate", "1980-01-01"),
        ],
    ),
    ("/register/organisation/services", &[("action", "continue")]),
    ("/register/organisation/summary", &[("action", "create"), ("consent", "yes")]),
    ("/register/organisation/activate", &[("token", "t"), ("password", PASSWORD)]),
    ("/password/forgot", &[("email", "erika@example.de")]),
    (
        "/password/reset",
        &[("token", "t"), ("password", "Neues-Pass-1"), ("password_repeat", "Neues-Pass-1")],
    ),
    ("/block", &[("token", "t")]),
    ("/profile", &[("given_name", "Eva"), ("family_name", "Muster")]),
    ("/profile/consents/withdraw", &[("client_id", "dienst")]),
    (
        "/profile/password",
        &[
            ("current", PASSWORD),
            ("password", "Neues-Pass-1"),
            ("password_repeat", "Neues-Pass-1"),
        ],
    ),
    ("/profile/email", &[("email", "eva@example.de")]),
    (
        "/profile/email/confirm",
        &[("token", "t"), ("email", "erika@example.de"), ("password", PASSWORD)],
    ),
    ("/profile/delete", &[("password", PASSWORD)]),
    (
        "/profile/plus-request",
        &[("birthdate", "1964-08-12"), ("street", "Weg"), ("house_number", "1")],
    ),
    ("/profile/eid/off", &[]),
    ("/upstream/eid/start", &[("purpose", "upgrade")]),
    ("/login/land/abort", &[("txn", "t")]),
    ("/consent", &[("txn", "t"), ("decision", "allow")]),
    ("/staff/login", &[("username", "clara"), ("password", PASSWORD), ("code", "000000")]),
    ("/staff/logout", &[]),
    (
        "/staff/requests/x",
        &[("outcome", "confirm"), ("document_type", "ID"), ("last_digits", "1234")],
    ),
    ("/staff/subscriptions/o/c", &[("outcome", "approve")]),
];

/// What a forged form could have changed.
async fn snapshot(app: &TestApp, account_id: &AccountId) -> String {
    let a = app.state.store.account(account_id).await.unwrap().unwrap();
    let consents = app.state.store.consents_of(account_id).await.unwrap().len();
    format!(
        "{} {} {} {} {:?} {:?} consents={consents} mails={} audit={} registrations={:?}",
        a.email,
        a.given_name,
        a.password_hash.expose(),
        a.level.name(),
        a.blocked_at,
        app.state.store.upgrade_request(account_id).await.unwrap().map(|r| r.birthdate),
        app.mails_to("erika@example.de").len() + app.mails_to("neu@example.de").len(),
        app.audit("").await.len(),
        app.state.store.registration_for("neu@example.de").await.unwrap().map(|r| r.id),
    )
}

#[tokio::test]
async fn every_state_changing_form_refuses_a_forged_or_missing_csrf_token_and_changes_nothing() {
    let app = TestApp::start().await;
    let account = app.account("erika@example.de", false).await;
    let (id, _) = app.client(ClientSpec::default()).await;
    let mut signed_in = app.browser();
    // A consent to withdraw, and a session to end.
    login_code(&app, &mut signed_in, &id, "erika@example.de", &[]).await;
    let before = snapshot(&app, &account.id).await;
    let other_token = app.browser().csrf().await;

    for (path, fields) in FORMS {
        for token in [None, Some(other_token.as_str())] {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            if let Some(t) = token {
                form.push(("csrf", t));
            }
            let res = signed_in.http.post(app.url(path)).form(&form).send().await.unwrap();
            let status = res.status();
            let body = res.text().await.unwrap();
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} with {token:?}: {body}");
            assert!(body.contains("Das Formular ist abgelaufen"), "{path}: {body}");
        }
    }
    // Not a form at all, to a form's address.
    let res = signed_in
        .http
        .post(app.url("/profile/delete"))
        .json(&serde_json::json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    assert_eq!(snapshot(&app, &account.id).await, before, "nothing changed");
    assert_eq!(signed_in.page("/profile").await.0, StatusCode::OK, "still signed in");
    // And the same form with the browser's own token does what it says.
    let (status, _) = signed_in
        .submit("/profile", &[("given_name", "Eva"), ("family_name", "Muster")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.state.store.account(&account.id).await.unwrap().unwrap().given_name, "Eva");
}
