//! The Kundenzentrum (R-EID-2): a citizen asks for an in-person identity check, a clerk
//! confirms or rejects it under `/staff/`, every staff action is audited, and the boundaries
//! between citizens' and staff pages hold.

use reqwest::StatusCode;
use servicekonto::clock::Timestamp;
use servicekonto::trust::TrustLevel;

use crate::support::*;

const CLERK_PASSWORD: &str = "Schalter-2026!";

/// Runs the staff CLI on the app's database and secrets, as an operator would.
fn staff_cli(app: &TestApp, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_servicekonto"))
        .args(["staff"])
        .args(args)
        .arg("--json")
        .env("SERVICEKONTO_STAFF_PASSWORD", CLERK_PASSWORD)
        .env("SERVICEKONTO_DATABASE_URL", &app.state.config.database_url)
        .env("SERVICEKONTO_KEYS_DIR", &app.state.config.keys_dir)
        .env("SERVICEKONTO_SECRETS_FILE", &app.state.config.secrets.file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The TOTP seed in an otpauth URI, as an authenticator app reads it.
fn seed_of(totp_uri: &str) -> Vec<u8> {
    let url = url::Url::parse(totp_uri).unwrap();
    let secret = url.query_pairs().find(|(k, _)| k == "secret").unwrap().1.to_string();
    totp_rs::Secret::Encoded(secret).to_bytes().unwrap()
}

/// Creates a staff member through the operator CLI; the seed of their authenticator app.
fn staff_add(app: &TestApp, username: &str, role: &str) -> Vec<u8> {
    let v = staff_cli(app, &["add", "--role", role, "--username", username, "--name", "Clara Schalter"]);
    assert_eq!(v["role"], role);
    seed_of(v["totp_uri"].as_str().unwrap())
}

/// The code an authenticator app with `seed` shows now.
fn code(seed: &[u8]) -> String {
    servicekonto::staff::totp::code_at(seed, servicekonto::clock::now()).unwrap()
}

async fn staff_browser(app: &TestApp, username: &str, seed: &[u8]) -> Browser {
    let b = app.browser();
    let (status, body) = b
        .submit(
            "/staff/login",
            &[("username", username), ("password", CLERK_PASSWORD), ("code", &code(seed))],
        )
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
    let seed = staff_add(&app, "clara", "kundenzentrum");
    let (citizen, a) = request_plus(&app, "erika@example.de").await;
    assert!(citizen.page("/profile").await.1.contains("offen seit"));
    assert_eq!(
        app.state.store.account(&a.id).await.unwrap().unwrap().level,
        TrustLevel::Basic,
        "not Plus before the check"
    );

    let clerk = staff_browser(&app, "clara", &seed).await;
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
    assert!(audit[1].at > Timestamp(0));

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
    let clara = staff_add(&app, "clara", "kundenzentrum");
    let lea_seed = staff_add(&app, "lea", "leitstelle");
    let (citizen, a) = request_plus(&app, "erika@example.de").await;
    let path = format!("/staff/requests/{}", a.id);
    assert_eq!(citizen.page("/staff/").await.1, "redirect:/staff/login");
    let (_, body) = citizen
        .submit(&path, &[("outcome", "confirm"), ("document_type", "ID"), ("last_digits", "1234")])
        .await;
    assert_eq!(body, "redirect:/staff/login");
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().level, TrustLevel::Basic);

    let clerk = staff_browser(&app, "clara", &clara).await;
    assert!(
        clerk.page("/profile").await.1.starts_with("redirect:/login"),
        "a staff session is no citizen session"
    );
    // Another role sees no requests: the Leitstelle's start page is its own.
    let lea = staff_browser(&app, "lea", &lea_seed).await;
    let (status, home) = lea.page("/staff/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("Freigaben für Organisationen") && !home.contains("Erika"), "{home}");
    assert_eq!(lea.page(&path).await.0, StatusCode::FORBIDDEN);
    assert_eq!(clerk.page("/staff/subscriptions/o/c").await.0, StatusCode::FORBIDDEN);
    // A wrong password is refused like a citizen login.
    let (status, _) = app
        .browser()
        .submit(
            "/staff/login",
            &[("username", "clara"), ("password", "Falsch-123"), ("code", &code(&clara))],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Logout ends the staff session.
    clerk.submit("/staff/logout", &[]).await;
    assert_eq!(clerk.page("/staff/").await.1, "redirect:/staff/login");
}

#[tokio::test]
async fn r_eid_2_the_confirmation_binds_to_what_the_clerk_saw() {
    let app = TestApp::start().await;
    let seed = staff_add(&app, "clara", "kundenzentrum");
    let (citizen, a) = request_plus(&app, "erika@example.de").await;
    // While the request is open the names cannot change.
    let (status, body) = citizen
        .submit("/profile", &[("given_name", "Eva"), ("family_name", "Mustermann")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Bis zur Entscheidung"), "{body}");
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().given_name, "Erika");

    let clerk = staff_browser(&app, "clara", &seed).await;
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

#[tokio::test]
async fn r_sec_4_staff_add_enrols_a_totp_shown_once_and_kept_only_sealed() {
    let app = TestApp::start().await;
    let v = staff_cli(
        &app,
        &["add", "--role", "kundenzentrum", "--username", "clara", "--name", "Clara Schalter"],
    );
    let uri = v["totp_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Servicekonto:clara?"), "{uri}");
    // SHA-1, 6 digits and 30 s are the URI format's defaults, so the URI leaves them out.
    for part in ["issuer=Servicekonto", "secret="] {
        assert!(uri.contains(part), "{uri} lacks {part}");
    }
    assert!(v["totp_qr"].as_str().unwrap().lines().count() > 20, "a QR code to scan");
    let seed = seed_of(uri);
    assert_eq!(seed.len(), 20, "160 bits (RFC 4226 §4)");
    let encoded = url::Url::parse(uri)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .to_string();
    let stored = app.state.store.staff_by_username("clara").await.unwrap().unwrap();
    let sealed = stored.totp_secret.unwrap();
    assert!(sealed.starts_with("1."), "sealed under staff_totp_key version 1");
    assert!(!sealed.contains(&encoded) && !sealed.contains(&servicekonto::secret::b64(&seed)));
    // The login page asks for the code.
    let (_, page) = app.browser().page("/staff/login").await;
    assert!(page.contains("name=\"code\"") && page.contains("autocomplete=\"one-time-code\""));
}

#[tokio::test]
async fn r_sec_4_every_staff_login_needs_the_current_code_and_a_code_works_once() {
    // Room for the refused attempts below before the throttle makes anyone wait.
    let app = TestApp::with(|c| c.login_throttle.delay_after = 50).await;
    let seed = staff_add(&app, "clara", "kundenzentrum");
    let login = |code: String| {
        let b = app.browser();
        async move {
            b.submit(
                "/staff/login",
                &[("username", "clara"), ("password", CLERK_PASSWORD), ("code", &code)],
            )
            .await
        }
    };
    let (status, body) = login(String::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the password alone is not enough");
    assert!(body.contains("Sicherheitscode ist falsch"));
    let now = servicekonto::clock::now();
    let stale = servicekonto::staff::totp::code_at(&seed, now - 120).unwrap();
    assert_eq!(login(stale).await.0, StatusCode::UNAUTHORIZED, "a code from minutes ago");
    let other = servicekonto::staff::totp::code_at(&[7u8; 20], now).unwrap();
    assert_eq!(login(other).await.0, StatusCode::UNAUTHORIZED, "another seed's code");
    let current = code(&seed);
    assert_eq!(login(current.clone()).await.1, "redirect:/staff/");
    assert_eq!(login(current).await.0, StatusCode::UNAUTHORIZED, "a code is accepted once");

    // A new enrolment (lost phone) voids the old seed.
    let renewed = seed_of(
        staff_cli(&app, &["reset-totp", "--username", "clara"])["totp_uri"]
            .as_str()
            .unwrap(),
    );
    let next = servicekonto::staff::totp::code_at(&seed, servicekonto::clock::now() + 30).unwrap();
    assert_eq!(login(next).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login(code(&renewed)).await.1, "redirect:/staff/");

    let outcomes: Vec<String> = app.audit("staff.login").await.into_iter().map(|e| e.outcome).collect();
    assert!(
        outcomes.iter().filter(|o| *o == "ok").count() == 2 && outcomes.iter().any(|o| o == "wrong_code"),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn r_sec_4_wrong_codes_are_throttled_until_the_login_locks() {
    let app = TestApp::with(|c| {
        c.login_throttle.delay_after = 100;
        c.login_throttle.lock_after = 3;
    })
    .await;
    let seed = staff_add(&app, "clara", "kundenzentrum");
    let b = app.browser();
    for _ in 0..3 {
        let (status, _) = b
            .submit(
                "/staff/login",
                &[("username", "clara"), ("password", CLERK_PASSWORD), ("code", "000000")],
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The right password and the right code are now refused too: the lock holds.
    let (status, body) = b
        .submit(
            "/staff/login",
            &[("username", "clara"), ("password", CLERK_PASSWORD), ("code", &code(&seed))],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("gesperrt"), "{body}");
    // R-SEC-6: each wrong code, the lock it set (once), and the refusal while locked.
    let outcomes: Vec<String> = app.audit("staff.login").await.into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, ["wrong_code", "wrong_code", "wrong_code", "locked", "locked"]);
}

#[tokio::test]
async fn r_sec_4_staff_pages_answer_only_the_configured_networks() {
    let outside = TestApp::with(|c| c.staff.networks = vec!["10.20.0.0/16".into()]).await;
    let seed = staff_add(&outside, "clara", "kundenzentrum");
    for path in ["/staff/login", "/staff/"] {
        let (status, body) = outside.browser().page(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(body.contains("aus diesem Netz nicht erreichbar"), "{path}");
    }
    let res = outside
        .browser()
        .post(
            "/staff/login",
            &[("username", "clara"), ("password", CLERK_PASSWORD), ("code", &code(&seed))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "not even a login is tried");
    assert_eq!(
        outside.browser().page("/login").await.0,
        StatusCode::OK,
        "citizens' pages stay open"
    );

    let inside = TestApp::with(|c| c.staff.networks = vec!["10.20.0.0/16".into(), "127.0.0.0/8".into()]).await;
    let seed = staff_add(&inside, "clara", "kundenzentrum");
    staff_browser(&inside, "clara", &seed).await;
}

#[tokio::test]
async fn r_eid_2_a_plus_account_cannot_ask_for_the_in_person_check_and_nothing_is_stored() {
    let app = TestApp::start().await;
    let a = app.account("plus@example.de", true).await;
    let b = app.browser();
    b.login("plus@example.de", PASSWORD).await;
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
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("bereits ein Servicekonto Plus"), "{body}");
    assert!(app.state.store.upgrade_request(&a.id).await.unwrap().is_none());
}

#[tokio::test]
async fn r_org_7_the_fachliche_leitstelle_releases_or_refuses_a_pending_subscription_and_the_administrators_are_told() {
    use servicekonto::clients::{Admits, Offer};
    use servicekonto::ids::ClientId;
    use servicekonto::orgs::{self, Admin, NewOrganisation, SubscriptionState};
    let app = TestApp::start().await;
    let now = servicekonto::clock::now();
    let store = &app.state.store;
    let (org, ada) = orgs::create(
        store,
        &app.state.hasher,
        NewOrganisation {
            name: "Bäckerei Korn".into(),
            trade_register: Some("HRA 4711".into()),
            address: None,
            po_box: None,
            admin_email: "chefin@korn.example".into(),
            admin_password: servicekonto::secret::Secret::new(PASSWORD.into()),
            admin_given_name: "Käthe".into(),
            admin_family_name: "Korn".into(),
            admin_phone: "0221 12".into(),
        },
        now,
    )
    .await
    .unwrap();
    let approval = Offer {
        admits: Admits::Organisation,
        requires_approval: true,
        ..Offer::default()
    };
    let mut services = vec![];
    for _ in 0..2 {
        let (id, _) = app
            .client(ClientSpec {
                offer: approval.clone(),
                ..ClientSpec::default()
            })
            .await;
        let c = store.client(&ClientId::from(id.as_str())).await.unwrap().unwrap();
        orgs::subscribe(store, &Admin::operator(org.id.clone()), &c, now).await.unwrap();
        services.push(c);
    }
    let seed = staff_add(&app, "lea", "leitstelle");
    let lea = staff_browser(&app, "lea", &seed).await;
    let (status, home) = lea.page("/staff/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        home.matches("Bäckerei Korn").count(),
        4,
        "two rows, each with the name shown and read out: {home}"
    );
    let path = |c: &servicekonto::clients::Client| format!("/staff/subscriptions/{}/{}", org.id, c.id);
    let (status, page) = lea.page(&path(&services[0])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("HRA 4711") && page.contains("Testdienst"), "{page}");

    let (status, body) = lea.submit(&path(&services[0]), &[("outcome", "approve")]).await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/staff/"));
    let (status, body) = lea.submit(&path(&services[1]), &[("outcome", "reject")]).await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/staff/"));
    let s0 = store.subscription(&org.id, &services[0].id).await.unwrap().unwrap();
    assert_eq!(s0.state, SubscriptionState::Released);
    assert!(
        store.subscription(&org.id, &services[1].id).await.unwrap().is_none(),
        "refused: gone"
    );
    assert_eq!(lea.page(&path(&services[0])).await.0, StatusCode::NOT_FOUND, "decided once");
    let (status, _) = lea.submit(&path(&services[0]), &[("outcome", "reject")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a decided subscription is not decided again");
    assert_eq!(
        store.subscription(&org.id, &services[0].id).await.unwrap().unwrap().state,
        SubscriptionState::Released
    );

    let mails = app.wait_mails("chefin@korn.example", 2).await;
    assert!(mails.iter().any(|m| m.contains("freigegeben. Sie k")), "{mails:?}");
    assert!(mails.iter().any(|m| m.contains("nicht freigegeben")), "{mails:?}");
    let audit = app.audit("leitstelle.").await;
    let actions: Vec<(&str, &str)> = audit.iter().map(|e| (e.action.as_str(), e.actor.as_str())).collect();
    assert_eq!(
        actions,
        [("leitstelle.approve", "staff:lea"), ("leitstelle.reject", "staff:lea")],
        "{audit:?}"
    );
    // The released service can be granted now; the refused one cannot.
    let admin = Admin::operator(org.id.clone());
    orgs::grant(store, &admin, &ada.id, &services[0], &[]).await.unwrap();
    assert!(orgs::grant(store, &admin, &ada.id, &services[1], &[]).await.is_err());
}
