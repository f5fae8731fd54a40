//! The organisation administration API under `/api/v1/orgs/{org_id}` (R-ORG-4…9, R-API-3…5):
//! an administrator's token with the scope `org:admin` reaches their own organisation only.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH};
use serde_json::{Value, json};
use servicekonto::accounts::Account;
use servicekonto::clients::{Admits, Offer};
use servicekonto::ids::{ClientId, OrgId};
use servicekonto::orgs::{self, Admin, NewOrganisation, OrgRole};
use servicekonto::secret::Secret;

use crate::support::*;

/// An organisation with its administrator `admin@<slug>.example` and an administration tool the
/// administrator may use (a service for organisations like any other: subscribed, granted, and
/// the switch for administrators on); the administrator's token for the tool with `scope`.
async fn admin_with_token(app: &TestApp, slug: &str, scope: &str) -> (OrgId, Account, String) {
    let new = NewOrganisation {
        name: format!("{slug} AG"),
        trade_register: None,
        address: None,
        po_box: None,
        admin_email: format!("admin@{slug}.example"),
        admin_password: Secret::new(PASSWORD.into()),
        admin_given_name: "Ada".into(),
        admin_family_name: "Admin".into(),
        admin_phone: "+49 30 1234".into(),
    };
    let store = &app.state.store;
    let now = servicekonto::clock::now();
    let (org, admin) = orgs::create(store, &app.state.hasher, new, now).await.unwrap();
    let (tool_id, tool_secret) = app
        .client(ClientSpec {
            offer: Offer {
                admits: Admits::Organisation,
                ..Offer::default()
            },
            ..ClientSpec::default()
        })
        .await;
    let tool = store.client(&ClientId::from(tool_id.as_str())).await.unwrap().unwrap();
    let operator = Admin::operator(org.id.clone());
    orgs::subscribe(store, &operator, &tool, now).await.unwrap();
    orgs::set_admins_use_services(store, &operator, true, now).await.unwrap();
    orgs::grant(store, &operator, &admin.id, &tool, &[]).await.unwrap();
    let mut browser = app.browser();
    let code = login_code(app, &mut browser, &tool_id, &admin.email, &[("scope", scope)]).await;
    let (status, tokens) = redeem(app, &tool_id, &tool_secret.unwrap(), &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (org.id, admin, tokens["access_token"].as_str().unwrap().to_string())
}

/// Sends `method path` with `token` and an optional JSON body: the status, the body (or
/// `Null`), and the response's `ETag`.
async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value, Option<String>) {
    let mut req = app
        .http()
        .request(method.parse().unwrap(), app.url(&format!("/api/v1{path}")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    if !status.is_success() {
        assert_eq!(res.headers()[CONTENT_TYPE], "application/problem+json", "{method} {path}: {status}");
    }
    let etag = res.headers().get(ETAG).map(|v| v.to_str().unwrap().to_string());
    (status, res.json().await.unwrap_or(Value::Null), etag)
}

#[tokio::test]
async fn r_org_4_r_api_5_an_administrator_runs_groups_subscriptions_and_grants_and_nobody_else_sees_them() {
    let app = TestApp::start().await;
    let (org, ada, token) = admin_with_token(&app, "alpha", "openid org:admin").await;
    let (other_org, _bob, bob_token) = admin_with_token(&app, "beta", "openid org:admin").await;
    let emil = app.employee(&org, "emil@alpha.example").await;
    let eve = app.employee(&other_org, "eve@beta.example").await;
    let (svc_id, svc_secret) = app
        .client(ClientSpec {
            offer: Offer {
                admits: Admits::Organisation,
                roles: vec!["lesen".into(), "schreiben".into()],
                ..Offer::default()
            },
            ..ClientSpec::default()
        })
        .await;
    let (citizens_id, _) = app.client(ClientSpec::default()).await;
    let o = format!("/orgs/{org}");

    // The organisation, its ETag, and If-Match.
    let (status, body, etag) = call(&app, "GET", &o, &token, None).await;
    assert_eq!(
        (status, body["name"].as_str(), body["admins_use_services"].as_bool()),
        (StatusCode::OK, Some("alpha AG"), Some(true))
    );
    let etag = etag.expect("an ETag");
    let res = app
        .http()
        .patch(app.url(&format!("/api/v1{o}")))
        .bearer_auth(&token)
        .header(IF_MATCH, "\"stale\"")
        .json(&json!({ "name": "Alpha AG" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    let res = app
        .http()
        .patch(app.url(&format!("/api/v1{o}")))
        .bearer_auth(&token)
        .header(IF_MATCH, &etag)
        .json(&json!({ "name": "Alpha AG", "po_box": "123456" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, body, _) = call(&app, "PATCH", &o, &token, Some(json!({ "name": "<Alpha>" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _, _) = call(&app, "PATCH", &o, &token, Some(json!({ "colour": "blue" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");
    let (_, body, _) = call(&app, "GET", &o, &token, None).await;
    assert_eq!(
        (body["name"].as_str(), body["po_box"].as_str()),
        (Some("Alpha AG"), Some("123456")),
        "refused changes changed nothing"
    );

    // Subscriptions.
    let (status, sub, _) = call(&app, "POST", &format!("{o}/services"), &token, Some(json!({ "client_id": svc_id }))).await;
    assert_eq!(
        (status, sub["id"].as_str(), sub["state"].as_str()),
        (StatusCode::CREATED, Some(svc_id.as_str()), Some("released"))
    );
    let (status, _, _) = call(&app, "POST", &format!("{o}/services"), &token, Some(json!({ "client_id": svc_id }))).await;
    assert_eq!(status, StatusCode::CONFLICT, "subscribed already");
    let (status, _, _) = call(
        &app,
        "POST",
        &format!("{o}/services"),
        &token,
        Some(json!({ "client_id": citizens_id })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a citizens' service");
    let (status, _, _) = call(
        &app,
        "POST",
        &format!("{o}/services"),
        &token,
        Some(json!({ "client_id": "unknown" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list, _) = call(&app, "GET", &format!("{o}/services"), &token, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "the tool and the service: {list}");

    // Groups, members, and the group's services.
    let (status, group, _) = call(&app, "POST", &format!("{o}/groups"), &token, Some(json!({ "name": "Lesende" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let g = format!("{o}/groups/{}", group["id"].as_str().unwrap());
    call(&app, "POST", &format!("{o}/groups"), &token, Some(json!({ "name": "Zweite" }))).await;
    let (status, _, _) = call(&app, "POST", &format!("{o}/groups"), &token, Some(json!({ "name": "" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, first, _) = call(&app, "GET", &format!("{o}/groups?limit=1"), &token, None).await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second, _) = call(&app, "GET", &format!("{o}/groups?limit=1&cursor={cursor}"), &token, None).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second.get("next_cursor").is_none());
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);

    assert_eq!(
        call(&app, "PUT", &format!("{g}/members/{}", emil.id), &token, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, "PUT", &format!("{g}/members/{}", eve.id), &token, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body, _) = call(
        &app,
        "PUT",
        &format!("{g}/services/{svc_id}"),
        &token,
        Some(json!({ "roles": ["chef"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a role the service does not define: {body}");
    let (status, _, _) = call(
        &app,
        "PUT",
        &format!("{g}/services/{svc_id}"),
        &token,
        Some(json!({ "roles": ["a b"] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not a role's name");
    let (status, _, _) = call(
        &app,
        "PUT",
        &format!("{g}/services/{citizens_id}"),
        &token,
        Some(json!({ "roles": [] })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "not released for the organisation");
    let (status, _, _) = call(
        &app,
        "PUT",
        &format!("{g}/services/{svc_id}"),
        &token,
        Some(json!({ "roles": ["lesen"] })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, detail, _) = call(&app, "GET", &g, &token, None).await;
    assert_eq!(detail["members"], json!([emil.id.as_str()]));
    assert_eq!(detail["services"], json!([{ "client_id": svc_id, "roles": ["lesen"] }]));
    let (status, body, _) = call(
        &app,
        "PUT",
        &format!("{o}/users/{}/services/{svc_id}", emil.id),
        &token,
        Some(json!({ "roles": ["schreiben"] })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, user, _) = call(&app, "GET", &format!("{o}/users/{}", emil.id), &token, None).await;
    assert_eq!(
        (user["role"].as_str(), &user["services"]),
        (Some("employee"), &json!([{ "client_id": svc_id, "roles": ["schreiben"] }]))
    );
    let (_, users, _) = call(&app, "GET", &format!("{o}/users"), &token, None).await;
    let ids: Vec<&str> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&ada.id.as_str()) && ids.contains(&emil.id.as_str()) && !ids.contains(&eve.id.as_str()),
        "{users}"
    );

    // What reaches the service.
    let mut browser = app.browser();
    let code = login_code(&app, &mut browser, &svc_id, "emil@alpha.example", &[]).await;
    let (_, tokens) = redeem(&app, &svc_id, svc_secret.as_ref().unwrap(), &code, &[]).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["service_roles"],
        json!(["lesen", "schreiben"])
    );

    // Another organisation's administrator, an employee, a token without the scope.
    for path in [
        o.clone(),
        format!("{o}/users"),
        format!("{o}/groups"),
        g.clone(),
        format!("{o}/services"),
        format!("{o}/users/{}", emil.id),
    ] {
        assert_eq!(call(&app, "GET", &path, &bob_token, None).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(call(&app, "DELETE", &g, &bob_token, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/orgs/{other_org}/groups/{}", group["id"].as_str().unwrap()),
            &bob_token,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND,
        "a foreign group under one's own organisation"
    );
    let (_, _, no_scope) = admin_with_token(&app, "gamma", "openid").await;
    let (status, body, _) = call(&app, "GET", &o, &no_scope, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("insufficient_scope"))
    );

    // Removing: the group, then the direct grant, then the subscription.
    assert_eq!(call(&app, "DELETE", &g, &token, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, "GET", &g, &token, None).await.0, StatusCode::NOT_FOUND);
    let code = login_code(&app, &mut browser, &svc_id, "emil@alpha.example", &[]).await;
    let (_, tokens) = redeem(&app, &svc_id, svc_secret.as_ref().unwrap(), &code, &[]).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["service_roles"],
        json!(["schreiben"]),
        "the direct grant stays"
    );
    assert_eq!(
        call(&app, "DELETE", &format!("{o}/services/{svc_id}"), &token, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, "DELETE", &format!("{o}/services/{svc_id}"), &token, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, user, _) = call(&app, "GET", &format!("{o}/users/{}", emil.id), &token, None).await;
    assert_eq!(user["services"], json!([]), "unsubscribing took the grant");

    // A malformed body is a problem too.
    let res = app
        .http()
        .post(app.url(&format!("/api/v1{o}/groups")))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/problem+json");
}

#[tokio::test]
async fn r_org_8_an_administrator_without_the_tool_granted_gets_no_token_for_it() {
    let app = TestApp::start().await;
    let (org, ada, _) = admin_with_token(&app, "delta", "openid org:admin").await;
    let operator = Admin::operator(org.clone());
    orgs::set_admins_use_services(&app.state.store, &operator, false, servicekonto::clock::now())
        .await
        .unwrap();
    let (tool_id, _) = app
        .client(ClientSpec {
            offer: Offer {
                admits: Admits::Organisation,
                ..Offer::default()
            },
            ..ClientSpec::default()
        })
        .await;
    let end = app
        .browser()
        .walk(
            &authorize_url(&app, &tool_id, &[("scope", "openid org:admin")]),
            Some((&ada.email, PASSWORD)),
            Consent::Allow,
        )
        .await;
    assert!(matches!(end, End::Page(StatusCode::FORBIDDEN, _)), "{end:?}");
}

#[tokio::test]
async fn r_org_4_r_org_5_an_invited_user_sets_their_password_and_deleting_users_keeps_the_last_administrator() {
    use servicekonto::orgs::{NewOrgUser, OrgError};
    let app = TestApp::start().await;
    let (org, ada, token) = admin_with_token(&app, "epsilon", "openid org:admin").await;
    let (_, _, bob_token) = admin_with_token(&app, "zeta", "openid org:admin").await;
    let operator = Admin::operator(org.clone());
    let now = servicekonto::clock::now();
    let new = |email: &str, role: OrgRole, phone: Option<&str>| NewOrgUser {
        email: email.into(),
        given_name: "Neu".into(),
        family_name: "Person".into(),
        role,
        phone_number: phone.map(str::to_owned),
    };
    let env = app.state.account_env();
    let emil = orgs::invite(env, &operator, new("emil@epsilon.example", OrgRole::Employee, None), now)
        .await
        .unwrap();
    assert!(!emil.account.email_verified, "not activated yet");
    let idle = orgs::invite(env, &operator, new("idle@epsilon.example", OrgRole::Employee, None), now)
        .await
        .unwrap();
    for (bad, why) in [
        (
            new("zweite@epsilon.example", OrgRole::Admin, None),
            "an administrator without a phone number",
        ),
        (
            new("zwéite@epsilon.example", OrgRole::Admin, Some("0221 1")),
            "an administrator's email with a non-ASCII letter",
        ),
        (new("emil@epsilon.example", OrgRole::Employee, None), "a taken email"),
    ] {
        assert!(
            matches!(
                orgs::invite(env, &operator, bad, now).await,
                Err(OrgError::Account(_) | OrgError::Invalid(_) | OrgError::PhoneRequired)
            ),
            "{why}"
        );
    }

    // The invitation: a link, valid 14 days, to set one's own password.
    let link = app.mail_link("emil@epsilon.example", "/password/reset").await;
    let mail = app.mails_to("emil@epsilon.example").join("\n");
    assert!(mail.contains("epsilon AG") && mail.contains("14 Tage"), "{mail}");
    let (status, body) = app
        .browser()
        .submit(
            "/password/reset",
            &[
                ("token", link.rsplit('=').next().unwrap()),
                ("password", PASSWORD),
                ("password_repeat", PASSWORD),
            ],
        )
        .await;
    assert!(status.is_success() || status.is_redirection(), "{status} {body}");
    app.browser().login("emil@epsilon.example", PASSWORD).await;
    assert!(app.state.store.account(&emil.account.id).await.unwrap().unwrap().email_verified);

    // Unused invitations are purged after 14 days; activated users stay.
    let later = now + orgs::INVITE_SECONDS + 1;
    assert_eq!(orgs::purge_unactivated(&app.state.store, later).await.unwrap(), 1);
    assert!(app.state.store.account(&idle.account.id).await.unwrap().is_none());
    assert!(app.state.store.account(&emil.account.id).await.unwrap().is_some());

    // Deleting: never the last administrator; another organisation's administrator cannot.
    let o = format!("/orgs/{org}");
    assert_eq!(
        call(&app, "DELETE", &format!("{o}/users/{}", emil.account.id), &bob_token, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, body, _) = call(&app, "DELETE", &format!("{o}/users/{}", ada.id), &token, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        call(&app, "DELETE", &format!("{o}/users/{}", emil.account.id), &token, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert!(app.state.store.account(&emil.account.id).await.unwrap().is_none());
    let mails = app.wait_mails("emil@epsilon.example", 3).await;
    assert!(
        mails.iter().any(|m| m.contains("gel=C3=B6scht") || m.contains("gelöscht")),
        "the user is told: {mails:?}"
    );
    assert_eq!(
        call(&app, "DELETE", &format!("{o}/users/{}", emil.account.id), &token, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert!(app.state.store.account(&ada.id).await.unwrap().is_some());
}

/// The user ids of an organisation's users, by id.
async fn user_ids(app: &TestApp, org: &OrgId, token: &str) -> Vec<String> {
    let (status, page, _) = call(app, "GET", &format!("/orgs/{org}/users"), token, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn r_org_4_r_org_6_an_administrator_creates_users_and_changes_their_data_email_and_role_through_the_api() {
    let app = TestApp::start().await;
    let (org, ada, token) = admin_with_token(&app, "kappa", "openid org:admin").await;
    let (_, _, bob_token) = admin_with_token(&app, "lambda", "openid org:admin").await;
    let users = format!("/orgs/{org}/users");
    let employee = |email: &str| json!({"role": "employee", "email": email, "given_name": "Emma", "family_name": "Neu"});

    let (status, emma, _) = call(&app, "POST", &users, &token, Some(employee("Emma@Kappa.example"))).await;
    assert_eq!(status, StatusCode::CREATED, "{emma}");
    assert_eq!(
        (emma["email"].as_str(), emma["role"].as_str()),
        (Some("emma@kappa.example"), Some("employee"))
    );
    let emma_id = emma["id"].as_str().unwrap().to_string();
    assert!(user_ids(&app, &org, &token).await.contains(&emma_id));
    let first_link = app.mail_link("emma@kappa.example", "/password/reset").await;

    // Refused, and nothing stored: an administrator without a phone number, an email with an
    // umlaut, a taken email, another organisation's administrator.
    let before = user_ids(&app, &org, &token).await;
    let no_phone = json!({"role": "admin", "email": "chef@kappa.example", "given_name": "C", "family_name": "Chef"});
    for (body, want) in [
        (no_phone, StatusCode::UNPROCESSABLE_ENTITY),
        (employee("müller@kappa.example"), StatusCode::UNPROCESSABLE_ENTITY),
        (employee("emma@kappa.example"), StatusCode::CONFLICT),
        (employee(&ada.email), StatusCode::CONFLICT),
    ] {
        let (status, problem, _) = call(&app, "POST", &users, &token, Some(body.clone())).await;
        assert_eq!(status, want, "{body} {problem}");
    }
    assert_eq!(
        call(&app, "POST", &users, &bob_token, Some(employee("x@kappa.example"))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(user_ids(&app, &org, &token).await, before);

    // A mistyped address of an invitation not yet used: the invitation moves, the first link dies.
    let emma_path = format!("{users}/{emma_id}");
    let (status, moved, _) = call(&app, "PATCH", &emma_path, &token, Some(json!({"email": "emma.neu@kappa.example"}))).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["email"], "emma.neu@kappa.example");
    let link = app.mail_link("emma.neu@kappa.example", "/password/reset").await;
    assert_ne!(link, first_link);
    let set = |link: String| {
        let browser = app.browser();
        async move {
            browser
                .submit(
                    "/password/reset",
                    &[
                        ("token", link.rsplit('=').next().unwrap()),
                        ("password", PASSWORD),
                        ("password_repeat", PASSWORD),
                    ],
                )
                .await
        }
    };
    assert!(!set(first_link).await.0.is_success(), "the first link no longer works");
    let (status, body) = set(link).await;
    assert!(status.is_success() || status.is_redirection(), "{status} {body}");

    // The last activated administrator stays one; an administrator needs a phone number.
    let ada_path = format!("{users}/{}", ada.id);
    let (status, problem, _) = call(&app, "PATCH", &ada_path, &token, Some(json!({"role": "employee"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, problem, _) = call(&app, "PATCH", &emma_path, &token, Some(json!({"role": "admin"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, _, etag) = call(&app, "GET", &emma_path, &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let etag = etag.unwrap();
    let promote = json!({"role": "admin", "phone_number": "+49 30 5555", "family_name": "Neumann"});
    let res = app
        .http()
        .patch(app.url(&format!("/api/v1{emma_path}")))
        .bearer_auth(&token)
        .header(IF_MATCH, &etag)
        .json(&promote)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let promoted: Value = res.json().await.unwrap();
    assert_eq!(
        (
            promoted["role"].as_str(),
            promoted["family_name"].as_str(),
            promoted["phone_number"].as_str()
        ),
        (Some("admin"), Some("Neumann"), Some("+49 30 5555"))
    );
    let stale = app
        .http()
        .patch(app.url(&format!("/api/v1{emma_path}")))
        .bearer_auth(&token)
        .header(IF_MATCH, &etag)
        .json(&json!({"given_name": "Erna"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    // An activated user's new email is confirmed by the new address first (R-PRO-2 as for
    // citizens): the login name stays until then, the old address hears of it.
    let (status, asked, _) = call(&app, "PATCH", &emma_path, &token, Some(json!({"email": "emma@anderswo.example"}))).await;
    assert_eq!(
        (status, asked["email"].as_str()),
        (StatusCode::OK, Some("emma.neu@kappa.example")),
        "{asked}"
    );
    let confirm = app.mail_link("emma@anderswo.example", "/profile/email/confirm").await;
    assert!(!confirm.is_empty());
    assert!(
        app.wait_mails("emma.neu@kappa.example", 3)
            .await
            .iter()
            .any(|m| m.contains("emma@anderswo.example")),
        "the old address is told"
    );
    let stored = app
        .state
        .store
        .account(&servicekonto::ids::AccountId::from(emma_id.as_str()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.email.as_str(), stored.family_name.as_str()),
        ("emma.neu@kappa.example", "Neumann")
    );

    // With another administrator, Ada may become an employee, and then administers nothing.
    let (status, now_ada, _) = call(&app, "PATCH", &ada_path, &token, Some(json!({"role": "employee"}))).await;
    assert_eq!(
        (status, now_ada["role"].as_str()),
        (StatusCode::OK, Some("employee")),
        "another administrator exists now"
    );
    assert_eq!(
        call(&app, "PATCH", &emma_path, &bob_token, Some(json!({"given_name": "Eve"})))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(call(&app, "GET", &users, &token, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn r_org_11_deleting_the_organisation_deletes_every_user_at_once_and_tells_only_its_administrators() {
    let app = TestApp::start().await;
    let (org, ada, token) = admin_with_token(&app, "omega", "openid org:admin").await;
    let (other, bob, bob_token) = admin_with_token(&app, "sigma", "openid org:admin").await;
    let emil = app.employee(&org, "emil@omega.example").await;
    let invited = json!({"role": "admin", "email": "neu@omega.example", "given_name": "N", "family_name": "Neu", "phone_number": "030 1"});
    let (status, invited, _) = call(&app, "POST", &format!("/orgs/{org}/users"), &token, Some(invited)).await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    let (status, group, _) = call(&app, "POST", &format!("/orgs/{org}/groups"), &token, Some(json!({"name": "Alle"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");

    assert_eq!(
        call(&app, "DELETE", &format!("/orgs/{org}"), &bob_token, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(app.state.store.organisation(&org).await.unwrap().is_some());
    let (status, body, _) = call(&app, "DELETE", &format!("/orgs/{org}"), &token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let store = &app.state.store;
    assert!(store.organisation(&org).await.unwrap().is_none());
    for id in [
        ada.id.clone(),
        emil.id.clone(),
        servicekonto::ids::AccountId::from(invited["id"].as_str().unwrap()),
    ] {
        assert!(store.account(&id).await.unwrap().is_none(), "{id} is gone");
        assert!(store.membership(&id).await.unwrap().is_none());
    }
    let gid = servicekonto::ids::GroupId::from(group["id"].as_str().unwrap());
    assert!(store.group(&gid).await.unwrap().is_none());
    assert_eq!(
        call(&app, "GET", &format!("/orgs/{org}"), &token, None).await.0,
        StatusCode::UNAUTHORIZED,
        "the administrator's token ended with the account"
    );
    // The other organisation is untouched.
    assert!(store.organisation(&other).await.unwrap().is_some());
    assert!(store.account(&bob.id).await.unwrap().is_some());
    assert_eq!(
        call(&app, "GET", &format!("/orgs/{other}"), &bob_token, None).await.0,
        StatusCode::OK
    );

    // The activated administrator is told; the employee and the unused invitation are not.
    let told = app.wait_mails(&ada.email, 1).await;
    assert!(
        told.iter()
            .any(|m| m.contains("omega AG") && (m.contains("endg=C3=BCltig") || m.contains("endgültig"))),
        "{told:?}"
    );
    assert!(app.mails_to(&emil.email).is_empty(), "the employee gets no mail");
    assert_eq!(app.mails_to("neu@omega.example").len(), 1, "only the invitation");
    assert_eq!(app.audit("org.delete").await.len(), 1);
}
