//! Servicekonto Plus and the eID, against the eID simulator running as a process of its own:
//! upgrade (R-EID-1), eID login and switching it off and on (R-SES-1, R-EID-3), the sync with a
//! new card (R-EID-4), step-up for services that demand the eID (R-ACR-3, R-EID-5), and forged,
//! replayed or mis-addressed upstream answers (refused, nothing changed).

use reqwest::StatusCode;
use servicekonto::trust::TrustLevel;

use crate::support::*;

/// A fresh browser logging in with `person`'s card; the status and the body.
async fn card_login(app: &TestApp, person: &str) -> (StatusCode, String) {
    app.browser()
        .via_sim(
            "login",
            None,
            AtSim {
                person,
                ..AtSim::default()
            },
        )
        .await
}

/// A basic account, logged in, upgraded to Plus by the eID (Erika's card), then logged in again.
async fn upgraded(app: &TestApp) -> (Browser, servicekonto::accounts::Account) {
    let a = app.account("erika@example.de", false).await;
    let browser = app.browser();
    browser.login("erika@example.de", PASSWORD).await;
    let (status, body) = browser.via_sim("upgrade", None, AtSim::default()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    browser.login("erika@example.de", PASSWORD).await;
    (browser, a)
}

#[tokio::test]
async fn r_eid_1_upgrade_by_eid_takes_the_card_data_over_and_logs_the_user_out() {
    let (app, _sim) = app_with_eid().await;
    let a = app.account("erika@example.de", false).await;
    let browser = app.browser();
    browser.login("erika@example.de", PASSWORD).await;
    let (_, profile) = browser.page("/profile").await;
    assert!(profile.contains("Mit Online-Ausweis zu Servicekonto Plus"));
    let (status, body) = browser.via_sim("upgrade", None, AtSim::default()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("jetzt ein Servicekonto Plus"));
    let after = app.state.store.account(&a.id).await.unwrap().unwrap();
    assert_eq!(after.level, TrustLevel::Plus);
    assert_eq!(after.birthdate.as_deref(), Some("1964-08-12"));
    let addr = after.address.unwrap();
    assert_eq!(
        (addr.street.as_str(), addr.house_number.as_str(), addr.city.as_str()),
        ("Heidestraße", "17", "Köln")
    );
    let v = app.state.store.verification(&a.id).await.unwrap().unwrap();
    assert_eq!(
        (v.method.as_str(), v.birth_name.as_deref(), v.place_of_birth.as_deref()),
        ("eid", Some("Gabler"), Some("Berlin"))
    );
    assert!(
        browser.page("/profile").await.1.starts_with("redirect:/login"),
        "logged out after the upgrade"
    );
    let mails = app.wait_mails("erika@example.de", 1).await;
    assert!(
        mails[0].contains("Ausweis") && mails[0].contains("/block?token="),
        "R-SES-6: the new link is announced with a block link"
    );
    // R-PRO-1: the fields are locked now.
    browser.login("erika@example.de", PASSWORD).await;
    let (status, _) = browser
        .submit(
            "/profile",
            &[("given_name", "Eva"), ("family_name", "Mustermann"), ("birthdate", "1964-08-12")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn r_ses_1_r_eid_3_login_with_the_linked_card_and_switching_eid_login_off_and_on() {
    let (app, _sim) = app_with_eid().await;
    let (browser, a) = upgraded(&app).await;
    let card = app.browser();
    let (status, body) = card.via_sim("login", None, AtSim::default()).await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/"));
    assert_eq!(card.page("/profile").await.0, StatusCode::OK);

    // Another person's card, or a card without the pseudonym, logs nobody in.
    let (status, body) = card_login(&app, "ayse").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("kein Servicekonto verbunden"));
    let (status, _) = app
        .browser()
        .via_sim(
            "login",
            None,
            AtSim {
                ticked: false,
                ..AtSim::default()
            },
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Off …
    let (status, _) = browser.submit("/profile/eid/off", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = app.browser().via_sim("login", None, AtSim::default()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "eID login is off");
    // … and on again by a new sync with the pseudonym.
    let (status, body) = browser.via_sim("sync", None, AtSim::default()).await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/profile?done=synced"));
    assert!(app.state.store.eid_login_enabled(&a.id).await.unwrap());
    let (status, _) = app.browser().via_sim("login", None, AtSim::default()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // R-SEC-6: every eID login is audited, the refused ones without naming an account.
    let logins = app.audit("login.eid").await;
    let seen: Vec<(Option<&str>, &str)> = logins
        .iter()
        .map(|e| (e.account_id.as_ref().map(|a| a.as_str()), e.outcome.as_str()))
        .collect();
    let me = Some(a.id.as_str());
    assert_eq!(seen, [(me, "ok"), (None, "not_linked"), (None, "not_linked"), (me, "ok")]);
    // Switching eID login off is the owner's security change, audited with where it came from.
    let off = app.audit("eid.login_off").await;
    assert_eq!(off.len(), 1);
    assert_eq!(
        (off[0].actor.as_str(), off[0].account_id.as_ref().map(|a| a.as_str())),
        (format!("account:{}", a.id).as_str(), me)
    );
    assert!(off[0].client_addr.is_some());
}

#[tokio::test]
async fn r_eid_4_a_new_card_is_relinked_when_the_identity_matches_and_refused_otherwise() {
    let (app, _sim) = app_with_eid().await;
    let (browser, a) = upgraded(&app).await;
    let (status, _) = browser
        .via_sim(
            "sync",
            None,
            AtSim {
                person: "erika-new-card",
                ..AtSim::default()
            },
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let after = app.state.store.account(&a.id).await.unwrap().unwrap();
    assert_eq!(after.address.unwrap().city, "Bonn", "the new card's address is taken over");
    // The new card logs in; the old one no longer does.
    assert_eq!(
        app.browser()
            .via_sim(
                "login",
                None,
                AtSim {
                    person: "erika-new-card",
                    ..AtSim::default()
                }
            )
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.browser().via_sim("login", None, AtSim::default()).await.0,
        StatusCode::FORBIDDEN
    );
    app.wait_mails("erika@example.de", 2).await;

    // A card whose identity does not match (changed family name) is refused; nothing changes.
    let (status, body) = browser
        .via_sim(
            "sync",
            None,
            AtSim {
                person: "erika-married",
                ..AtSim::default()
            },
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("Kundenzentrum"));
    let unchanged = app.state.store.account(&a.id).await.unwrap().unwrap();
    assert_eq!(
        (unchanged.family_name.as_str(), unchanged.address.unwrap().city.as_str()),
        ("Mustermann", "Bonn")
    );
    assert_eq!(
        app.browser()
            .via_sim(
                "login",
                None,
                AtSim {
                    person: "erika-married",
                    ..AtSim::default()
                }
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn r_eid_5_r_acr_3_a_service_demanding_eid_steps_a_password_session_up_through_the_eid() {
    let (app, _sim) = app_with_eid().await;
    let (id, secret) = app
        .client(ClientSpec {
            min_level: TrustLevel::Eid,
            ..ClientSpec::default()
        })
        .await;
    let (mut browser, _) = upgraded(&app).await;
    // The password session is not enough: back to the login page, which asks for the eID.
    let end = browser.walk(&authorize_url(&app, &id, &[]), None, Consent::Allow).await;
    let End::Page(_, login) = end else {
        panic!("expected the login page, got {end:?}")
    };
    assert!(login.contains("verlangt eine Anmeldung mit dem Online-Ausweis"));
    let txn = form_value(&login, "txn").unwrap();
    let back = browser.to_sim_and_back("login", Some(&txn), AtSim::default()).await;
    let end = browser.walk(&back, None, Consent::Allow).await;
    let (status, tokens) = redeem(&app, &id, secret.as_deref().unwrap(), &end.code(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "urn:servicekonto:acr:eid");
    assert_eq!(claims["amr"], serde_json::json!(["eid"]));

    // A Plus account without eID login cannot reach the level: the service is told so.
    app.account("plus@example.de", true).await;
    let mut other = app.browser();
    let end = other
        .walk(&authorize_url(&app, &id, &[]), Some(("plus@example.de", PASSWORD)), Consent::Allow)
        .await;
    assert_eq!(end.param("error").as_deref(), Some("unmet_authentication_requirements"));
}

#[tokio::test]
async fn forged_replayed_and_misaddressed_upstream_answers_are_refused_and_change_nothing() {
    let (app, _sim) = app_with_eid().await;
    let a = app.account("erika@example.de", false).await;
    let browser = app.browser();
    browser.login("erika@example.de", PASSWORD).await;
    for fault in ["wrong_signature", "wrong_nonce", "wrong_issuer", "wrong_audience", "expired"] {
        let (status, body) = browser.via_sim("upgrade", None, AtSim { fault, ..AtSim::default() }).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fault}");
        assert!(body.contains("Antwort des Anmeldedienstes ist ungültig"), "{fault}");
        let now = app.state.store.account(&a.id).await.unwrap().unwrap();
        assert_eq!(now.level, TrustLevel::Basic, "{fault} changed nothing");
    }
    // Cancelled at the eID service.
    let (_, body) = browser
        .via_sim(
            "upgrade",
            None,
            AtSim {
                cancel: true,
                ..AtSim::default()
            },
        )
        .await;
    assert!(body.contains("abgebrochen"));
    // Replay: the same answer twice.
    let back = browser.to_sim_and_back("upgrade", None, AtSim::default()).await;
    let mut forged_iss = url::Url::parse(&back).unwrap();
    let pairs: Vec<(String, String)> = forged_iss
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "http://127.0.0.1:1/other".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged_iss.query_pairs_mut().clear().extend_pairs(pairs);
    // Mix-up (RFC 9207): an answer naming another issuer is refused — and uses the state up.
    let (status, body) = browser.page(forged_iss.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("nicht von dem Anmeldedienst"));
    let (status, body) = browser.page(&back).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a used state is gone");
    assert!(body.contains("unbekannt, abgelaufen oder wurde schon abgeschlossen"));
    // Another browser cannot finish a login started here.
    let back = browser.to_sim_and_back("upgrade", None, AtSim::default()).await;
    let (status, _) = app.browser().page(&back).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().level, TrustLevel::Basic);
    assert!(app.state.store.verification(&a.id).await.unwrap().is_none());
}

#[tokio::test]
async fn the_idp_trusts_a_simulator_only_on_loopback_unless_allowed() {
    for allowed in [false, true] {
        let (app, _sim) = app_with_sim("0.0.0.0", |c, _| c.allow_simulators = allowed, &[]).await;
        let browser = app.browser();
        let (status, body) = browser.submit("/upstream/eid/start", &[("purpose", "login")]).await;
        if allowed {
            assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        } else {
            assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
            assert!(body.contains("nicht erreichbar"));
        }
    }
}

#[tokio::test]
async fn r_acr_6_after_the_eid_level_decays_the_next_eid_request_steps_up_again() {
    let (app, _sim) = app_with_sim("127.0.0.1", |c, _| c.sessions.eid_idle_seconds = 1, &[]).await;
    let (eid_service, eid_secret) = app
        .client(ClientSpec {
            min_level: TrustLevel::Eid,
            ..ClientSpec::default()
        })
        .await;
    let (plus_service, plus_secret) = app.client(ClientSpec::default()).await;
    upgraded(&app).await;
    let mut browser = app.browser();
    let (status, _) = browser.via_sim("login", None, AtSim::default()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let code = browser
        .walk(&authorize_url(&app, &eid_service, &[]), None, Consent::Allow)
        .await
        .code();
    let (_, t) = redeem(&app, &eid_service, eid_secret.as_deref().unwrap(), &code, &[]).await;
    assert_eq!(jwt_claims(t["id_token"].as_str().unwrap())["acr"], "urn:servicekonto:acr:eid");

    app.state.clock.advance(2);
    // The session lives on as Plus …
    let code = browser
        .walk(&authorize_url(&app, &plus_service, &[]), None, Consent::Allow)
        .await
        .code();
    let (_, t) = redeem(&app, &plus_service, plus_secret.as_deref().unwrap(), &code, &[]).await;
    let claims = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "urn:servicekonto:acr:plus");
    assert_eq!(
        claims["amr"],
        serde_json::json!(["eid"]),
        "amr still says how the user authenticated"
    );
    // … and the eID service asks for the eID again.
    let end = browser.walk(&authorize_url(&app, &eid_service, &[]), None, Consent::Allow).await;
    let End::Page(_, login) = end else {
        panic!("expected a step-up, got {end:?}")
    };
    assert!(login.contains("verlangt eine Anmeldung mit dem Online-Ausweis"));
}

#[tokio::test]
async fn r_acr_7_verified_data_go_out_as_verified_claims_self_entered_data_do_not() {
    let (app, _sim) = app_with_eid().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    let secret = secret.unwrap();
    let discovery: serde_json::Value = reqwest::get(app.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["verified_claims_supported"], true);
    assert!(
        discovery["trust_frameworks_supported"]
            .as_array()
            .unwrap()
            .contains(&"eidas".into())
    );

    let userinfo = |code: String| {
        let (app, id, secret) = (&app, id.clone(), secret.clone());
        async move {
            let (_, t) = redeem(app, &id, &secret, &code, &[]).await;
            app.http()
                .get(app.url("/userinfo"))
                .bearer_auth(t["access_token"].as_str().unwrap())
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let extra = [("scope", "openid profile email address")];
    app.account("basic@example.de", false).await;
    let mut basic = app.browser();
    let info = userinfo(login_code(&app, &mut basic, &id, "basic@example.de", &extra).await).await;
    assert!(info.get("verified_claims").is_none(), "self-entered data are not verified");

    let (mut browser, _) = upgraded(&app).await;
    let code = browser.walk(&authorize_url(&app, &id, &extra), None, Consent::Allow).await.code();
    let info = userinfo(code).await;
    let vc = &info["verified_claims"];
    assert_eq!(vc["verification"]["trust_framework"], "eidas");
    assert_eq!(vc["verification"]["assurance_level"], "high");
    assert_eq!(vc["verification"]["evidence"][0]["method"], "eid");
    assert!(vc["verification"]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(vc["claims"]["family_name"], "Mustermann");
    assert_eq!(vc["claims"]["birthdate"], "1964-08-12");
    assert_eq!(vc["claims"]["address"]["locality"], "Köln");
    assert!(vc["claims"].get("email").is_none(), "the email is not verified by the eID");
    assert_eq!(info["email"], "erika@example.de");
}

#[tokio::test]
async fn r_reg_5_registering_directly_as_plus_reads_the_identity_from_the_eid() {
    let (app, _sim) = app_with_eid().await;
    let browser = app.browser();
    let (status, body) = browser.via_sim("register", None, AtSim::default()).await;
    assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, "redirect:/register"));
    let (_, form) = browser.page("/register").await;
    assert!(form.contains("Erika Mustermann") && form.contains("1964-08-12") && form.contains("Heidestraße 17"));
    assert!(!form.contains("name=\"given_name\""), "the names come from the card");
    // Names sent anyway are ignored: the card's count.
    let (status, _) = browser
        .submit(
            "/register",
            &[
                ("given_name", "Eve"),
                ("family_name", "Forged"),
                ("email", "erika@example.de"),
                ("password", PASSWORD),
                ("password_repeat", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, summary) = browser.page("/register/summary").await;
    assert!(summary.contains("mit dem Online-Ausweis bestätigt") && !summary.contains("Forged"));
    let (status, body) = browser
        .submit("/register/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let link = app.mail_link("erika@example.de", "/register/activate").await;
    let token = link.rsplit('=').next().unwrap();
    let (status, _) = browser
        .submit("/register/activate", &[("token", token), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK);

    let a = app.state.store.account_by_email("erika@example.de").await.unwrap().unwrap();
    assert_eq!(
        (a.level, a.given_name.as_str(), a.family_name.as_str()),
        (TrustLevel::Plus, "Erika", "Mustermann")
    );
    assert_eq!(a.address.unwrap().city, "Köln");
    assert_eq!(app.state.store.verification(&a.id).await.unwrap().unwrap().method, "eid");
    // The card logs in at once.
    assert_eq!(
        app.browser().via_sim("login", None, AtSim::default()).await.0,
        StatusCode::SEE_OTHER
    );
    // The same card cannot register a second account.
    let (status, body) = app.browser().via_sim("register", None, AtSim::default()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("bereits ein Servicekonto"));
}

#[tokio::test]
async fn the_connector_authenticates_with_private_key_jwt_and_maps_upstream_claim_names() {
    let (app, _sim) = app_with_sim(
        "127.0.0.1",
        |_, u| {
            u.client_secret = None;
            u.auth_method = Some(servicekonto::config::UpstreamAuth::PrivateKeyJwt);
            u.claim_map = [
                ("given_name", "GivenNames"),
                ("family_name", "FamilyNames"),
                ("birthdate", "DateOfBirth"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        },
        &["--client-jwks-uri", "{idp}/jwks", "--eid-server-names"],
    )
    .await;
    let a = app.account("erika@example.de", false).await;
    let browser = app.browser();
    browser.login("erika@example.de", PASSWORD).await;
    let (status, body) = browser.via_sim("upgrade", None, AtSim::default()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = app.state.store.account(&a.id).await.unwrap().unwrap();
    assert_eq!((after.level, after.birthdate.as_deref()), (TrustLevel::Plus, Some("1964-08-12")));
}

#[tokio::test]
async fn an_upstream_refusing_our_client_authentication_or_naming_claims_unexpectedly_changes_nothing() {
    // The simulator knows no JWKS of ours, so our private_key_jwt is refused at its token
    // endpoint; and its eID-Server claim names are not mapped here.
    for (private_key_jwt, names) in [(true, false), (false, true)] {
        let extra: &[&str] = if names { &["--eid-server-names"] } else { &[] };
        let (app, _sim) = app_with_sim(
            "127.0.0.1",
            |_, u| {
                if private_key_jwt {
                    u.client_secret = None;
                }
            },
            extra,
        )
        .await;
        let a = app.account("erika@example.de", false).await;
        let browser = app.browser();
        browser.login("erika@example.de", PASSWORD).await;
        let (status, _) = browser.via_sim("upgrade", None, AtSim::default()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().level, TrustLevel::Basic);
    }
}

#[tokio::test]
async fn an_upstream_level_below_substanziell_verifies_no_identity() {
    // This deployment does not trust the simulated eID beyond "basic".
    let (app, _sim) = app_with_sim(
        "127.0.0.1",
        |_, u| {
            u.acr_map.insert(servicekonto::sim::eid::ACR_HOCH.into(), "basic".into());
        },
        &[],
    )
    .await;
    let a = app.account("erika@example.de", false).await;
    let browser = app.browser();
    browser.login("erika@example.de", PASSWORD).await;
    let (status, body) = browser.via_sim("upgrade", None, AtSim::default()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("nötigen Vertrauensniveau"));
    assert_eq!(app.state.store.account(&a.id).await.unwrap().unwrap().level, TrustLevel::Basic);
}

#[tokio::test]
async fn r_eid_4_a_plus_account_cannot_take_another_persons_card_by_an_upgrade() {
    let (app, _sim) = app_with_eid().await;
    let a = app.account("erika@example.de", false).await;
    let browser = app.browser();
    browser.login("erika@example.de", PASSWORD).await;
    // Two upgrades started while the account is basic; the first one makes it Plus.
    let start = || async {
        let (status, location) = browser.submit("/upstream/eid/start", &[("purpose", "upgrade")]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        location.strip_prefix("redirect:").unwrap().to_string()
    };
    let (first, second) = (start().await, start().await);
    let back = browser.at_sim(&first, AtSim::default()).await;
    assert_eq!(browser.page(&back).await.0, StatusCode::OK);
    browser.login("erika@example.de", PASSWORD).await;
    let before = app.state.store.account(&a.id).await.unwrap().unwrap();
    let link_before = app.state.store.eid_link(&a.id).await.unwrap().map(|l| l.pseudonym_hash);
    assert_eq!(before.level, TrustLevel::Plus);

    // Starting an upgrade of a Plus account is refused.
    let (status, body) = browser.submit("/upstream/eid/start", &[("purpose", "upgrade")]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("bereits ein Servicekonto Plus"));
    // So is finishing the one started earlier, with another person's card: nothing changes.
    let back = browser
        .at_sim(
            &second,
            AtSim {
                person: "ayse",
                ..AtSim::default()
            },
        )
        .await;
    let (status, body) = browser.page(&back).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let after = app.state.store.account(&a.id).await.unwrap().unwrap();
    assert_eq!(
        (after.given_name.as_str(), after.family_name.as_str(), after.birthdate.as_deref()),
        (before.given_name.as_str(), before.family_name.as_str(), before.birthdate.as_deref())
    );
    assert_eq!(
        app.state.store.eid_link(&a.id).await.unwrap().map(|l| l.pseudonym_hash),
        link_before
    );
    // Ayşe's card logs nobody in.
    let (status, _) = card_login(&app, "ayse").await;
    assert_ne!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn r_ses_6_a_blocked_account_cannot_log_in_with_its_card_and_the_refusal_is_audited() {
    let (app, _sim) = app_with_eid().await;
    let (_, a) = upgraded(&app).await;
    app.state.store.block_account(&a.id, app.state.clock.now()).await.unwrap();
    let (status, body) = card_login(&app, "erika").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("gesperrt"), "{body}");
    let logins = app.audit("login.eid").await;
    let last = logins.last().unwrap();
    assert_eq!(
        (last.account_id.as_ref().map(|a| a.as_str()), last.outcome.as_str()),
        (Some(a.id.as_str()), "blocked")
    );
}
