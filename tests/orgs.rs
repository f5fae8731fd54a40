//! Organisations (Servicekonto Business): registration by an operator, what administrators may
//! touch, who may use which service, and the claims that reach the service (PRODUCT §7).

use proptest::prelude::*;
use reqwest::StatusCode;
use servicekonto::accounts::{Account, AccountKind};
use servicekonto::clients::{Admits, Client, Offer};
use servicekonto::ids::{AccountId, ClientId, GroupId, OrgId};
use servicekonto::orgs::{self, Admin, NewOrganisation, OrgError, OrgRole};
use servicekonto::secret::Secret;

use crate::support::*;

/// An organisation registered as `org add` does, with its administrator `admin@<slug>.example`.
async fn organisation(app: &TestApp, slug: &str) -> (OrgId, Account) {
    let new = NewOrganisation {
        name: format!("{slug} GmbH"),
        trade_register: Some("HRB 12345".into()),
        address: None,
        po_box: None,
        admin_email: format!("admin@{slug}.example"),
        admin_password: Secret::new(PASSWORD.into()),
        admin_given_name: "Ada".into(),
        admin_family_name: "Admin".into(),
        admin_phone: "+49 221 1234".into(),
    };
    let (org, admin) = orgs::create(&app.state.store, &app.state.hasher, new, servicekonto::clock::now())
        .await
        .unwrap();
    (org.id, admin)
}

/// A service for organisations with `roles`; its id, secret and stored form.
async fn org_service(app: &TestApp, roles: &[&str], requires_approval: bool) -> (String, String, Client) {
    let (id, secret) = app
        .client(ClientSpec {
            offer: Offer {
                admits: Admits::Organisation,
                requires_approval,
                roles: roles.iter().map(|r| r.to_string()).collect(),
                ..Offer::default()
            },
            ..ClientSpec::default()
        })
        .await;
    let client = app.state.store.client(&ClientId::from(id.as_str())).await.unwrap().unwrap();
    (id, secret.unwrap(), client)
}

fn roles(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

/// Logs `email` in at `client_id` through the pages: the code, or the page it ended on.
async fn try_login(app: &TestApp, client_id: &str, email: &str) -> End {
    app.browser()
        .walk(&authorize_url(app, client_id, &[]), Some((email, PASSWORD)), Consent::Allow)
        .await
}

#[tokio::test]
async fn r_org_10_an_employee_gets_org_id_org_name_and_the_roles_for_that_service_only_in_id_token_and_userinfo() {
    let app = TestApp::start().await;
    let (org, _) = organisation(&app, "firma").await;
    let admin = Admin::operator(org.clone());
    let (a_id, a_secret, a) = org_service(&app, &["sachbearbeitung", "leitung", "lesen"], false).await;
    let (b_id, b_secret, b) = org_service(&app, &["x"], false).await;
    let emil = app.employee(&org, "emil@firma.example").await;
    let store = &app.state.store;
    let now = servicekonto::clock::now();
    for c in [&a, &b] {
        orgs::subscribe(store, &admin, c, now).await.unwrap();
    }
    orgs::grant(store, &admin, &emil.id, &a, &roles(&["leitung"])).await.unwrap();
    let group = orgs::create_group(store, &admin, "Gewerbeamt", Some("Team"), now).await.unwrap();
    orgs::add_member(store, &admin, &group.id, &emil.id).await.unwrap();
    orgs::grant_to_group(store, &admin, &group.id, &a, &roles(&["sachbearbeitung", "leitung"]))
        .await
        .unwrap();
    orgs::grant_to_group(store, &admin, &group.id, &b, &roles(&[])).await.unwrap();

    let code = try_login(&app, &a_id, "emil@firma.example").await.code();
    let (status, tokens) = redeem(&app, &a_id, &a_secret, &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["org_id"], org.as_str());
    assert_eq!(id["org_name"], "firma GmbH");
    assert_eq!(
        id["service_roles"],
        serde_json::json!(["sachbearbeitung", "leitung"]),
        "the union, in the service's order"
    );
    let (status, info) = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((&info["org_id"], &info["service_roles"]), (&id["org_id"], &id["service_roles"]));

    let code = try_login(&app, &b_id, "emil@firma.example").await.code();
    let (_, tokens) = redeem(&app, &b_id, &b_secret, &code, &[]).await;
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["service_roles"], serde_json::json!([]), "granted without roles: an empty list");

    // Taken out of the group: the direct grant stays, with its roles only.
    orgs::remove_member(store, &admin, &group.id, &emil.id).await.unwrap();
    let (status, info) = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "service B came only through the group: {info}");
    let code = try_login(&app, &a_id, "emil@firma.example").await.code();
    let (_, tokens) = redeem(&app, &a_id, &a_secret, &code, &[]).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["service_roles"],
        serde_json::json!(["leitung"])
    );
    orgs::revoke(store, &admin, &emil.id, &a.id).await.unwrap();
    let (status, body) = app.refresh(&a_id, &a_secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );

    let (status, discovery) = app.browser().page("/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::OK);
    for claim in ["org_id", "org_name", "service_roles"] {
        assert!(discovery.contains(&format!("\"{claim}\"")), "{claim} in claims_supported");
    }
}

#[tokio::test]
async fn r_org_8_without_a_grant_or_as_an_administrator_while_the_switch_is_off_the_service_gets_access_denied() {
    let app = TestApp::start().await;
    let (org, ada) = organisation(&app, "amt").await;
    let admin = Admin::operator(org.clone());
    let (id, _, client) = org_service(&app, &["lesen"], false).await;
    let emil = app.employee(&org, "emil@amt.example").await;
    let store = &app.state.store;
    let now = servicekonto::clock::now();
    orgs::subscribe(store, &admin, &client, now).await.unwrap();

    let End::Page(status, html) = try_login(&app, &id, "emil@amt.example").await else {
        panic!("no page")
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("nicht freigegeben"), "{html}");
    assert!(html.contains("error=access_denied"), "the way back carries access_denied");

    orgs::grant(store, &admin, &ada.id, &client, &roles(&["lesen"])).await.unwrap();
    orgs::grant(store, &admin, &emil.id, &client, &roles(&[])).await.unwrap();
    assert!(try_login(&app, &id, "emil@amt.example").await.param("code").is_some());
    assert!(
        matches!(try_login(&app, &id, "admin@amt.example").await, End::Page(StatusCode::FORBIDDEN, _)),
        "administrators use services only while the switch is on"
    );
    orgs::set_admins_use_services(store, &admin, true, now).await.unwrap();
    assert!(try_login(&app, &id, "admin@amt.example").await.param("code").is_some());
    let group = orgs::create_group(store, &admin, "Alle", None, now).await.unwrap();
    orgs::add_member(store, &admin, &group.id, &ada.id).await.unwrap();
    orgs::grant_to_group(store, &admin, &group.id, &client, &roles(&["lesen"]))
        .await
        .unwrap();
    orgs::set_admins_use_services(store, &admin, false, now).await.unwrap();
    assert!(
        matches!(try_login(&app, &id, "admin@amt.example").await, End::Page(StatusCode::FORBIDDEN, _)),
        "group membership does not bypass the switch"
    );

    // A citizen's service cannot be subscribed; roles it does not define cannot be granted.
    let (citizen_id, _) = app.client(ClientSpec::default()).await;
    let citizens = app.state.store.client(&ClientId::from(citizen_id.as_str())).await.unwrap().unwrap();
    assert!(matches!(
        orgs::subscribe(store, &admin, &citizens, now).await,
        Err(OrgError::NotForOrganisations)
    ));
    assert!(matches!(
        orgs::grant(store, &admin, &emil.id, &client, &roles(&["chef"])).await,
        Err(OrgError::UnknownRole(r)) if r == "chef"
    ));
    assert!(matches!(
        orgs::subscribe(store, &admin, &client, now).await,
        Err(OrgError::AlreadySubscribed)
    ));
}

#[tokio::test]
async fn r_org_7_a_service_that_needs_approval_is_pending_and_cannot_be_granted_until_released() {
    let app = TestApp::start().await;
    let (org, _) = organisation(&app, "werk").await;
    let admin = Admin::operator(org.clone());
    let (id, _, client) = org_service(&app, &[], true).await;
    let emil = app.employee(&org, "emil@werk.example").await;
    let store = &app.state.store;
    let now = servicekonto::clock::now();
    let s = orgs::subscribe(store, &admin, &client, now).await.unwrap();
    assert_eq!((s.state, s.decided_at), (orgs::SubscriptionState::Pending, None));
    assert!(matches!(
        orgs::grant(store, &admin, &emil.id, &client, &[]).await,
        Err(OrgError::NotReleased)
    ));
    orgs::release(store, &org, &client.id, now).await.unwrap();
    assert!(
        matches!(orgs::release(store, &org, &client.id, now).await, Err(OrgError::NotFound)),
        "released once"
    );
    orgs::grant(store, &admin, &emil.id, &client, &[]).await.unwrap();
    assert!(try_login(&app, &id, "emil@werk.example").await.param("code").is_some());
    // Unsubscribing takes every grant with it.
    orgs::unsubscribe(store, &admin, &client.id).await.unwrap();
    assert!(matches!(
        try_login(&app, &id, "emil@werk.example").await,
        End::Page(StatusCode::FORBIDDEN, _)
    ));
    orgs::subscribe(store, &admin, &client, now).await.unwrap();
    orgs::release(store, &org, &client.id, now).await.unwrap();
    assert!(
        matches!(try_login(&app, &id, "emil@werk.example").await, End::Page(StatusCode::FORBIDDEN, _)),
        "a new subscription brings no old grant back"
    );
}

#[tokio::test]
async fn r_api_5_an_administrator_cannot_reach_another_organisations_users_groups_or_subscriptions() {
    let app = TestApp::start().await;
    let (mine, ada) = organisation(&app, "mine").await;
    let (theirs, bob) = organisation(&app, "theirs").await;
    let store = &app.state.store;
    let now = servicekonto::clock::now();
    let (_, _, client) = org_service(&app, &["r"], false).await;
    let their_admin = Admin::operator(theirs.clone());
    orgs::subscribe(store, &their_admin, &client, now).await.unwrap();
    let their_group = orgs::create_group(store, &their_admin, "Ihre", None, now).await.unwrap();
    let their_user = app.employee(&theirs, "eve@theirs.example").await;
    let my_user = app.employee(&mine, "emil@mine.example").await;

    // Only an administrator of that very organisation is one.
    let me = orgs::admin_of(store, &ada.id, &mine).await.unwrap();
    for (caller, org) in [
        (&ada.id, &theirs),
        (&bob.id, &mine),
        (&my_user.id, &mine),
        (&AccountId::from("nobody"), &mine),
    ] {
        assert!(
            matches!(orgs::admin_of(store, caller, org).await, Err(OrgError::NotFound)),
            "{caller} for {org}"
        );
    }
    orgs::subscribe(store, &me, &client, now).await.unwrap();
    let my_group = orgs::create_group(store, &me, "Meine", None, now).await.unwrap();
    let foreign_group = &their_group.id;
    let unknown_group = GroupId::from("unknown");
    for g in [foreign_group, &unknown_group] {
        assert!(matches!(
            orgs::add_member(store, &me, g, &my_user.id).await,
            Err(OrgError::NotFound)
        ));
        assert!(matches!(
            orgs::grant_to_group(store, &me, g, &client, &[]).await,
            Err(OrgError::NotFound)
        ));
        assert!(matches!(orgs::delete_group(store, &me, g).await, Err(OrgError::NotFound)));
    }
    for u in [&their_user.id, &bob.id, &AccountId::from("unknown")] {
        assert!(matches!(orgs::grant(store, &me, u, &client, &[]).await, Err(OrgError::NotFound)));
        assert!(matches!(
            orgs::add_member(store, &me, &my_group.id, u).await,
            Err(OrgError::NotFound)
        ));
        assert!(matches!(orgs::revoke(store, &me, u, &client.id).await, Err(OrgError::NotFound)));
    }
    assert!(store.group(&their_group.id).await.unwrap().is_some(), "nothing of theirs changed");
    assert!(matches!(orgs::access(store, &their_user.id, &client).await, Ok(None)));
}

#[tokio::test]
async fn r_org_1_r_org_3_org_add_refuses_bad_data_and_nothing_is_stored() {
    let app = TestApp::start().await;
    let base = || NewOrganisation {
        name: "Gut GmbH".into(),
        trade_register: None,
        address: None,
        po_box: None,
        admin_email: "chef@gut.example".into(),
        admin_password: Secret::new(PASSWORD.into()),
        admin_given_name: "Ada".into(),
        admin_family_name: "Admin".into(),
        admin_phone: "0221 1234".into(),
    };
    let cases: Vec<NewOrganisation> = vec![
        NewOrganisation {
            name: "Böse <GmbH>".into(),
            ..base()
        },
        NewOrganisation {
            name: "x".repeat(41),
            ..base()
        },
        NewOrganisation {
            admin_email: "chef@güt.example".into(),
            ..base()
        },
        NewOrganisation {
            admin_password: Secret::new("kurz".into()),
            ..base()
        },
        NewOrganisation {
            admin_phone: "".into(),
            ..base()
        },
        NewOrganisation {
            admin_phone: "ruf mich an".into(),
            ..base()
        },
        NewOrganisation {
            po_box: Some("12".into()),
            ..base()
        },
    ];
    for new in cases {
        let name = new.name.clone();
        assert!(
            orgs::create(&app.state.store, &app.state.hasher, new, servicekonto::clock::now())
                .await
                .is_err(),
            "{name}"
        );
    }
    assert!(app.state.store.account_by_email("chef@gut.example").await.unwrap().is_none());
    orgs::create(&app.state.store, &app.state.hasher, base(), servicekonto::clock::now())
        .await
        .unwrap();
    let taken = orgs::create(
        &app.state.store,
        &app.state.hasher,
        NewOrganisation {
            name: "Zweite".into(),
            ..base()
        },
        servicekonto::clock::now(),
    )
    .await;
    assert!(
        matches!(taken, Err(OrgError::Account(servicekonto::accounts::AccountError::EmailTaken))),
        "{taken:?}"
    );
}

/// One step of the property test: what an administrator does to permissions (R-ORG-7…9).
#[derive(Debug, Clone)]
enum Op {
    Grant(usize, usize, Vec<usize>),
    Revoke(usize, usize),
    AddMember(usize, usize),
    RemoveMember(usize, usize),
    GroupGrant(usize, usize, Vec<usize>),
    GroupRevoke(usize, usize),
    DeleteGroup(usize),
    NewGroup,
    Unsubscribe(usize),
    Subscribe(usize),
    Switch(bool),
}

const USERS: usize = 3;
const SERVICES: usize = 2;
const ROLES: &[&str] = &["a", "b", "c"];

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    let service = 0..SERVICES;
    let group = 0..3usize;
    let roles = proptest::collection::vec(0..ROLES.len(), 0..3);
    prop_oneof![
        (user.clone(), service.clone(), roles.clone()).prop_map(|(u, s, r)| Op::Grant(u, s, r)),
        (user.clone(), service.clone()).prop_map(|(u, s)| Op::Revoke(u, s)),
        (group.clone(), user.clone()).prop_map(|(g, u)| Op::AddMember(g, u)),
        (group.clone(), user).prop_map(|(g, u)| Op::RemoveMember(g, u)),
        (group.clone(), service.clone(), roles).prop_map(|(g, s, r)| Op::GroupGrant(g, s, r)),
        (group.clone(), service.clone()).prop_map(|(g, s)| Op::GroupRevoke(g, s)),
        group.prop_map(Op::DeleteGroup),
        Just(Op::NewGroup),
        service.clone().prop_map(Op::Unsubscribe),
        service.prop_map(Op::Subscribe),
        any::<bool>().prop_map(Op::Switch),
    ]
}

/// A group in the model: its members and its services with their roles.
type ModelGroup = (std::collections::BTreeSet<usize>, std::collections::BTreeMap<usize, Vec<usize>>);

/// The rules of R-ORG-7…9 as plain data: what the implementation must agree with.
#[derive(Default)]
struct Model {
    subscribed: [bool; SERVICES],
    switch: bool,
    direct: std::collections::BTreeMap<(usize, usize), Vec<usize>>,
    /// `None` once deleted.
    groups: Vec<Option<ModelGroup>>,
}

impl Model {
    /// The roles user `u` has at service `s`, or `None` if they may not use it. User 0 is the
    /// administrator.
    fn access(&self, u: usize, s: usize) -> Option<Vec<String>> {
        if !self.subscribed[s] || (u == 0 && !self.switch) {
            return None;
        }
        let mut grants: Vec<&Vec<usize>> = self.direct.get(&(u, s)).into_iter().collect();
        for (members, services) in self.groups.iter().flatten() {
            if members.contains(&u)
                && let Some(r) = services.get(&s)
            {
                grants.push(r);
            }
        }
        if grants.is_empty() {
            return None;
        }
        let all: std::collections::BTreeSet<usize> = grants.into_iter().flatten().copied().collect();
        Some(all.into_iter().map(|i| ROLES[i].to_string()).collect())
    }
}

fn distinct(r: &[usize]) -> Vec<String> {
    let set: std::collections::BTreeSet<usize> = r.iter().copied().collect();
    set.into_iter().map(|i| ROLES[i].to_string()).collect()
}

#[test]
fn r_org_8_r_org_9_effective_permissions_follow_a_reference_model_through_random_operations() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let app = rt.block_on(TestApp::start());
    let services: Vec<Client> = rt.block_on(async {
        let mut out = vec![];
        for _ in 0..SERVICES {
            out.push(org_service(&app, ROLES, false).await.2);
        }
        out
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(24)
        .min(64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..25), |ops| {
        rt.block_on(async {
            let store = &app.state.store;
            let now = servicekonto::clock::now();
            let (org, admin_account) = organisation(
                &app,
                &format!("p{}", servicekonto::secret::random_token(6).to_lowercase().replace(['_', '-'], "x")),
            )
            .await;
            let admin = Admin::operator(org.clone());
            let mut users: Vec<AccountId> = vec![admin_account.id.clone()];
            for i in 1..USERS {
                let email = format!("u{i}-{}@prop.example", servicekonto::secret::random_token(6).to_lowercase());
                let hash = Secret::new("unused".to_string());
                let account = Account {
                    kind: AccountKind::Organisation,
                    ..Account::citizen(email, hash, "U".into(), "U".into(), now)
                };
                store.insert_org_user(&account, &org, OrgRole::Employee).await.unwrap();
                users.push(account.id);
            }
            let mut model = Model::default();
            let mut groups: Vec<GroupId> = vec![];
            for (s, service) in services.iter().enumerate() {
                orgs::subscribe(store, &admin, service, now).await.unwrap();
                model.subscribed[s] = true;
            }
            for _ in 0..2 {
                groups.push(orgs::create_group(store, &admin, "G", None, now).await.unwrap().id);
                model.groups.push(Some(Default::default()));
            }
            for op in &ops {
                let live = |g: usize| model.groups.get(g).is_some_and(Option::is_some);
                match op.clone() {
                    Op::Grant(u, s, r) => {
                        let done = orgs::grant(store, &admin, &users[u], &services[s], &distinct(&r)).await;
                        prop_assert_eq!(done.is_ok(), model.subscribed[s], "grant {:?}", done);
                        if model.subscribed[s] {
                            model.direct.insert((u, s), r);
                        }
                    }
                    Op::Revoke(u, s) => {
                        let done = orgs::revoke(store, &admin, &users[u], &services[s].id).await;
                        prop_assert_eq!(done.is_ok(), model.direct.remove(&(u, s)).is_some());
                    }
                    Op::AddMember(g, u) => {
                        let Some(id) = groups.get(g) else { continue };
                        let done = orgs::add_member(store, &admin, id, &users[u]).await;
                        prop_assert_eq!(done.is_ok(), live(g));
                        if let Some(Some((members, _))) = model.groups.get_mut(g) {
                            members.insert(u);
                        }
                    }
                    Op::RemoveMember(g, u) => {
                        let Some(id) = groups.get(g) else { continue };
                        let done = orgs::remove_member(store, &admin, id, &users[u]).await;
                        let was = match model.groups.get_mut(g) {
                            Some(Some((members, _))) => members.remove(&u),
                            _ => false,
                        };
                        prop_assert_eq!(done.is_ok(), was);
                    }
                    Op::GroupGrant(g, s, r) => {
                        let Some(id) = groups.get(g) else { continue };
                        let done = orgs::grant_to_group(store, &admin, id, &services[s], &distinct(&r)).await;
                        prop_assert_eq!(done.is_ok(), live(g) && model.subscribed[s]);
                        if model.subscribed[s]
                            && let Some(Some((_, svc))) = model.groups.get_mut(g)
                        {
                            svc.insert(s, r);
                        }
                    }
                    Op::GroupRevoke(g, s) => {
                        let Some(id) = groups.get(g) else { continue };
                        let done = orgs::revoke_from_group(store, &admin, id, &services[s].id).await;
                        let was = match model.groups.get_mut(g) {
                            Some(Some((_, svc))) => svc.remove(&s).is_some(),
                            _ => false,
                        };
                        prop_assert_eq!(done.is_ok(), was);
                    }
                    Op::DeleteGroup(g) => {
                        let Some(id) = groups.get(g) else { continue };
                        let done = orgs::delete_group(store, &admin, id).await;
                        prop_assert_eq!(done.is_ok(), live(g));
                        model.groups[g] = None;
                    }
                    Op::NewGroup => {
                        groups.push(orgs::create_group(store, &admin, "N", None, now).await.unwrap().id);
                        model.groups.push(Some(Default::default()));
                    }
                    Op::Unsubscribe(s) => {
                        let done = orgs::unsubscribe(store, &admin, &services[s].id).await;
                        prop_assert_eq!(done.is_ok(), model.subscribed[s]);
                        model.subscribed[s] = false;
                        model.direct.retain(|(_, ds), _| *ds != s);
                        for (_, svc) in model.groups.iter_mut().flatten() {
                            svc.remove(&s);
                        }
                    }
                    Op::Subscribe(s) => {
                        let done = orgs::subscribe(store, &admin, &services[s], now).await;
                        prop_assert_eq!(done.is_ok(), !model.subscribed[s]);
                        model.subscribed[s] = true;
                    }
                    Op::Switch(on) => {
                        orgs::set_admins_use_services(store, &admin, on, now).await.unwrap();
                        model.switch = on;
                    }
                }
                for (u, user) in users.iter().enumerate() {
                    for (s, service) in services.iter().enumerate() {
                        let got = orgs::access(store, user, service).await.unwrap().map(|a| a.roles);
                        prop_assert_eq!(got, model.access(u, s), "user {} at service {} after {:?}", u, s, op);
                    }
                }
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[tokio::test]
async fn r_org_5_the_last_administrator_cannot_delete_their_account_and_nothing_changes() {
    let app = TestApp::start().await;
    let (org, ada) = organisation(&app, "solo").await;
    let browser = app.browser();
    browser.login("admin@solo.example", PASSWORD).await;
    let (status, body) = browser
        .submit("/profile/delete", &[("confirm", "yes"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("einzige Administratorin"), "{body}");
    assert!(app.state.store.account(&ada.id).await.unwrap().is_some());
    assert!(browser.page("/profile").await.0.is_success(), "still logged in: nothing was ended");

    // With a second administrator, the first may go.
    let hash = app.state.hasher.hash(Secret::new(PASSWORD.into())).await.unwrap();
    let second = Account {
        kind: AccountKind::Organisation,
        ..Account::citizen(
            "zweite@solo.example".into(),
            hash,
            "Zoe".into(),
            "Zweite".into(),
            servicekonto::clock::now(),
        )
    };
    app.state.store.insert_org_user(&second, &org, OrgRole::Admin).await.unwrap();
    let (status, body) = browser
        .submit("/profile/delete", &[("confirm", "yes"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(app.state.store.account(&ada.id).await.unwrap().is_none());
    assert!(app.state.store.is_last_admin(&second.id).await.unwrap());
    assert!(matches!(
        app.state.store.delete_account(&second.id).await,
        Err(servicekonto::store::StoreError::Conflict(_))
    ));
}

/// The data of step 1 of the organisation's registration.
const ORG_DATA: &[(&str, &str)] = &[
    ("name", "Tischlerei Span GmbH"),
    ("trade_register", "HRB 4711"),
    ("street", "Holzweg"),
    ("house_number", "12a-c"),
    ("postal_code", "50667"),
    ("city", "Köln"),
    ("po_box", ""),
];

/// Step 2 with `email`.
fn admin_step(email: &str) -> Vec<(&str, &str)> {
    vec![
        ("given_name", "Sina"),
        ("family_name", "Span"),
        ("birthdate", "1980-05-17"),
        ("phone_number", "+49 221 1234"),
        ("email", email),
        ("password", PASSWORD),
        ("password_repeat", PASSWORD),
    ]
}

#[tokio::test]
async fn r_org_1_r_org_2_r_org_3_an_organisation_registers_in_four_steps_and_its_link_opens_it_with_its_services() {
    let app = TestApp::start().await;
    let (free_id, _, _) = org_service(&app, &[], false).await;
    let (approval_id, _, _) = org_service(&app, &["pruefung"], true).await;
    let browser = app.browser();

    // Step 1: every broken field is named next to itself, and nothing goes on.
    let (status, page) = browser.page("/register/organisation").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut bad = ORG_DATA.to_vec();
    bad[0] = ("name", "<Span> GmbH");
    bad[3] = ("house_number", "12 a");
    bad[6] = ("po_box", "12");
    let (status, page) = browser.submit("/register/organisation", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    for id in ["name-error", "house_number-error", "po_box-error"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}: {page}");
    }
    assert!(!page.contains("trade_register-error") && !page.contains("city-error"), "{page}");
    assert_eq!(
        browser.page("/register/organisation/admin").await.1,
        "redirect:/register/organisation",
        "step 2 waits for step 1"
    );
    let (status, next) = browser.submit("/register/organisation", ORG_DATA).await;
    assert_eq!(
        (status.is_redirection(), next.as_str()),
        (true, "redirect:/register/organisation/admin")
    );

    // Step 2: an umlaut in the email, a minor, a weak password — each at its field, no hash spent.
    let mut minor = admin_step("sina@spän.example");
    minor[2] = ("birthdate", "2015-01-01");
    minor[5] = ("password", "kurz");
    let (status, page) = browser.submit("/register/organisation/admin", &minor).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    for id in ["email-error", "birthdate-error", "password-error"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}: {page}");
    }
    let (_, next) = browser
        .submit("/register/organisation/admin", &admin_step("sina@span.example"))
        .await;
    assert_eq!(next, "redirect:/register/organisation/services");

    // Step 3: the services for organisations, each with what it needs.
    let (status, page) = browser.page("/register/organisation/services").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("service.{free_id}")) && page.contains(&format!("service.{approval_id}")),
        "{page}"
    );
    let (_, next) = browser
        .submit(
            "/register/organisation/services",
            &[
                (format!("service.{free_id}").as_str(), "yes"),
                (format!("service.{approval_id}").as_str(), "yes"),
                ("service.not-a-service", "yes"),
                ("action", "continue"),
            ],
        )
        .await;
    assert_eq!(next, "redirect:/register/organisation/summary");

    // Step 4: everything once more; without consent nothing happens.
    let (_, page) = browser.page("/register/organisation/summary").await;
    for shown in [
        "Tischlerei Span GmbH",
        "HRB 4711",
        "Holzweg 12a-c, 50667 Köln",
        "sina@span.example",
        "+49 221 1234",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let (status, page) = browser.submit("/register/organisation/summary", &[("action", "create")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    let (_, next) = browser
        .submit("/register/organisation/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    assert_eq!(next, "redirect:/register/sent");
    assert!(
        app.state.store.account_by_email("sina@span.example").await.unwrap().is_none(),
        "nothing before the link"
    );

    // The link, valid 24 hours, opens the organisation for whoever knows the password.
    let link = app.mail_link("sina@span.example", "/register/organisation/activate").await;
    let token = link.rsplit('=').next().unwrap().to_string();
    assert_eq!(
        browser.page(&format!("/register/activate?token={token}")).await.0,
        StatusCode::NOT_FOUND,
        "a citizen's activation page does not take it"
    );
    let (status, page) = browser.page(&format!("/register/organisation/activate?token={token}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.replace("&#x2F;", "/").contains(r#"action="/register/organisation/activate""#),
        "{page}"
    );
    let (status, _) = browser
        .submit(
            "/register/organisation/activate",
            &[("token", &token), ("password", "Falsch-2026!")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, page) = browser
        .submit("/register/organisation/activate", &[("token", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");

    let store = &app.state.store;
    let admin = store.account_by_email("sina@span.example").await.unwrap().unwrap();
    assert_eq!(admin.kind, AccountKind::Organisation);
    assert_eq!(
        (admin.birthdate.as_deref(), admin.phone_number.as_deref()),
        (Some("1980-05-17"), Some("+49 221 1234"))
    );
    let membership = store.membership(&admin.id).await.unwrap().unwrap();
    assert_eq!(membership.role, OrgRole::Admin);
    let org = store.organisation(&membership.org_id).await.unwrap().unwrap();
    assert_eq!(
        (org.name.as_str(), org.trade_register.as_deref()),
        ("Tischlerei Span GmbH", Some("HRB 4711"))
    );
    assert_eq!(org.address.as_ref().unwrap().house_number, "12a-c");
    let subs = store.subscriptions(&org.id).await.unwrap();
    let state_of = |id: &str| subs.iter().find(|s| s.client_id.as_str() == id).map(|s| s.state);
    assert_eq!(state_of(&free_id), Some(orgs::SubscriptionState::Released));
    assert_eq!(
        state_of(&approval_id),
        Some(orgs::SubscriptionState::Pending),
        "waits for the Leitstelle"
    );
    assert_eq!(subs.len(), 2);
    app.browser().login("sina@span.example", PASSWORD).await;
    assert_eq!(
        browser
            .submit("/register/organisation/activate", &[("token", &token), ("password", PASSWORD)])
            .await
            .0,
        StatusCode::NOT_FOUND,
        "the link works once"
    );
}

#[tokio::test]
async fn r_org_3_registering_an_organisation_with_a_taken_email_tells_nobody_but_the_owner() {
    let app = TestApp::start().await;
    app.account("vergeben@firma.example", false).await;
    let browser = app.browser();
    browser.submit("/register/organisation", ORG_DATA).await;
    browser
        .submit("/register/organisation/admin", &admin_step("vergeben@firma.example"))
        .await;
    browser.submit("/register/organisation/services", &[("action", "continue")]).await;
    let (_, next) = browser
        .submit("/register/organisation/summary", &[("action", "create"), ("consent", "yes")])
        .await;
    assert_eq!(next, "redirect:/register/sent", "the same answer as for a new address");
    let mails = app.wait_mails("vergeben@firma.example", 1).await;
    assert!(
        mails.iter().all(|m| !m.contains("/register/organisation/activate")),
        "no link: {mails:?}"
    );
    assert!(app.state.store.registration_for("vergeben@firma.example").await.unwrap().is_none());
}

#[tokio::test]
async fn r_org_4_r_org_5_r_org_7_r_org_11_an_administrator_runs_the_organisation_through_the_pages() {
    let app = TestApp::start().await;
    let (org, ada) = organisation(&app, "seiten").await;
    let (other, _) = organisation(&app, "fremd").await;
    let stranger = app.employee(&other, "fremd@fremd.example").await;
    let (svc_id, _, svc) = org_service(&app, &["sachbearbeitung"], false).await;
    let store = &app.state.store;

    // Only an administrator of the organisation gets the pages.
    app.account("buerger@example.de", false).await;
    let citizen = app.browser();
    citizen.login("buerger@example.de", PASSWORD).await;
    assert_eq!(citizen.page("/org/").await.0, StatusCode::NOT_FOUND);
    let employee = app.browser();
    employee.login("fremd@fremd.example", PASSWORD).await;
    assert_eq!(employee.page("/org/").await.0, StatusCode::NOT_FOUND);
    assert!(app.browser().page("/org/").await.1.starts_with("redirect:/login"), "log in first");

    let browser = app.browser();
    browser.login(&ada.email, PASSWORD).await;
    assert!(browser.page("/").await.1.contains("href=\"/org/\""), "the start page leads there");
    assert!(!employee.page("/").await.1.contains("href=\"/org/\""), "not for an employee");
    let (status, page) = browser.page("/org/").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("seiten GmbH") && page.contains(&ada.email), "{page}");

    // Every form refuses a missing CSRF token, and nothing changes.
    let ada_id = ada.id.to_string();
    for (path, fields) in [
        ("/org/switch", vec![("on", "yes")]),
        (
            "/org/users/new",
            vec![
                ("email", "x@seiten.example"),
                ("given_name", "X"),
                ("family_name", "Y"),
                ("role", "employee"),
            ],
        ),
        ("/org/users/delete", vec![("user_id", ada_id.as_str())]),
        ("/org/services/subscribe", vec![("client_id", svc_id.as_str())]),
        (
            "/org/services/unsubscribe",
            vec![("client_id", svc_id.as_str()), ("confirm", "yes")],
        ),
        ("/org/delete", vec![("confirm", "yes")]),
    ] {
        let res = browser.http.post(app.url(path)).form(&fields).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(store.organisation(&org).await.unwrap().is_some_and(|o| !o.admins_use_services));
    assert!(store.account_by_email("x@seiten.example").await.unwrap().is_none());
    assert!(store.subscriptions(&org).await.unwrap().is_empty());

    // Invite: each problem at its field, then the user with a 14-day link.
    let invite = |email: &'static str, role: &'static str, phone: &'static str| {
        vec![
            ("email", email),
            ("given_name", "Emil"),
            ("family_name", "Neu"),
            ("role", role),
            ("phone_number", phone),
        ]
    };
    let (status, page) = browser.submit("/org/users/new", &invite("emil@seiten.example", "admin", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"phone_number-error\""), "{page}");
    let (status, page) = browser
        .submit("/org/users/new", &invite("ämil@seiten.example", "employee", ""))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"email-error\""), "{page}");
    let (_, next) = browser
        .submit("/org/users/new", &invite("emil@seiten.example", "employee", ""))
        .await;
    assert_eq!(next, "redirect:/org/?done=invited");
    let emil = store.account_by_email("emil@seiten.example").await.unwrap().unwrap();
    assert_eq!(store.membership(&emil.id).await.unwrap().unwrap().org_id, org);
    assert!(!app.mail_link("emil@seiten.example", "/password/reset").await.is_empty());

    // Change a user (R-ORG-6): each problem at its field; an unused invitation moves with the email.
    let edit = format!("/org/users/{}", emil.id);
    assert_eq!(browser.page(&edit).await.0, StatusCode::OK);
    let fields = |email: &'static str, role: &'static str, phone: &'static str| {
        vec![
            ("email", email),
            ("given_name", "Emil"),
            ("family_name", "Neumann"),
            ("role", role),
            ("phone_number", phone),
        ]
    };
    let (status, page) = browser.submit(&edit, &fields("emil@seiten.example", "admin", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"phone_number-error\""), "{page}");
    let (status, page) = browser.submit(&edit, &fields("emil seiten.example", "employee", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"email-error\""), "{page}");
    let (_, next) = browser
        .submit(&edit, &fields("emil.neu@seiten.example", "employee", "0221 9"))
        .await;
    assert_eq!(next, format!("redirect:/org/users/{}?done=saved", emil.id));
    let moved = store.account(&emil.id).await.unwrap().unwrap();
    assert_eq!(
        (moved.email.as_str(), moved.family_name.as_str()),
        ("emil.neu@seiten.example", "Neumann")
    );
    assert!(!app.mail_link("emil.neu@seiten.example", "/password/reset").await.is_empty());
    let ada_edit = format!("/org/users/{}", ada.id);
    let (status, page) = browser
        .submit(
            &ada_edit,
            &[
                ("email", ada.email.as_str()),
                ("given_name", "Ada"),
                ("family_name", "Admin"),
                ("role", "employee"),
                ("phone_number", "0221 1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the last administrator stays one");
    assert!(page.contains("id=\"role-error\""), "{page}");
    assert_eq!(browser.page(&format!("/org/users/{}", stranger.id)).await.0, StatusCode::NOT_FOUND);

    // Subscribe, grant with a role, end the subscription only when confirmed.
    let (_, next) = browser.submit("/org/services/subscribe", &[("client_id", &svc_id)]).await;
    assert_eq!(next, "redirect:/org/?done=subscribed");
    let (status, page) = browser.page(&format!("/org/users/{}/services", emil.id)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("grant.{svc_id}")), "{page}");
    let (_, next) = browser
        .submit(
            &format!("/org/users/{}/services", emil.id),
            &[
                (format!("grant.{svc_id}").as_str(), "yes"),
                (format!("role.{svc_id}.sachbearbeitung").as_str(), "yes"),
            ],
        )
        .await;
    assert_eq!(next, "redirect:/org/?done=granted");
    let access = orgs::access(store, &emil.id, &svc).await.unwrap().unwrap();
    assert_eq!(access.roles, roles(&["sachbearbeitung"]));
    assert_eq!(
        browser.page(&format!("/org/users/{}/services", stranger.id)).await.0,
        StatusCode::NOT_FOUND,
        "another organisation's user"
    );
    // A second released service, never granted: leaving its box empty withdraws nothing.
    let (other_svc, _, _) = org_service(&app, &[], false).await;
    browser.submit("/org/services/subscribe", &[("client_id", &other_svc)]).await;
    let user_page = format!("/org/users/{}/services", emil.id);
    let grant_box = format!("grant.{svc_id}");
    let role_box = format!("role.{svc_id}.sachbearbeitung");
    let ticked = [(grant_box.as_str(), "yes"), (role_box.as_str(), "yes")];
    assert_eq!(browser.submit(&user_page, &ticked).await.1, "redirect:/org/?done=granted");

    // Groups (R-ORG-9): the service through a group instead of directly; taking it from the
    // group takes exactly what came through it.
    assert_eq!(browser.submit("/org/groups", &[("name", " ")]).await.0, StatusCode::BAD_REQUEST);
    let (_, next) = browser
        .submit("/org/groups", &[("name", "Sachbearbeitung"), ("description", "Anträge")])
        .await;
    let group_page = next.strip_prefix("redirect:").unwrap().to_string();
    assert!(group_page.starts_with("/org/groups/"), "{next}");
    let (status, page) = browser.page(&group_page).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("member.{}", emil.id)), "{page}");
    assert_eq!(browser.submit(&user_page, &[]).await.1, "redirect:/org/?done=granted");
    assert!(
        orgs::access(store, &emil.id, &svc).await.unwrap().is_none(),
        "the direct grant is gone"
    );
    let member_box = format!("member.{}", emil.id);
    let (_, next) = browser
        .submit(
            &group_page,
            &[(member_box.as_str(), "yes"), ticked[0], ticked[1], ("action", "save")],
        )
        .await;
    assert_eq!(next, "redirect:/org/?done=group_saved");
    assert_eq!(
        orgs::access(store, &emil.id, &svc).await.unwrap().unwrap().roles,
        roles(&["sachbearbeitung"])
    );
    let foreign_box = format!("member.{}", stranger.id);
    let (status, _) = browser
        .submit(
            &group_page,
            &[(member_box.as_str(), "yes"), (foreign_box.as_str(), "yes"), ("action", "save")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another organisation's user cannot join");
    let gid = GroupId::from(group_page.rsplit('/').next().unwrap());
    assert_eq!(store.group_members(&gid).await.unwrap(), vec![emil.id.clone()], "nothing changed");
    browser
        .submit(&group_page, &[(member_box.as_str(), "yes"), ("action", "save")])
        .await;
    assert!(
        orgs::access(store, &emil.id, &svc).await.unwrap().is_none(),
        "the group no longer gives it"
    );
    assert_eq!(
        browser.submit(&group_page, &[("action", "delete")]).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        browser.submit(&group_page, &[("action", "delete"), ("confirm", "yes")]).await.1,
        "redirect:/org/?done=group_deleted"
    );
    assert_eq!(browser.page(&group_page).await.0, StatusCode::NOT_FOUND);
    assert_eq!(browser.submit(&user_page, &ticked).await.1, "redirect:/org/?done=granted");

    let (status, _) = browser.submit("/org/services/unsubscribe", &[("client_id", &svc_id)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not without confirming");
    assert!(orgs::access(store, &emil.id, &svc).await.unwrap().is_some());
    let (_, next) = browser
        .submit("/org/services/unsubscribe", &[("client_id", &svc_id), ("confirm", "yes")])
        .await;
    assert_eq!(next, "redirect:/org/?done=unsubscribed");
    assert!(orgs::access(store, &emil.id, &svc).await.unwrap().is_none());

    // The switch for administrators.
    browser.submit("/org/switch", &[("on", "yes")]).await;
    assert!(store.organisation(&org).await.unwrap().unwrap().admins_use_services);

    // Deleting users: not the last administrator, not another organisation's user.
    assert_eq!(
        browser.submit("/org/users/delete", &[("user_id", &ada_id)]).await.0,
        StatusCode::CONFLICT
    );
    let stranger_id = stranger.id.to_string();
    assert_eq!(
        browser.submit("/org/users/delete", &[("user_id", &stranger_id)]).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(store.account(&stranger.id).await.unwrap().is_some());
    let emil_id = emil.id.to_string();
    assert_eq!(
        browser.submit("/org/users/delete", &[("user_id", &emil_id)]).await.1,
        "redirect:/org/?done=deleted"
    );
    assert!(store.account(&emil.id).await.unwrap().is_none());

    // Deleting the organisation: only when confirmed, then at once.
    assert_eq!(browser.page("/org/delete").await.0, StatusCode::OK);
    assert_eq!(browser.submit("/org/delete", &[]).await.0, StatusCode::BAD_REQUEST);
    assert!(store.organisation(&org).await.unwrap().is_some());
    let (status, page) = browser.submit("/org/delete", &[("confirm", "yes")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(store.organisation(&org).await.unwrap().is_none());
    assert!(store.account(&ada.id).await.unwrap().is_none());
    assert!(store.organisation(&other).await.unwrap().is_some());
}
