//! The audit log of security events (R-SEC-6): written by the flows, read by operators with
//! `servicekonto audit`, purged after its retention, never holding a secret.

use reqwest::StatusCode;
use serde_json::Value;
use servicekonto::audit::Event;

use crate::support::*;

/// Runs the operator CLI on `app`'s database and keys; the JSON it printed.
fn cli(app: &TestApp, args: &[&str]) -> (bool, Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_servicekonto"))
        .args(args)
        .arg("--json")
        .env("SERVICEKONTO_DATABASE_URL", &app.state.config.database_url)
        .env("SERVICEKONTO_KEYS_DIR", &app.state.config.keys_dir)
        .env("SERVICEKONTO_SECRETS_FILE", &app.state.config.secrets.file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    (out.status.success(), serde_json::from_str(text.trim()).unwrap_or(Value::Null))
}

fn actions(events: &Value) -> Vec<(String, String)> {
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn r_sec_6_logins_failures_and_password_changes_are_logged_with_address_and_outcome_and_no_secret() {
    let app = TestApp::start().await;
    let account = app.account("erika@example.de", false).await;
    let browser = app.browser();
    let wrong = "Falsch-Passwort-9";
    let (status, _) = browser
        .submit("/login", &[("email", "erika@example.de"), ("password", wrong)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = browser
        .submit("/login", &[("email", "nobody@example.de"), ("password", wrong)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    browser.login("erika@example.de", PASSWORD).await;
    let new = "Neues-Pass-2026";
    let (status, _) = browser
        .submit(
            "/profile/password",
            &[("current", wrong), ("password", new), ("password_repeat", new)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = browser
        .submit(
            "/profile/password",
            &[("current", PASSWORD), ("password", new), ("password_repeat", new)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (ok, by_email) = cli(&app, &["audit", "--since", "1h", "--account", "Erika@Example.de"]);
    assert!(ok, "{by_email}");
    assert_eq!(
        actions(&by_email),
        [
            ("login.password".into(), "wrong_password".into()),
            ("login.password".into(), "ok".into()),
            ("password.change".into(), "wrong_password".into()),
            ("password.change".into(), "ok".into()),
        ]
    );
    for e in by_email["events"].as_array().unwrap() {
        assert_eq!(e["client_addr"], "127.0.0.1", "{e}");
        assert_eq!(e["account_id"], account.id.as_str());
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(by_email["events"][1]["actor"], format!("account:{}", account.id));
    let (_, by_id) = cli(&app, &["audit", "--account", account.id.as_str()]);
    assert_eq!(by_id, by_email, "the account's id finds the same events");

    // The unknown name's failure is logged too, without naming anyone.
    let (_, logins) = cli(&app, &["audit", "--action", "login."]);
    let unknown: Vec<&Value> = logins["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["account_id"].is_null())
        .collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(
        (unknown[0]["outcome"].as_str(), unknown[0]["actor"].as_str()),
        (Some("wrong_password"), Some("anonymous"))
    );

    let everything = serde_json::to_string(&app.audit("").await).unwrap();
    for secret in [PASSWORD, wrong, new, "nobody@example.de"] {
        assert!(!everything.contains(secret), "the audit log holds {secret}");
    }
}

#[tokio::test]
async fn r_sec_6_operator_actions_and_key_rotation_and_revocation_are_logged() {
    let app = TestApp::start().await;
    let (ok, rotated) = cli(&app, &["keys", "rotate"]);
    assert!(ok, "{rotated}");
    let kid = rotated["rotated"][0].as_str().unwrap().to_string();
    assert!(cli(&app, &["keys", "revoke", &kid]).0);
    let (ok, added) = cli(&app, &["client", "add", "--name", "Dienst", "--grant-type", "client_credentials"]);
    assert!(ok, "{added}");
    let client_id = added["client_id"].as_str().unwrap().to_string();
    assert!(cli(&app, &["client", "remove", &client_id]).0);

    let (_, keys) = cli(&app, &["audit", "--action", "key."]);
    let events = keys["events"].as_array().unwrap();
    assert_eq!(
        actions(&keys),
        [("key.rotate".into(), "ok".into()), ("key.revoke".into(), "ok".into())]
    );
    assert!(events.iter().all(|e| e["actor"] == "operator" && e["client_addr"].is_null()));
    assert!(events[1]["details"].as_str().unwrap().starts_with(&kid));
    let (_, clients) = cli(&app, &["audit", "--action", "client."]);
    assert_eq!(
        actions(&clients),
        [("client.add".into(), "ok".into()), ("client.remove".into(), "ok".into())]
    );
    assert!(clients["events"][0]["details"].as_str().unwrap().contains(&client_id));
    let dump = clients.to_string();
    assert!(
        !dump.contains(added["client_secret"].as_str().unwrap()),
        "no client secret in the log"
    );

    let (_, newest) = cli(&app, &["audit", "--limit", "1"]);
    assert_eq!(
        actions(&newest),
        [("client.remove".into(), "ok".into())],
        "the limit keeps the newest"
    );
    let (ok, err) = cli(&app, &["audit", "--since", "last tuesday"]);
    assert!(!ok);
    assert!(err["error"].as_str().unwrap().contains("--since"), "{err}");
}

#[tokio::test]
async fn r_sec_6_events_are_kept_for_the_configured_retention_then_purged() {
    let app = TestApp::with(|c| c.audit.retention_days = 30).await;
    let now = servicekonto::clock::now();
    let store = &app.state.store;
    Event::new("login.password", now - 31 * 86_400).record(store).await.unwrap();
    Event::new("login.password", now - 29 * 86_400).record(store).await.unwrap();
    servicekonto::server::purge(store, app.state.config.audit.retention_days, now).await;
    let left = app.audit("").await;
    assert_eq!(left.iter().map(|e| e.at).collect::<Vec<_>>(), [now - 29 * 86_400]);
    let (_, week) = cli(&app, &["audit", "--since", "7d"]);
    assert_eq!(week["events"].as_array().unwrap().len(), 0, "--since excludes older events");
    let (_, month) = cli(&app, &["audit", "--since", "30d"]);
    assert_eq!(month["events"].as_array().unwrap().len(), 1);
}
