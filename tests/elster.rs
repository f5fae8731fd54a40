//! ELSTER for organisations (R-ELS-1…4), against the ELSTER simulator running as a process of
//! its own: the first link by an administrator and the data it locks, later certificates of the
//! same organisation, one certificate per user, replacing and deleting it, ELSTER login and its
//! decay (R-ACR-6), step-up for services that demand ELSTER, registering an organisation from
//! ELSTER's data, and what citizens and forged answers get (refused, nothing changed).

use reqwest::StatusCode;
use servicekonto::accounts::{Account, AccountKind};
use servicekonto::clients::{Admits, Offer};
use servicekonto::ids::{ClientId, OrgId};
use servicekonto::orgs::{self, Admin, NewOrganisation, OrgChanges, OrgError, OrgField};
use servicekonto::secret::Secret;
use servicekonto::trust::TrustLevel;

use crate::support::*;

/// An organisation with its administrator `admin@muster.example` and an employee
/// `emil@muster.example`, both logging in with `PASSWORD`.
async fn organisation(app: &TestApp) -> (OrgId, Account, Account) {
    let new = NewOrganisation {
        name: "Muster Bau".into(),
        trade_register: None,
        address: None,
        po_box: None,
        admin_email: "admin@muster.example".into(),
        admin_password: Secret::new(PASSWORD.into()),
        admin_given_name: "Anna".into(),
        admin_family_name: "Schmidt".into(),
        admin_phone: "+49 221 1234".into(),
    };
    let (org, admin) = orgs::create(&app.state.store, &app.state.hasher, new, servicekonto::clock::now())
        .await
        .unwrap();
    let emil = app.employee(&org.id, "emil@muster.example").await;
    (org.id, admin, emil)
}

/// A service for organisations at `min_level`, released to `org` and granted to `users`.
async fn service(app: &TestApp, org: &OrgId, min_level: TrustLevel, users: &[&Account]) -> (String, String) {
    let (id, secret) = app
        .client(ClientSpec {
            min_level,
            offer: Offer {
                admits: Admits::Organisation,
                ..Offer::default()
            },
            ..ClientSpec::default()
        })
        .await;
    let store = &app.state.store;
    let client = store.client(&ClientId::from(id.as_str())).await.unwrap().unwrap();
    let admin = Admin::operator(org.clone());
    orgs::subscribe(store, &admin, &client, servicekonto::clock::now()).await.unwrap();
    for u in users {
        orgs::grant(store, &admin, &u.id, &client, &[]).await.unwrap();
    }
    (id, secret.unwrap())
}

/// At ELSTER with the certificate `key`, the organisation's data released.
fn cert(key: &str) -> AtSim<'_> {
    AtSim {
        person: key,
        ..AtSim::default()
    }
}

/// A browser logged in as `email` that links the certificate `key`: the callback's answer.
async fn link(app: &TestApp, email: &str, at: AtSim<'_>) -> (StatusCode, String) {
    let browser = app.browser();
    browser.login(email, PASSWORD).await;
    browser.via_upstream("elster", "link_elster", None, at).await
}

/// A fresh browser logging in with the certificate `key`: the callback's answer.
async fn elster_login(app: &TestApp, key: &str) -> (StatusCode, String) {
    app.browser().via_upstream("elster", "login", None, cert(key)).await
}

#[tokio::test]
async fn r_els_1_r_els_2_the_first_link_by_an_administrator_takes_the_organisations_data_and_locks_them_for_good() {
    let (app, _sim) = app_with_elster(|_| {}).await;
    let (org_id, admin, emil) = organisation(&app).await;
    let store = &app.state.store;
    let before = store.organisation(&org_id).await.unwrap().unwrap();

    // An employee cannot make the first link; nor can anyone without the organisation's data.
    let (status, body) = link(&app, "emil@muster.example", cert("musterbau-ben")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("erste Verknüpfung nimmt eine Administratorin"), "{body}");
    let withheld = AtSim {
        ticked: false,
        ..cert("musterbau-anna")
    };
    let (status, body) = link(&app, "admin@muster.example", withheld).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("nicht übermittelt"), "{body}");
    assert_eq!(store.organisation(&org_id).await.unwrap().unwrap(), before, "nothing changed");
    assert!(store.elster_link(&admin.id).await.unwrap().is_none());
    assert!(store.elster_link(&emil.id).await.unwrap().is_none());

    let (status, location) = link(&app, "admin@muster.example", cert("musterbau-anna")).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "redirect:/profile?done=elster_first")
    );
    let org = store.organisation(&org_id).await.unwrap().unwrap();
    assert_eq!(org.elster_id.as_deref(), Some("EL-4711-0001"));
    assert_eq!(
        (org.name.as_str(), org.trade_register.as_deref()),
        ("Musterbau GmbH", Some("HRB 12345"))
    );
    let a = org.address.as_ref().unwrap();
    assert_eq!(
        (a.street.as_str(), a.house_number.as_str(), a.postal_code.as_str(), a.city.as_str()),
        ("Industriestraße", "12", "50667", "Köln")
    );
    let linked = app.audit("elster.link").await;
    assert_eq!(linked.last().unwrap().outcome, "first");

    let rename = || OrgChanges {
        name: Some("Anders GmbH".into()),
        ..OrgChanges::default()
    };
    let operator = Admin::operator(org_id.clone());
    let now = servicekonto::clock::now();
    assert!(matches!(
        orgs::update(store, &operator, rename(), |_| true, now).await,
        Err(OrgError::Locked(OrgField::Name))
    ));

    // Deleting the certificate ends ELSTER login; the data stay locked (R-ELS-2).
    let browser = app.browser();
    browser.login("admin@muster.example", PASSWORD).await;
    let (_, profile) = browser.page("/profile").await;
    assert!(
        profile.contains("Zertifikat löschen") && profile.contains("Zertifikat ersetzen"),
        "{profile}"
    );
    let (_, location) = browser.submit("/profile/elster/delete", &[]).await;
    assert_eq!(location, "redirect:/profile?done=elster_deleted");
    assert!(store.elster_link(&admin.id).await.unwrap().is_none());
    let (status, _) = elster_login(&app, "musterbau-anna").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "ELSTER login is gone");
    assert_eq!(
        store.organisation(&org_id).await.unwrap().unwrap().elster_id.as_deref(),
        Some("EL-4711-0001")
    );
    assert!(matches!(
        orgs::update(store, &operator, rename(), |_| true, now).await,
        Err(OrgError::Locked(OrgField::Name))
    ));
}

#[tokio::test]
async fn r_els_1_r_els_3_later_certificates_belong_to_the_same_organisation_one_certificate_to_one_user() {
    let (app, _sim) = app_with_elster(|_| {}).await;
    let (_, admin, emil) = organisation(&app).await;
    let store = &app.state.store;
    let (status, _) = link(&app, "admin@muster.example", cert("musterbau-anna")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let admins = store.elster_link(&admin.id).await.unwrap();

    // Another ELSTER organisation's certificate, or a colleague's, is refused.
    let (status, body) = link(&app, "emil@muster.example", cert("beispiel-dora")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("gehört zu einer anderen Organisation"), "{body}");
    let (status, body) = link(&app, "emil@muster.example", cert("musterbau-anna")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("bereits mit einem anderen Servicekonto verknüpft"), "{body}");
    assert!(store.elster_link(&emil.id).await.unwrap().is_none(), "nothing linked");
    assert_eq!(
        store.elster_link(&admin.id).await.unwrap(),
        admins,
        "the administrator's link as it was"
    );
    let (status, location) = link(&app, "emil@muster.example", cert("musterbau-ben")).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "redirect:/profile?done=elster_linked")
    );

    // Replacing: the new certificate logs in, the old one no longer does.
    let (status, _) = link(&app, "admin@muster.example", cert("musterbau-anna-new")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, body) = elster_login(&app, "musterbau-anna").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("kein Servicekonto verknüpft"), "{body}");
    let (status, location) = elster_login(&app, "musterbau-anna-new").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "redirect:/"));
    let (status, _) = elster_login(&app, "musterbau-ben").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the employee's own certificate");
    let logins = app.audit("login.elster").await;
    assert_eq!(logins.iter().filter(|e| e.outcome == "not_linked").count(), 1);
    assert!(logins.iter().any(|e| e.account_id.as_ref() == Some(&emil.id)));
}

#[tokio::test]
async fn r_els_4_login_with_elster_gives_acr_elster_and_amr_elster_and_citizens_cannot_use_it() {
    let (app, _sim) = app_with_elster(|_| {}).await;
    let (org_id, _, emil) = organisation(&app).await;
    let (id, secret) = service(&app, &org_id, TrustLevel::Basic, &[&emil]).await;
    link(&app, "admin@muster.example", cert("musterbau-anna")).await;
    link(&app, "emil@muster.example", cert("musterbau-ben")).await;

    let mut browser = app.browser();
    let end = browser.walk(&authorize_url(&app, &id, &[]), None, Consent::Allow).await;
    let End::Page(_, login) = end else {
        panic!("expected the login page, got {end:?}")
    };
    assert!(login.contains("Mit ELSTER-Organisationszertifikat anmelden"), "{login}");
    assert!(!login.contains("Mit Online-Ausweis"), "{login}");
    let txn = form_value(&login, "txn").unwrap();
    let back = browser
        .to_upstream_and_back("elster", "login", Some(&txn), cert("musterbau-ben"))
        .await;
    let code = browser.walk(&back, None, Consent::Allow).await.code();
    let (status, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "urn:servicekonto:acr:elster");
    assert_eq!(claims["amr"], serde_json::json!(["elster"]));
    assert_eq!(claims["org_id"], org_id.as_str());

    // A citizen gets no ELSTER button for a citizens' service, and cannot link a certificate.
    let (citizens, _) = app.client(ClientSpec::default()).await;
    let end = app.browser().walk(&authorize_url(&app, &citizens, &[]), None, Consent::Allow).await;
    let End::Page(_, login) = end else {
        panic!("expected the login page, got {end:?}")
    };
    assert!(!login.contains("ELSTER"), "{login}");
    let citizen = app.account("erika@example.de", false).await;
    let browser = app.browser();
    browser.login("erika@example.de", PASSWORD).await;
    let (status, body) = browser.submit("/upstream/elster/start", &[("purpose", "link_elster")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("nicht Bürgerinnen und Bürger"), "{body}");
    assert_eq!(
        app.state.store.account(&citizen.id).await.unwrap().unwrap().kind,
        AccountKind::Citizen
    );
    assert!(app.state.store.elster_link(&citizen.id).await.unwrap().is_none());
}

#[tokio::test]
async fn r_els_4_r_acr_3_a_service_demanding_elster_steps_an_organisation_users_password_session_up() {
    let (app, _sim) = app_with_elster(|_| {}).await;
    let (org_id, admin, emil) = organisation(&app).await;
    let (id, secret) = service(&app, &org_id, TrustLevel::Elster, &[&emil]).await;
    link(&app, "admin@muster.example", cert("musterbau-anna")).await;
    link(&app, "emil@muster.example", cert("musterbau-ben")).await;

    let mut browser = app.browser();
    browser.login("emil@muster.example", PASSWORD).await;
    let end = browser.walk(&authorize_url(&app, &id, &[]), None, Consent::Allow).await;
    let End::Page(_, login) = end else {
        panic!("expected a step-up, got {end:?}")
    };
    assert!(
        login.contains("verlangt eine Anmeldung mit einem ELSTER-Organisationszertifikat"),
        "{login}"
    );
    let txn = form_value(&login, "txn").unwrap();
    let back = browser
        .to_upstream_and_back("elster", "login", Some(&txn), cert("musterbau-ben"))
        .await;
    let code = browser.walk(&back, None, Consent::Allow).await.code();
    let (_, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["acr"],
        "urn:servicekonto:acr:elster"
    );

    // A service that asks for "substanziell" by its BSI name gets the same step-up.
    let (low, _) = service(&app, &org_id, TrustLevel::Basic, &[&emil]).await;
    let mut asking = app.browser();
    asking.login("emil@muster.example", PASSWORD).await;
    let url = authorize_url(&app, &low, &[("acr_values", "http://bsi.bund.de/eID/LoA/substantiell")]);
    let End::Page(_, login) = asking.walk(&url, None, Consent::Allow).await else {
        panic!("expected a step-up")
    };
    assert!(
        login.contains("verlangt eine Anmeldung mit einem ELSTER-Organisationszertifikat"),
        "{login}"
    );

    // Without a certificate the level is out of reach: the service hears so at once.
    app.state.store.delete_elster_link(&emil.id).await.unwrap();
    let mut other = app.browser();
    let end = other
        .walk(
            &authorize_url(&app, &id, &[]),
            Some(("emil@muster.example", PASSWORD)),
            Consent::Allow,
        )
        .await;
    assert_eq!(end.param("error").as_deref(), Some("unmet_authentication_requirements"));
    assert!(app.state.store.elster_link(&admin.id).await.unwrap().is_some());
}

#[tokio::test]
async fn r_acr_6_after_the_elster_level_decays_the_next_elster_request_steps_up_again() {
    let (app, _sim) = app_with_elster(|c| c.sessions.elster_idle_seconds = 60).await;
    let (org_id, _, emil) = organisation(&app).await;
    let (high, high_secret) = service(&app, &org_id, TrustLevel::Elster, &[&emil]).await;
    let (low, low_secret) = service(&app, &org_id, TrustLevel::Basic, &[&emil]).await;
    link(&app, "admin@muster.example", cert("musterbau-anna")).await;
    link(&app, "emil@muster.example", cert("musterbau-ben")).await;
    let mut browser = app.browser();
    let (status, _) = browser.via_upstream("elster", "login", None, cert("musterbau-ben")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let code = browser.walk(&authorize_url(&app, &high, &[]), None, Consent::Allow).await.code();
    let (_, t) = redeem(&app, &high, &high_secret, &code, &[]).await;
    assert_eq!(jwt_claims(t["id_token"].as_str().unwrap())["acr"], "urn:servicekonto:acr:elster");

    app.state.clock.advance(61);
    // The session lives on at the next lower level …
    let code = browser.walk(&authorize_url(&app, &low, &[]), None, Consent::Allow).await.code();
    let (_, t) = redeem(&app, &low, &low_secret, &code, &[]).await;
    let claims = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "urn:servicekonto:acr:basic");
    assert_eq!(
        claims["amr"],
        serde_json::json!(["elster"]),
        "amr still says how the user authenticated"
    );
    // … and the service that demands ELSTER asks for it again.
    let end = browser.walk(&authorize_url(&app, &high, &[]), None, Consent::Allow).await;
    let End::Page(_, login) = end else {
        panic!("expected a step-up, got {end:?}")
    };
    assert!(
        login.contains("verlangt eine Anmeldung mit einem ELSTER-Organisationszertifikat"),
        "{login}"
    );
}

#[tokio::test]
async fn forged_elster_answers_and_a_cancelled_link_change_nothing() {
    let (app, _sim) = app_with_elster(|_| {}).await;
    let (org_id, admin, _) = organisation(&app).await;
    let before = app.state.store.organisation(&org_id).await.unwrap().unwrap();
    for fault in ["wrong_signature", "wrong_nonce", "wrong_issuer", "wrong_audience", "expired"] {
        let (status, body) = link(
            &app,
            "admin@muster.example",
            AtSim {
                fault,
                ..cert("musterbau-anna")
            },
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fault}: {body}");
        let (status, _) = app
            .browser()
            .via_upstream(
                "elster",
                "login",
                None,
                AtSim {
                    fault,
                    ..cert("musterbau-anna")
                },
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fault}");
    }
    let cancelled = AtSim {
        cancel: true,
        ..cert("musterbau-anna")
    };
    let (_, body) = link(&app, "admin@muster.example", cancelled).await;
    assert!(body.contains("abgebrochen"), "{body}");
    assert_eq!(app.state.store.organisation(&org_id).await.unwrap().unwrap(), before);
    assert!(app.state.store.elster_link(&admin.id).await.unwrap().is_none());
    // The callback of a link started by one user cannot be finished by another's session.
    let browser = app.browser();
    browser.login("admin@muster.example", PASSWORD).await;
    let back = browser
        .to_upstream_and_back("elster", "link_elster", None, cert("musterbau-anna"))
        .await;
    browser.login("emil@muster.example", PASSWORD).await;
    let (status, _) = browser.page(&back).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.state.store.organisation(&org_id).await.unwrap().unwrap(), before);
}

#[tokio::test]
async fn r_els_4_registering_an_organisation_with_elster_prefills_and_locks_its_data() {
    let (app, _sim) = app_with_elster(|_| {}).await;
    let browser = app.browser();
    let (_, page) = browser.page("/register/organisation").await;
    assert!(page.contains("Mit ELSTER registrieren"), "{page}");
    let (status, location) = browser
        .via_upstream("elster", "register_organisation", None, cert("stadtwerke-emil"))
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "redirect:/register/organisation")
    );
    let (_, page) = browser.page("/register/organisation").await;
    assert!(page.contains("Die Daten stammen aus ELSTER"), "{page}");
    assert!(
        page.contains(r#"value="Stadtwerke Musterstadt""#) && page.contains("readonly"),
        "{page}"
    );

    // Changed values in the locked fields are not taken; the PO box is.
    let tampered = [
        ("name", "Andere Werke"),
        ("trade_register", ""),
        ("street", "Falsche Straße"),
        ("house_number", "1"),
        ("postal_code", "12345"),
        ("city", "Anderswo"),
        ("po_box", "4711"),
    ];
    let (_, next) = browser.submit("/register/organisation", &tampered).await;
    assert_eq!(next, "redirect:/register/organisation/admin");
    let (_, page) = browser.page("/register/organisation/admin").await;
    assert!(
        page.contains(r#"value="Emil""#) && page.contains(r#"value="1988-04-21""#),
        "pre-filled: {page}"
    );
    let admin_step = [
        ("given_name", "Emil"),
        ("family_name", "Wagner"),
        ("birthdate", "1988-04-21"),
        ("phone_number", "+49 361 1234"),
        ("email", "emil@stadtwerke.example"),
        ("password", PASSWORD),
        ("password_repeat", PASSWORD),
    ];
    let (_, next) = browser.submit("/register/organisation/admin", &admin_step).await;
    assert_eq!(next, "redirect:/register/organisation/services");
    browser.submit("/register/organisation/services", &[("action", "continue")]).await;
    let (_, page) = browser.page("/register/organisation/summary").await;
    assert!(
        page.contains("Stadtwerke Musterstadt") && page.contains("Am Wasserwerk 1, 99084 Erfurt"),
        "{page}"
    );
    let (_, next) = browser
        .submit("/register/organisation/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    assert_eq!(next, "redirect:/register/sent");
    let link = app.mail_link("emil@stadtwerke.example", "/register/organisation/activate").await;
    let token = link.rsplit('=').next().unwrap().to_string();
    let (status, page) = browser
        .submit("/register/organisation/activate", &[("token", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");

    let store = &app.state.store;
    let admin = store.account_by_email("emil@stadtwerke.example").await.unwrap().unwrap();
    let org = store
        .organisation(&store.membership(&admin.id).await.unwrap().unwrap().org_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            org.name.as_str(),
            org.elster_id.as_deref(),
            org.po_box.as_deref(),
            org.trade_register.as_deref()
        ),
        ("Stadtwerke Musterstadt", Some("EL-2000-0003"), Some("4711"), None)
    );
    assert_eq!(org.address.as_ref().unwrap().city, "Erfurt");
    assert!(
        store.elster_link(&admin.id).await.unwrap().is_some(),
        "the administrator's certificate"
    );
    let (status, location) = elster_login(&app, "stadtwerke-emil").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "redirect:/"));

    // The organisation is registered: a second registration with ELSTER is refused.
    let (status, body) = app
        .browser()
        .via_upstream("elster", "register_organisation", None, cert("stadtwerke-emil"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("bereits registriert"), "{body}");
}
