//! Who may use an online service (R-SVC-1) and the catalogue of services (R-SVC-2).

use reqwest::StatusCode;
use servicekonto::clients::{self, Admits, ClientError, GrantType, NewClient, Offer};
use servicekonto::ids::ClientId;

use crate::support::*;

fn organisations_only() -> ClientSpec {
    ClientSpec {
        offer: Offer {
            admits: Admits::Organisation,
            ..Offer::default()
        },
        ..ClientSpec::default()
    }
}

/// A code-flow service named `name` with `offer`.
fn service(name: &str, offer: Offer) -> NewClient {
    NewClient {
        name: name.into(),
        redirect_uris: vec![RP_CALLBACK.into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode],
        auth_method: servicekonto::clients::AuthMethod::ClientSecretBasic,
        jwks_uri: None,
        scopes: vec![],
        min_level: servicekonto::trust::TrustLevel::Basic,
        client_id: None,
        secret: None,
        subject_type: servicekonto::clients::SubjectType::Pairwise,
        backchannel_logout_uri: None,
        allow_interop: false,
        federation_partner: false,
        offer,
    }
}

/// The href of the page's "back to the service" link.
fn back_link(html: &str) -> url::Url {
    let start = html.find("class=\"button\" href=\"").expect("a back link") + "class=\"button\" href=\"".len();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    url::Url::parse(&href.replace("&amp;", "&").replace("&#x2F;", "/")).unwrap()
}

#[tokio::test]
async fn r_svc_1_a_citizen_logging_in_to_a_service_for_organisations_is_told_why_and_the_service_gets_access_denied() {
    let app = TestApp::start().await;
    let (id, _) = app.client(organisations_only()).await;
    let citizen = app.account("erika@example.de", false).await;
    let mut browser = app.browser();
    let url = authorize_url(&app, &id, &[("state", "s-1")]);
    let end = browser.walk(&url, Some(("erika@example.de", PASSWORD)), Consent::Allow).await;
    assert!(
        browser.seen[0].contains("nur Organisationen offen"),
        "the login page says whom the service is for"
    );
    let End::Page(status, html) = end else {
        panic!("no page but {end:?}")
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Dieser Online-Dienst steht nur Organisationen offen"), "{html}");
    let back = back_link(&html);
    let param = |n: &str| back.query_pairs().find(|(k, _)| k == n).map(|(_, v)| v.into_owned());
    assert_eq!(back.as_str().split('?').next(), Some(RP_CALLBACK));
    assert_eq!(param("error").as_deref(), Some("access_denied"));
    assert_eq!(param("state").as_deref(), Some("s-1"));
    assert_eq!(param("iss"), Some(app.issuer.clone()));
    assert!(param("code").is_none());
    assert!(
        app.state
            .store
            .consent(&citizen.id, &ClientId::from(id.as_str()))
            .await
            .unwrap()
            .is_none()
    );

    // Still logged in: the next request asks for a login with another account, and one
    // without a page (prompt=none) hears that a login is needed.
    let (status, html) = browser.page(&authorize_url(&app, &id, &[])).await;
    assert!(status.is_redirection() && html.contains("/login?txn="), "{status} {html}");
    let silent = browser
        .walk(&authorize_url(&app, &id, &[("prompt", "none")]), None, Consent::Allow)
        .await;
    assert_eq!(silent.param("error").as_deref(), Some("login_required"));

    // In form_post mode the page's button posts the error.
    let mut other = app.browser();
    let url = authorize_url(&app, &id, &[("response_mode", "form_post"), ("state", "s-2")]);
    let End::Page(status, html) = other.walk(&url, Some(("erika@example.de", PASSWORD)), Consent::Allow).await else {
        panic!("no page")
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains(&format!("<form method=\"post\" action=\"{}\"", RP_CALLBACK.replace('/', "&#x2F;"))),
        "{html}"
    );
    assert_eq!(form_value(&html, "error").as_deref(), Some("access_denied"));
    assert_eq!(form_value(&html, "state").as_deref(), Some("s-2"));
}

#[tokio::test]
async fn r_svc_1_a_service_for_citizens_and_organisations_admits_a_citizen() {
    let app = TestApp::start().await;
    let (id, _) = app
        .client(ClientSpec {
            offer: Offer {
                admits: Admits::Any,
                ..Offer::default()
            },
            ..ClientSpec::default()
        })
        .await;
    app.account("erika@example.de", false).await;
    let mut browser = app.browser();
    let end = browser
        .walk(&authorize_url(&app, &id, &[]), Some(("erika@example.de", PASSWORD)), Consent::Allow)
        .await;
    assert!(end.param("code").is_some(), "{end:?}");
    assert!(!browser.seen[0].contains("nur Organisationen offen"));
}

#[tokio::test]
async fn r_svc_1_r_fed_2_a_registration_that_contradicts_itself_is_refused() {
    let app = TestApp::start().await;
    let new = |offer: Offer, allow_interop: bool| NewClient {
        allow_interop,
        ..service("Dienst", offer)
    };
    let org = |roles: &[&str]| Offer {
        admits: Admits::Organisation,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        ..Offer::default()
    };
    let before = app.state.store.clients().await.unwrap().len();
    let too_many: Vec<String> = (0..=clients::MAX_ROLES).map(|i| format!("r{i}")).collect();
    for (offer, interop) in [
        (org(&[]), true),
        (
            Offer {
                requires_approval: true,
                ..Offer::default()
            },
            false,
        ),
        (
            Offer {
                roles: vec!["leitung".into()],
                ..Offer::default()
            },
            false,
        ),
        (org(&["ä"]), false),
        (org(&[&"x".repeat(65)]), false),
        (
            Offer {
                roles: too_many,
                ..org(&[])
            },
            false,
        ),
        (
            Offer {
                cost_note: Some("x".repeat(201)),
                ..Offer::default()
            },
            false,
        ),
        (
            Offer {
                description: Some("a > b".into()),
                ..Offer::default()
            },
            false,
        ),
    ] {
        let result = clients::register(
            &app.state.store,
            app.client_keys(),
            new(offer.clone(), interop),
            servicekonto::clock::now(),
        )
        .await;
        assert!(matches!(result, Err(ClientError::Invalid(_))), "{offer:?} accepted");
    }
    assert_eq!(app.state.store.clients().await.unwrap().len(), before, "nothing refused was stored");
    // Citizens and organisations, with logins through other Länder for the citizens.
    let any = Offer {
        admits: Admits::Any,
        description: Some("  Wohngeld beantragen  ".into()),
        cost_note: Some(" ".into()),
        ..Offer::default()
    };
    let (client, _) = clients::register(&app.state.store, app.client_keys(), new(any, true), servicekonto::clock::now())
        .await
        .unwrap();
    assert!(client.offers_interop());
    assert_eq!(
        (client.description.as_deref(), client.cost_note),
        (Some("Wohngeld beantragen"), None)
    );
}

#[tokio::test]
async fn r_svc_2_the_catalogue_lists_the_services_people_log_in_to_and_finds_them_by_name_and_description() {
    let app = TestApp::start().await;
    let gewerbe = Offer {
        admits: Admits::Organisation,
        requires_approval: true,
        description: Some("Ein Gewerbe anmelden, ummelden oder abmelden.".into()),
        cost_note: Some("20 € je Anzeige".into()),
        ..Offer::default()
    };
    let wohngeld = Offer {
        description: Some("Zuschuss zur Miete beantragen.".into()),
        ..Offer::default()
    };
    let mut machine = service("Maschinendienst", Offer::default());
    machine.grant_types = vec![GrantType::ClientCredentials];
    machine.redirect_uris = vec![];
    let mut partner = service("Servicekonto Land B", Offer::default());
    partner.federation_partner = true;
    for new in [service("Gewerbeanzeige", gewerbe), service("Wohngeld", wohngeld), machine, partner] {
        clients::register(&app.state.store, app.client_keys(), new, servicekonto::clock::now())
            .await
            .unwrap();
    }
    let browser = app.browser();
    let (status, html) = browser.page("/dienste").await;
    assert_eq!(status, StatusCode::OK);
    let gewerbe_at = html.find("<h2>Gewerbeanzeige</h2>").expect("listed");
    let wohngeld_at = html.find("<h2>Wohngeld</h2>").expect("listed");
    assert!(gewerbe_at < wohngeld_at, "by name");
    assert!(
        !html.contains("Maschinendienst") && !html.contains("Land B"),
        "only services people log in to"
    );
    for shown in [
        "Organisationen (Unternehmen und Behörden)",
        "nach Freigabe durch die Fachliche Leitstelle",
        "20 € je Anzeige",
        "Bürgerinnen und Bürger",
        "Basis (niedrig)",
        "keine Angabe",
    ] {
        assert!(html.contains(shown), "{shown} not shown");
    }
    for (q, found) in [
        ("gewerbe", &["Gewerbeanzeige"][..]),
        ("MIETE zuschuss", &["Wohngeld"][..]),
        ("ummelden%20gewerbe", &["Gewerbeanzeige"][..]),
        ("beantragen", &["Wohngeld"][..]),
        ("hundesteuer", &[][..]),
    ] {
        let (status, html) = browser.page(&format!("/dienste?q={q}")).await;
        assert_eq!(status, StatusCode::OK);
        for name in ["Gewerbeanzeige", "Wohngeld"] {
            assert_eq!(html.contains(&format!("<h2>{name}</h2>")), found.contains(&name), "{q}: {name}");
        }
        if found.is_empty() {
            assert!(html.contains("Kein Online-Dienst passt zu Ihrer Suche."));
        }
    }
    let (status, html) = browser.page(&format!("/dienste?q={}", "a".repeat(101))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("höchstens 100 Zeichen") && html.contains("aria-invalid=\"true\""),
        "{html}"
    );
    let (_, html) = browser.page("/dienste?lang=en").await;
    assert!(html.contains("Organisations (companies and public agencies)") && html.contains("Search by name or description"));
}
