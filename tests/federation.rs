//! Interoperable Servicekonten (R-FED-1 … R-FED-5) with real peers: two Servicekonto servers as
//! two Länder (own ports, own databases) that name each other as `kind = "land"` upstream and
//! as federation-partner client, and the eID simulator as a Land that forges answers.

use reqwest::StatusCode;
use servicekonto::clients::GrantType;
use servicekonto::config::{Config, UpstreamConfig, UpstreamKind};
use servicekonto::secret::Secret;
use servicekonto::trust::TrustLevel;
use tokio::net::TcpListener;

use crate::support::*;

const LAND_SECRET: &str = "land-secret-for-tests-only-0123456789abcdef";

/// Land `id` as an upstream of the other.
fn land(id: &str, name: &str, issuer: &str, client_id: &str) -> UpstreamConfig {
    UpstreamConfig {
        id: id.into(),
        kind: UpstreamKind::Land,
        display_name: name.into(),
        logo_text: None,
        issuer: issuer.into(),
        client_id: client_id.into(),
        client_secret: Some(Secret::new(LAND_SECRET.into())),
        scopes: vec!["profile".into(), "email".into(), "address".into()],
        acr_map: Default::default(),
        auth_method: None,
        claim_map: Default::default(),
    }
}

/// Two Länder: A (127.0.0.1) and B (127.0.0.2), each an upstream of the other and each the
/// other's federation partner; `adjust_a` changes A's configuration.
struct Lands {
    a: TestApp,
    b: TestApp,
}

async fn two_lands(adjust_a: impl FnOnce(&mut Config)) -> Lands {
    let (la, lb) = (
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.2:0").await.unwrap(),
    );
    let ia = format!("http://{}", la.local_addr().unwrap());
    let ib = format!("http://{}", lb.local_addr().unwrap());
    let a = TestApp::on(la, |c| {
        c.upstream.push(land("land-b", "Servicekonto Land B", &ib, "land-a"));
        adjust_a(c);
    })
    .await;
    let b = TestApp::on(lb, |c| c.upstream.push(land("land-a", "Servicekonto Land A", &ia, "land-b"))).await;
    // Each Land is a client of the other, named after itself; its callback is named after the
    // other.
    for (at, partner, partner_id, our_id) in [(&a, &b, "land-b", "land-a"), (&b, &a, "land-a", "land-b")] {
        at.client(ClientSpec {
            client_id: Some(partner_id.into()),
            secret: Some(LAND_SECRET.into()),
            redirect_uris: vec![partner.url(&format!("/upstream/{our_id}/callback"))],
            grant_types: vec![GrantType::AuthorizationCode],
            federation_partner: true,
            ..ClientSpec::default()
        })
        .await;
    }
    Lands { a, b }
}

/// Records that `account`'s identity was verified with the eID (R-ACR-7).
async fn verified_by_eid(app: &TestApp, account: &servicekonto::accounts::Account) {
    let verification = servicekonto::accounts::eid::Verification {
        method: "eid".into(),
        verified_at: servicekonto::clock::now(),
        birth_name: None,
        place_of_birth: None,
        nationality: Some("DE".into()),
        document_type: Some("ID".into()),
    };
    app.state.store.save_verified_identity(account, &verification, None).await.unwrap();
}

/// A service that allows logins through other Länder, with minimum level `min`.
async fn interop_service(app: &TestApp, min: TrustLevel) -> (String, String) {
    let (id, secret) = app
        .client(ClientSpec {
            allow_interop: true,
            min_level: min,
            ..ClientSpec::default()
        })
        .await;
    (id, secret.unwrap())
}

/// Starts an authorization at `home` for `client_id` and picks Land `land_id` from the list;
/// returns the browser (at `home`) and the URL at the Land that it is sent to.
async fn pick_land(home: &TestApp, client_id: &str, land_id: &str, extra: &[(&str, &str)]) -> (Browser, String, String) {
    let mut browser = home.browser();
    let End::Page(_, login) = browser.walk(&authorize_url(home, client_id, extra), None, Consent::Allow).await else {
        panic!("no login page")
    };
    assert!(login.contains("/login/land"), "the login page offers another Servicekonto");
    let txn = form_value(&login, "txn").unwrap();
    let (status, list) = browser.page(&format!("/login/land?txn={txn}")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (status, location) = browser
        .submit(&format!("/upstream/{land_id}/start"), &[("purpose", "federate"), ("txn", &txn)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    (browser, location.strip_prefix("redirect:").unwrap().to_string(), txn)
}

/// The whole round trip: pick `land` at `home`, log in there as `email`, answer the partner's
/// consent (`withhold` deselected), come back and answer `home`'s consent. Where the browser
/// ends.
async fn via_land(home: &TestApp, land: &TestApp, land_id: &str, client_id: &str, email: &str, home_consent: Consent) -> (Browser, End) {
    via_land_with(home, land, land_id, client_id, email, home_consent, &[]).await
}

async fn via_land_with(
    home: &TestApp,
    land: &TestApp,
    land_id: &str,
    client_id: &str,
    email: &str,
    home_consent: Consent,
    withhold: &[&str],
) -> (Browser, End) {
    let (mut browser, at_land, _) = pick_land(home, client_id, land_id, &[]).await;
    let mut there = browser.on(&land.issuer);
    there.withhold = withhold.iter().map(|w| w.to_string()).collect();
    let End::Client(back) = there.walk(&at_land, Some((email, PASSWORD)), Consent::Allow).await else {
        panic!("the Land did not send the browser back")
    };
    assert!(back.as_str().starts_with(&home.issuer), "{back}");
    browser.seen.extend(there.seen);
    let end = browser.walk(back.as_str(), None, home_consent).await;
    (browser, end)
}

#[tokio::test]
async fn r_fed_1_a_citizen_of_one_land_uses_a_service_of_the_other_and_back() {
    let lands = two_lands(|_| {}).await;
    for (home, land, land_id, email, plus) in [
        (&lands.a, &lands.b, "land-b", "ayse@land-b.example", true),
        (&lands.b, &lands.a, "land-a", "erika@land-a.example", false),
    ] {
        let account = land.account(email, plus).await;
        if plus {
            verified_by_eid(land, &account).await;
        }
        let (service, secret) = interop_service(home, TrustLevel::Basic).await;
        let (browser, end) = via_land(home, land, land_id, &service, email, Consent::Allow).await;
        // The partner's consent, then ours with the values that will be passed on.
        let home_consent = browser.seen.last().unwrap();
        assert!(home_consent.contains(if land_id == "land-b" {
            "Servicekonto Land B"
        } else {
            "Servicekonto Land A"
        }));
        assert!(home_consent.contains(email) && home_consent.contains("Erika"), "{home_consent}");
        assert_eq!(end.param("state").as_deref(), Some("st-1"));
        let code = end.code();
        let (status, tokens) = redeem(home, &service, &secret, &code, &[]).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert!(tokens.get("refresh_token").is_none(), "no refresh token without a local account");
        let id = jwt_claims(tokens["id_token"].as_str().unwrap());
        let level = if plus { TrustLevel::Plus } else { TrustLevel::Basic };
        assert_eq!(id["acr"], level.acr(), "the Land's level, mapped, never raised");
        assert_eq!(id["amr"], serde_json::json!(["fed"]));
        assert!(id.get("sid").is_none());
        let (_, info) = home.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(info["email"], email);
        assert_eq!(info["given_name"], "Erika");
        assert_eq!(info["sub"], id["sub"]);
        // R-ACR-7: how the Land verified the data travels with it.
        if plus {
            let verified = &info["verified_claims"];
            assert_eq!(verified["verification"]["evidence"][0]["method"], "eid", "{info}");
            assert_eq!(verified["claims"]["given_name"], "Erika");
        } else {
            assert!(info.get("verified_claims").is_none());
        }
        // Not turned into a local account.
        assert!(home.state.store.account_by_email(email).await.unwrap().is_none());
        // The same person is recognised by the same `sub` next time — after a new login at the
        // Land (no single sign-on in interoperable use).
        let (_, again) = via_land(home, land, land_id, &service, email, Consent::Allow).await;
        let (_, again) = redeem(home, &service, &secret, &again.code(), &[]).await;
        assert_eq!(jwt_claims(again["id_token"].as_str().unwrap())["sub"], id["sub"]);
        // A replayed code is refused and what the first redemption issued stops working.
        let (status, _) = redeem(home, &service, &secret, &code, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = home.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn r_fed_2_only_services_that_allow_it_offer_another_servicekonto() {
    let lands = two_lands(|_| {}).await;
    let (plain, _) = lands.a.client(ClientSpec::default()).await;
    let mut browser = lands.a.browser();
    let End::Page(_, login) = browser.walk(&authorize_url(&lands.a, &plain, &[]), None, Consent::Allow).await else {
        panic!()
    };
    assert!(!login.contains("/login/land"), "not offered");
    let txn = form_value(&login, "txn").unwrap();
    let (status, _) = browser.page(&format!("/login/land?txn={txn}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = browser
        .submit("/upstream/land-b/start", &[("purpose", "federate"), ("txn", &txn)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forged start is refused too");
    // A Land is not an eID service, and the eID purposes cannot be run at a Land.
    let (status, _) = browser.submit("/upstream/land-b/start", &[("purpose", "login")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn r_fed_3_a_lower_level_than_the_service_demands_is_refused_clearly() {
    let lands = two_lands(|_| {}).await;
    lands.b.account("basic@land-b.example", false).await;
    let (service, _) = interop_service(&lands.a, TrustLevel::Plus).await;
    let (browser, end) = via_land(&lands.a, &lands.b, "land-b", &service, "basic@land-b.example", Consent::Allow).await;
    let End::Page(status, page) = end else { panic!("{end:?}") };
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Vertrauensniveau") && page.contains("Servicekonto Land B"), "{page}");
    let txn = form_value(&page, "txn").unwrap();
    let (status, location) = browser.submit("/login/land/abort", &[("txn", &txn), ("reason", "level")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let back = url::Url::parse(location.strip_prefix("redirect:").unwrap()).unwrap();
    let param = |k: &str| back.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    assert_eq!(param("error").as_deref(), Some("unmet_authentication_requirements"));
    assert_eq!(param("state").as_deref(), Some("st-1"));
    assert!(param("code").is_none());
}

#[tokio::test]
async fn r_fed_4_a_partner_asks_every_time_lets_optional_data_go_and_opens_no_session() {
    let lands = two_lands(|_| {}).await;
    let ayse = lands.b.account("ayse@land-b.example", true).await;
    verified_by_eid(&lands.b, &ayse).await;
    let (service, secret) = interop_service(&lands.a, TrustLevel::Basic).await;
    let (browser, end) = via_land_with(
        &lands.a,
        &lands.b,
        "land-b",
        &service,
        "ayse@land-b.example",
        Consent::Allow,
        &["email", "address"],
    )
    .await;
    let partner_consent = browser
        .seen
        .iter()
        .find(|p| p.contains("attr_email"))
        .expect("the partner's consent");
    assert!(
        partner_consent.contains("type=\"checkbox\""),
        "optional attributes can be deselected"
    );
    assert!(partner_consent.contains("ayse@land-b.example"), "the values are shown");
    let home_consent = browser.seen.last().unwrap();
    assert!(
        !home_consent.contains("ayse@land-b.example"),
        "the deselected email never left Land B"
    );
    let (_, tokens) = redeem(&lands.a, &service, &secret, &end.code(), &[]).await;
    let (_, info) = lands.a.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert!(info.get("email").is_none() && info.get("address").is_none(), "{info}");
    assert_eq!(info["family_name"], "Mustermann");
    let verified = info["verified_claims"]["claims"].as_object().unwrap();
    assert!(verified.contains_key("family_name") && !verified.contains_key("address"), "{info}");
    // No lasting session at Land B: its pages ask for a login, and the next request from the
    // partner does too — even when the user is logged in at Land B directly.
    let at_b = browser.on(&lands.b.issuer);
    let (status, location) = at_b.page("/profile").await;
    assert!(status.is_redirection() && location.contains("/login"), "{location}");
    at_b.login("ayse@land-b.example", PASSWORD).await;
    let (_, at_land, _) = pick_land(&lands.a, &service, "land-b", &[]).await;
    let mut again = at_b.on(&lands.b.issuer);
    match again.walk(&at_land, None, Consent::Allow).await {
        End::Page(StatusCode::OK, page) => assert!(page.contains("name=\"password\""), "a new login"),
        other => panic!("single sign-on into a partner: {other:?}"),
    }
    // The direct session at Land B is untouched by the partner's transactions.
    let (status, _) = at_b.page("/profile").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn r_fed_4_per_transaction_data_is_purged_within_7_days() {
    let lands = two_lands(|_| {}).await;
    let ayse = lands.b.account("ayse@land-b.example", true).await;
    let (service, secret) = interop_service(&lands.a, TrustLevel::Basic).await;
    let (_, end) = via_land(&lands.a, &lands.b, "land-b", &service, "ayse@land-b.example", Consent::Allow).await;
    let (_, tokens) = redeem(&lands.a, &service, &secret, &end.code(), &[]).await;
    // Land B also serves a service of its own to the same citizen.
    let (own, own_secret) = lands.b.client(ClientSpec::default()).await;
    let mut direct = lands.b.browser();
    let code = login_code(&lands.b, &mut direct, &own, "ayse@land-b.example", &[]).await;
    redeem(&lands.b, &own, &own_secret.unwrap(), &code, &[]).await;
    let now = servicekonto::clock::now();
    let clients = || async {
        let mut c: Vec<String> = lands
            .b
            .state
            .store
            .grant_sessions(&ayse.id, None, now)
            .await
            .unwrap()
            .into_iter()
            .map(|(c, _)| c.to_string())
            .collect();
        c.sort();
        c
    };
    let mut expected = vec!["land-a".to_string(), own.clone()];
    expected.sort();
    assert_eq!(clients().await, expected, "Land A's transfer is on record at Land B");
    servicekonto::server::purge(&lands.b.state.store, 365, now + 7 * 86_400 - 60).await;
    assert_eq!(clients().await, expected, "kept within the 7 days");
    servicekonto::server::purge(&lands.b.state.store, 365, now + 7 * 86_400 + 1).await;
    assert_eq!(
        clients().await,
        vec![own],
        "the partner's record is gone after 7 days, the service's own grant stays"
    );
    // At Land A the released claims live only as long as the access token.
    let fid = jwt_claims(tokens["access_token"].as_str().unwrap())["fid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(lands.a.state.store.federated_login(&fid, now).await.unwrap().is_some());
    servicekonto::server::purge(&lands.a.state.store, 365, now + 301).await;
    assert!(lands.a.state.store.federated_login(&fid, now).await.unwrap().is_none());
}

#[tokio::test]
async fn r_fed_1_declining_consent_sends_access_denied_and_keeps_nothing() {
    let lands = two_lands(|_| {}).await;
    lands.b.account("ayse@land-b.example", true).await;
    let (service, _) = interop_service(&lands.a, TrustLevel::Basic).await;
    // Declined at home, after the Land's answer.
    let (_, end) = via_land(&lands.a, &lands.b, "land-b", &service, "ayse@land-b.example", Consent::Deny).await;
    assert_eq!(end.param("error").as_deref(), Some("access_denied"));
    assert!(end.param("code").is_none());
    // Declined at the Land: the page explains, and the way back tells the service.
    let (browser, at_land, _) = pick_land(&lands.a, &service, "land-b", &[]).await;
    let mut there = browser.on(&lands.b.issuer);
    let End::Client(back) = there.walk(&at_land, Some(("ayse@land-b.example", PASSWORD)), Consent::Deny).await else {
        panic!()
    };
    let (status, page) = browser.page(back.as_str()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("abgelehnt"), "{page}");
    let txn = form_value(&page, "txn").unwrap();
    let (_, location) = browser.submit("/login/land/abort", &[("txn", &txn), ("reason", "cancel")]).await;
    assert!(location.contains("error=access_denied"), "{location}");
    // Land B has on record only the transfer the user agreed to there; Land A kept nothing
    // (a purge of everything, however old, finds no row: no grant, no federated login).
    let ayse = lands.b.state.store.account_by_email("ayse@land-b.example").await.unwrap().unwrap();
    let now = servicekonto::clock::now();
    assert_eq!(lands.b.state.store.grant_sessions(&ayse.id, None, now).await.unwrap().len(), 1);
    assert_eq!(lands.a.state.store.purge_expired(now + 3650 * 86_400, 0).await.unwrap(), 0);
}

#[tokio::test]
async fn r_fed_3_a_forged_id_token_and_a_mixed_up_answer_are_refused() {
    let mut sim = None;
    let lands = two_lands(|c| {
        let (started, issuer) = Sim::start_for("land-x", "127.0.0.1", &c.issuer, &[]);
        let mut x = Sim::upstream(&issuer);
        x.id = "land-x".into();
        x.kind = UpstreamKind::Land;
        x.display_name = "Servicekonto Land X".into();
        c.upstream.push(x);
        sim = Some(started);
    })
    .await;
    let (service, _) = interop_service(&lands.a, TrustLevel::Basic).await;
    // Land X signs its ID token with a key that is not in its JWKS.
    let (browser, at_x, _) = pick_land(&lands.a, &service, "land-x", &[]).await;
    let back = browser
        .at_sim(
            &at_x,
            AtSim {
                fault: "wrong_signature",
                ..AtSim::default()
            },
        )
        .await;
    let (status, page) = browser.page(&back).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Signatur"), "{page}");
    // Mix-up: the user chose Land B; an answer from Land X arrives at Land B's callback.
    let (browser, at_b, _) = pick_land(&lands.a, &service, "land-b", &[]).await;
    let b_state = url::Url::parse(&at_b)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let (_, at_x, _) = pick_land(&lands.a, &service, "land-x", &[]).await;
    let x_answer = url::Url::parse(&browser.at_sim(&at_x, AtSim::default()).await).unwrap();
    let x_code = x_answer.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let x_iss = x_answer.query_pairs().find(|(k, _)| k == "iss").unwrap().1.into_owned();
    let mut forged = url::Url::parse(&lands.a.url("/upstream/land-b/callback")).unwrap();
    forged
        .query_pairs_mut()
        .append_pair("code", &x_code)
        .append_pair("state", &b_state)
        .append_pair("iss", &x_iss);
    let (status, page) = browser.page(forged.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("nicht von dem Anmeldedienst"), "RFC 9207 iss: {page}");
    // And Land B's own answer (state) delivered at Land X's callback.
    let (browser, at_b, _) = pick_land(&lands.a, &service, "land-b", &[]).await;
    let mut there = browser.on(&lands.b.issuer);
    lands.b.account("ayse@land-b.example", false).await;
    let End::Client(back) = there.walk(&at_b, Some(("ayse@land-b.example", PASSWORD)), Consent::Allow).await else {
        panic!()
    };
    let swapped = back.as_str().replace("/upstream/land-b/", "/upstream/land-x/");
    let (status, page) = browser.page(&swapped).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("nicht von dem Anmeldedienst"), "{page}");
    drop(sim);
}

#[tokio::test]
async fn r_fed_5_a_land_that_cannot_be_reached_is_shown_unavailable() {
    let lands = two_lands(|c| {
        let mut down = land("land-down", "Servicekonto Land Z", "http://127.0.0.1:9", "land-a");
        down.logo_text = Some("Z".into());
        c.upstream.push(down);
    })
    .await;
    let (service, _) = interop_service(&lands.a, TrustLevel::Basic).await;
    let mut browser = lands.a.browser();
    let End::Page(_, login) = browser.walk(&authorize_url(&lands.a, &service, &[]), None, Consent::Allow).await else {
        panic!()
    };
    let txn = form_value(&login, "txn").unwrap();
    let (status, list) = browser.page(&format!("/login/land?txn={txn}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("Servicekonto Land B") && list.contains("Servicekonto Land Z"));
    assert!(list.contains("/upstream/land-b/start"));
    assert!(!list.contains("/upstream/land-down/start"), "no way into a Land that is down");
    assert!(list.contains("nicht erreichbar"));
    assert!(list.contains(">Z<") && list.contains(">SLB<"), "logo texts");
}

#[tokio::test]
async fn r_fed_3_a_local_login_after_choosing_a_land_replaces_the_lands_identity() {
    let lands = two_lands(|_| {}).await;
    lands.b.account("ayse@land-b.example", false).await;
    lands.a.account("erika@land-a.example", false).await;
    let (service, secret) = interop_service(&lands.a, TrustLevel::Basic).await;
    let (mut browser, at_land, txn) = pick_land(&lands.a, &service, "land-b", &[]).await;
    let mut there = browser.on(&lands.b.issuer);
    let End::Client(back) = there.walk(&at_land, Some(("ayse@land-b.example", PASSWORD)), Consent::Allow).await else {
        panic!()
    };
    // Back at A with Land B's identity: the consent would pass it on, but the user goes back to
    // the login page and logs in with an account of Land A instead.
    let (_, to_resume) = browser.page(back.as_str()).await;
    let (_, to_consent) = browser.page(to_resume.strip_prefix("redirect:").unwrap()).await;
    assert!(to_consent.contains("/consent?txn="), "{to_consent}");
    let end = browser
        .walk(
            &lands.a.url(&format!("/login?txn={txn}")),
            Some(("erika@land-a.example", PASSWORD)),
            Consent::Allow,
        )
        .await;
    let (_, tokens) = redeem(&lands.a, &service, &secret, &end.code(), &[]).await;
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    let (_, info) = lands.a.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], "erika@land-a.example");
}
