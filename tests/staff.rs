//! The Kundenzentrum (R-EID-2): a citizen asks for an in-person identity check, a clerk
//! confirms or rejects it under `/staff/`, every staff action is audited, and the boundaries
//! between citizens' and staff pages hold.

use reqwest::StatusCode;
use servicekonto::trust::TrustLevel;

use crate::support::*;

const CLERK_PASSWORD: &str = "Schalter-2026!";

/// Creates the clerk through the operator CLI, as an operator would.
fn staff_add(app: &TestApp, username: &str, role: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_servicekonto"))
        .args([
            "staff",
            "add",
            "--role",
            role,
            "--username",
            username,
            "--name",
            "Clara Schalter",
            "--json",
        ])
        .env("SERVICEKONTO_STAFF_PASSWORD", CLERK_PASSWORD)
        .env("SERVICEKONTO_DATABASE_URL", &app.state.config.database_url)
        .env("SERVICEKONTO_KEYS_DIR", &app.state.config.keys_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["role"], role);
}

async fn staff_browser(app: &TestApp, username: &str) -> Browser {
    let b = app.browser();
    let (status, body) = b
        .submit("/staff/login", &[("username", username), ("password", CLERK_PASSWORD)])
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/staff/"));
    b
}

async fn request_plus(app: &TestApp, email: &str) -> (Browser, servicekonto::accounts::Account) {
    let a = app.account(email, false).await;
    let b = app.browser();
    b.login(email, PASSWORD).await;
    let (status, body) = b
        .submit(
            "/profile/plus-request",
            &[
                ("birthdate", "1964-08-12"),
                ("street", "Heidestraße"),
                ("house_number", "17"),
                ("postal_code", "51147"),
                ("city", "Köln"),
                ("country", "DE"),
            ],
        )
        .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SEE_OTHER, "redirect:/profile?done=plus_request")
    );
    (b, a)
}

#[tokio::test]
async fn r_eid_2_a_clerk_confirms_an_identity_in_person_and_every_action_is_audited() {
    let app = TestApp::start().await;
    staff_add(&app, "clara", "kundenzentrum");
    let (citizen, a) = request_plus(&app, "erika@example.de").await;
    assert!(citizen.page("/profile").await.1.contains("offen seit"));
    assert_eq!(
        app.state.store.account(&a.id).await.unwrap().unwrap().level,
        TrustLevel::Basic,
        "not Plus before the check"
    );

    let clerk = staff_browser(&app, "clara").await;
    let (status, list) = clerk.page("/staff/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("Erika Mustermann") && list.contains(&format!("/staff/requests/{}", a.id)));
    assert!(
        !list.contains("href=\"/register\"") && !list.contains("href=\"/profile\""),
        "staff pages offer no citizen links"
    );
    let path = format!("/staff/requests/{}", a.id);
    let (_, detail) = clerk.page(&path).await;
    assert!(detail.contains("Heidestraße 17, 51147 Köln"));
    let digest = form_value(&detail, "digest").unwrap();
    // The document must be recorded.
    let (status, _) = clerk
        .submit(
            &path,
            &[
                ("outcome", "confirm"),
                ("document_type", "ID"),
                ("last_digits", ""),
                ("digest", &digest),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = clerk
        .submit(
            &path,
            &[
                ("outcome", "confirm"),
                ("document_type", "XX"),
                ("last_digits", "1234"),
                ("digest", &digest),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().level, TrustLevel::Basic);
    let (status, _) = clerk
        .submit(
            &path,
            &[
                ("outcome", "confirm"),
                ("document_type", "ID"),
                ("last_digits", "1234"),
                ("digest", &digest),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let after = app.state.store.account(&a.id).await.unwrap().unwrap();
    assert_eq!(after.level, TrustLevel::Plus);
    assert_eq!(after.birthdate.as_deref(), Some("1964-08-12"));
    let v = app.state.store.verification(&a.id).await.unwrap().unwrap();
    assert_eq!((v.method.as_str(), v.document_type.as_deref()), ("kundenzentrum", Some("ID")));
    assert!(app.state.store.upgrade_request(&a.id).await.unwrap().is_none());
    let audit: Vec<_> = app
        .state
        .store
        .audit_of(&a.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.actor.starts_with("staff:"))
        .collect();
    let actions: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("staff:clara", "staff.view_request", "ok"),
            ("staff:clara", "staff.decide", "confirmed")
        ],
        "opening the data and the decision are both audited"
    );
    assert!(audit[1].details.as_deref().unwrap().contains("1234"));
    assert!(audit[1].at > 0);

    // A rejection changes nothing but is audited too.
    let (_, b) = request_plus(&app, "max@example.de").await;
    let (status, _) = clerk.submit(&format!("/staff/requests/{}", b.id), &[("outcome", "reject")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.state.store.account(&b.id).await.unwrap().unwrap().level, TrustLevel::Basic);
    assert_eq!(app.state.store.audit_of(&b.id).await.unwrap().last().unwrap().outcome, "rejected");
}

#[tokio::test]
async fn r_eid_2_citizens_cannot_reach_staff_pages_and_staff_cannot_reach_citizens_pages() {
    let app = TestApp::start().await;
    staff_add(&app, "clara", "kundenzentrum");
    staff_add(&app, "lea", "leitstelle");
    let (citizen, a) = request_plus(&app, "erika@example.de").await;
    let path = format!("/staff/requests/{}", a.id);
    assert_eq!(citizen.page("/staff/").await.1, "redirect:/staff/login");
    let (_, body) = citizen
        .submit(&path, &[("outcome", "confirm"), ("document_type", "ID"), ("last_digits", "1234")])
        .await;
    assert_eq!(body, "redirect:/staff/login");
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().level, TrustLevel::Basic);

    let clerk = staff_browser(&app, "clara").await;
    assert!(
        clerk.page("/profile").await.1.starts_with("redirect:/login"),
        "a staff session is no citizen session"
    );
    // Another role sees no requests.
    let lea = staff_browser(&app, "lea").await;
    assert_eq!(lea.page("/staff/").await.0, StatusCode::FORBIDDEN);
    assert_eq!(lea.page(&path).await.0, StatusCode::FORBIDDEN);
    // A wrong password is refused like a citizen login.
    let (status, _) = app
        .browser()
        .submit("/staff/login", &[("username", "clara"), ("password", "Falsch-123")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Logout ends the staff session.
    clerk.submit("/staff/logout", &[]).await;
    assert_eq!(clerk.page("/staff/").await.1, "redirect:/staff/login");
}

#[tokio::test]
async fn r_eid_2_the_confirmation_binds_to_what_the_clerk_saw() {
    let app = TestApp::start().await;
    staff_add(&app, "clara", "kundenzentrum");
    let (citizen, a) = request_plus(&app, "erika@example.de").await;
    // While the request is open the names cannot change.
    let (status, body) = citizen
        .submit("/profile", &[("given_name", "Eva"), ("family_name", "Mustermann")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Bis zur Entscheidung"), "{body}");
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().given_name, "Erika");

    let clerk = staff_browser(&app, "clara").await;
    let path = format!("/staff/requests/{}", a.id);
    let (_, detail) = clerk.page(&path).await;
    let digest = form_value(&detail, "digest").unwrap();
    // The citizen asks again with another address while the clerk looks at the first one.
    let (status, _) = citizen
        .submit(
            "/profile/plus-request",
            &[
                ("birthdate", "1964-08-12"),
                ("street", "Andere Straße"),
                ("house_number", "1"),
                ("postal_code", "10115"),
                ("city", "Berlin"),
                ("country", "DE"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let confirm = |d: String| {
        let (clerk, path) = (&clerk, path.clone());
        async move {
            clerk
                .submit(
                    &path,
                    &[
                        ("outcome", "confirm"),
                        ("document_type", "ID"),
                        ("last_digits", "1234"),
                        ("digest", &d),
                    ],
                )
                .await
        }
    };
    let (status, body) = confirm(digest).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body.contains("Andere Straße") && body.contains("nichts entschieden"),
        "shown anew: {body}"
    );
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().level, TrustLevel::Basic);
    let (status, _) = confirm(String::new()).await;
    assert_eq!(status, StatusCode::CONFLICT, "no digest, no decision");
    // Confirmed on what is shown now.
    let fresh = form_value(&body, "digest").unwrap();
    let (status, _) = confirm(fresh).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let after = app.state.store.account(&a.id).await.unwrap().unwrap();
    assert_eq!((after.level, after.address.unwrap().city.as_str()), (TrustLevel::Plus, "Berlin"));
}
