//! Server secrets come from configuration, carry versions and are never regenerated once in use
//! (R-SEC-7).

use reqwest::StatusCode;
use servicekonto::clients::{GrantType, SubjectType};
use servicekonto::clock::Timestamp;
use servicekonto::config::{Config, SecretsConfig};
use servicekonto::ids::{AccountId, ClientId};
use servicekonto::secret::{KeyRing, Secret, b64, random_bytes};
use sqlx::Row;

use crate::support::{ClientSpec, TestApp};

fn entry(version: u32) -> Secret<String> {
    Secret::new(format!("{version}:{}", b64(&random_bytes(32))))
}

async fn db(app: &TestApp) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    <sqlx::AnyConnection as sqlx::Connection>::connect(&app.state.config.database_url)
        .await
        .unwrap()
}

/// The configuration of a second node on `app`'s database, with `adjust` applied.
fn second_node(app: &TestApp, adjust: impl FnOnce(&mut SecretsConfig)) -> Config {
    let mut config = (*app.state.config).clone();
    adjust(&mut config.secrets);
    config
}

async fn start_error(config: Config) -> String {
    match servicekonto::server::prepare(config).await {
        Ok(_) => panic!("the node started"),
        Err(e) => e.to_string(),
    }
}

fn machine() -> ClientSpec {
    ClientSpec {
        grant_types: vec![GrantType::ClientCredentials],
        redirect_uris: vec![],
        ..ClientSpec::default()
    }
}

#[tokio::test]
async fn r_sec_7_server_secrets_live_outside_the_database_which_keeps_only_fingerprints() {
    let app = TestApp::start().await;
    let mut conn = db(&app).await;
    let values = sqlx::query("select count(*) as n from server_secrets where value <> ''")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get::<i64, _>("n");
    assert_eq!(values, 0, "no secret value in the database");
    let rows = sqlx::query("select name, fingerprint from secret_versions order by name")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.get("name")).collect();
    assert_eq!(
        names,
        [
            "client_secret_pepper",
            "csrf_key",
            "eid_pseudonym_key",
            "pairwise_subject_key",
            "staff_totp_key"
        ]
    );
    let file = std::fs::read_to_string(&app.state.config.secrets.file).unwrap();
    for row in &rows {
        let fingerprint: String = row.get("fingerprint");
        assert!(!file.contains(&fingerprint), "a fingerprint is not the value");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&app.state.config.secrets.file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the secrets file is readable by its owner only");
    }
}

#[tokio::test]
async fn r_sec_7_a_missing_secret_that_is_in_use_stops_the_start_instead_of_being_regenerated() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(machine()).await;
    let secret = secret.unwrap();
    let file = app.state.config.secrets.file.clone();
    let saved = std::fs::read_to_string(&file).unwrap();

    std::fs::remove_file(&file).unwrap();
    let message = start_error(second_node(&app, |_| {})).await;
    assert!(message.contains("client_secret_pepper version 1 is in use"), "{message}");
    assert!(message.contains("SERVICEKONTO_SECRET_CLIENT_SECRET_PEPPER"), "{message}");
    assert!(!file.exists(), "nothing was regenerated");

    let changed = second_node(&app, |s| s.client_secret_pepper = vec![entry(1)]);
    std::fs::write(&file, &saved).unwrap();
    let message = start_error(changed).await;
    assert!(message.contains("client_secret_pepper version 1 differs"), "{message}");

    // The same secrets start a second node, and the client's secret still works.
    servicekonto::server::prepare(second_node(&app, |_| {})).await.unwrap();
    let (status, _) = app.post_as("/token", &id, &secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn r_sec_7_a_rotated_pepper_keeps_old_client_secrets_working_and_re_tags_them() {
    let (v1, v2) = (entry(1), entry(2));
    let first = v1.clone();
    let app = TestApp::with(move |c| c.secrets.client_secret_pepper = vec![first]).await;
    let (id, secret) = app.client(machine()).await;
    let secret = secret.unwrap();
    let database_url = app.state.config.database_url.clone();
    let hash = |url: String, id: String| async move {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
        sqlx::query("select secret_hash from clients where client_id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get::<String, _>("secret_hash")
    };
    assert!(hash(database_url.clone(), id.clone()).await.starts_with("1."));

    let (old, new) = (v1.clone(), v2.clone());
    let (url, file) = (database_url.clone(), app.state.config.secrets.file.clone());
    let rotated = TestApp::with(move |c| {
        c.database_url = url;
        c.secrets.file = file;
        c.secrets.client_secret_pepper = vec![old, new];
    })
    .await;
    let (status, _) = rotated
        .post_as("/token", &id, &secret, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "a secret stored under version 1 still authenticates");
    assert!(hash(database_url.clone(), id.clone()).await.starts_with("2."), "and is re-tagged");
    let (status, _) = rotated
        .post_as(
            "/token",
            &id,
            "wrong-secret-wrong-secret-wrong-secret",
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Version 1 is no longer needed; without version 2 the start stops.
    servicekonto::server::prepare(second_node(&rotated, |s| s.client_secret_pepper = vec![v2.clone()]))
        .await
        .unwrap();
    let message = start_error(second_node(&rotated, |s| s.client_secret_pepper = vec![v1.clone()])).await;
    assert!(message.contains("client_secret_pepper version 2 is in use"), "{message}");
}

#[tokio::test]
async fn r_sec_7_a_new_pairwise_key_version_serves_only_services_registered_after_it() {
    let app = TestApp::start().await;
    let (pepper, v1_ring) = app.client_keys();
    let file = std::fs::read_to_string(&app.state.config.secrets.file).unwrap();
    let table: std::collections::BTreeMap<String, Vec<String>> = toml::from_str(&file).unwrap();
    let mut entries: Vec<Secret<String>> = table["pairwise_subject_key"].iter().cloned().map(Secret::new).collect();
    entries.push(entry(2));
    let rotated = KeyRing::parse(&entries).unwrap();
    assert_eq!(v1_ring.current(), 1);
    let spec = |uri: &str, id: &str| servicekonto::clients::NewClient {
        name: "Dienst".into(),
        redirect_uris: vec![uri.into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![],
        auth_method: servicekonto::clients::AuthMethod::ClientSecretBasic,
        jwks_uri: None,
        scopes: vec![],
        min_level: servicekonto::trust::TrustLevel::Basic,
        client_id: Some(id.into()),
        secret: None,
        subject_type: SubjectType::Pairwise,
        backchannel_logout_uri: None,
        allow_interop: false,
        federation_partner: false,
        offer: Default::default(),
    };
    let register = |new| servicekonto::clients::register(&app.state.store, (pepper, &rotated), new, Timestamp(0));
    let (old, _) = servicekonto::clients::register(
        &app.state.store,
        (pepper, v1_ring),
        spec("https://a.example/cb", "old"),
        Timestamp(0),
    )
    .await
    .unwrap();
    let (new, _) = register(spec("https://b.example/cb", "new")).await.unwrap();
    let (same_sector, _) = register(spec("https://a.example/other", "sibling")).await.unwrap();
    assert_eq!(
        (old.subject_key_version, new.subject_key_version, same_sector.subject_key_version),
        (1, 2, 1)
    );
    let sub =
        |c: &servicekonto::clients::Client, ring: &KeyRing| servicekonto::grants::claims::subject(c, &AccountId::from("account-1"), ring);
    assert_eq!(
        sub(&old, v1_ring),
        sub(&old, &rotated),
        "an existing service's subjects do not change"
    );
    assert_eq!(
        sub(&old, &rotated),
        sub(&same_sector, &rotated),
        "a sector keeps one subject per person"
    );
    // A node without version 2 does not serve the service registered under it.
    assert!(app.state.clients.get(&ClientId::from("new"), Timestamp(0)).await.unwrap().is_none());
    assert!(app.state.clients.get(&ClientId::from("old"), Timestamp(0)).await.unwrap().is_some());
}

#[tokio::test]
async fn r_sec_7_a_secret_left_in_the_database_by_an_older_release_moves_to_the_secrets_file() {
    let app = TestApp::start().await;
    let legacy = random_bytes(32);
    let mut conn = db(&app).await;
    sqlx::query("delete from secret_versions where name = 'csrf_key'")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("insert into server_secrets (name, value, created_at) values ('csrf_key', $1, 0)")
        .bind(b64(&legacy))
        .execute(&mut conn)
        .await
        .unwrap();
    let file = app.state.config.secrets.file.clone();
    let mut table: std::collections::BTreeMap<String, Vec<String>> = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    table.remove("csrf_key");
    std::fs::write(&file, toml::to_string(&table).unwrap()).unwrap();

    let state = servicekonto::server::prepare(second_node(&app, |_| {})).await.unwrap();
    let moved: std::collections::BTreeMap<String, Vec<String>> = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(moved["csrf_key"], [format!("1:{}", b64(&legacy))]);
    let left = sqlx::query("select count(*) as n from server_secrets where name = 'csrf_key'")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get::<i64, _>("n");
    assert_eq!(left, 0, "the value is gone from the database");
    let legacy_ring = KeyRing::new([(1, legacy)]).unwrap();
    assert!(state.secrets.csrf_key.verify(b"x", &legacy_ring.tag(b"x")));
}
