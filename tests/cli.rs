//! The operator CLI, run as a real process: configuration layering, `--json`, clients,
//! accounts and keys.

use std::process::Command;

use serde_json::{Value, json};
use servicekonto::secret::random_token;

struct Env {
    dir: std::path::PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = std::env::temp_dir().join(format!("sk-cli-{}", random_token(8)));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.toml"),
            format!(
                "database_url = \"sqlite://{}/file.db\"\n[tokens]\naccess_token_seconds = 120\n",
                dir.display()
            ),
        )
        .unwrap();
        Env { dir }
    }

    fn run(&self, args: &[&str]) -> (bool, Value) {
        let out = Command::new(env!("CARGO_BIN_EXE_servicekonto"))
            .args(args)
            .arg("--json")
            .env("SERVICEKONTO_CONFIG", self.dir.join("config.toml"))
            .env("SERVICEKONTO_KEYS_DIR", self.dir.join("keys"))
            .env("SERVICEKONTO_SECRETS_FILE", self.dir.join("secrets.toml"))
            .env("SERVICEKONTO_DATABASE_URL", format!("sqlite://{}/env.db", self.dir.display()))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            text.lines().count(),
            1,
            "exactly one JSON object: {text} ({:?}, stderr: {})",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), serde_json::from_str(&text).unwrap())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends SIGTERM to a server process.
fn sigterm(child: &std::process::Child) {
    assert!(
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn client_account_and_keys_commands_print_json_and_share_the_configuration() {
    let env = Env::new();
    let (ok, v) = env.run(&["migrate"]);
    assert!(ok, "{v}");
    assert!(env.dir.join("env.db").exists(), "the environment overrides the file");
    assert!(!env.dir.join("file.db").exists());

    let (ok, v) = env.run(&[
        "client",
        "add",
        "--name",
        "Wohngeld",
        "--redirect-uri",
        "https://wohngeld.example/cb",
        "--min-acr",
        "plus",
    ]);
    assert!(ok, "{v}");
    let id = v["client_id"].as_str().unwrap().to_string();
    assert!(v["client_secret"].as_str().unwrap().len() >= 43);
    let (ok, v) = env.run(&[
        "client",
        "add",
        "--name",
        "App",
        "--redirect-uri",
        "de.land.app:/cb",
        "--auth-method",
        "none",
        "--client-id",
        "app",
    ]);
    assert!(ok && v.get("client_secret").is_none(), "{v}");
    let (ok, v) = env.run(&["client", "add", "--name", "Bad", "--redirect-uri", "http://evil.example/cb"]);
    assert!(!ok && v["error"].as_str().unwrap().contains("http"), "{v}");
    let (_, v) = env.run(&["client", "list"]);
    assert_eq!(v["clients"].as_array().unwrap().len(), 2);
    assert!(v["clients"].to_string().contains("urn:servicekonto:acr:plus"));
    assert!(!v.to_string().contains("secret_hash"));
    let (ok, _) = env.run(&["client", "remove", &id]);
    assert!(ok);
    let (ok, _) = env.run(&["client", "remove", &id]);
    assert!(!ok);

    let (ok, v) = env.run(&[
        "account",
        "add",
        "--email",
        "Erika@Example.de",
        "--password",
        "ABab1234",
        "--given-name",
        "Erika",
        "--family-name",
        "Mustermann",
    ]);
    assert!(ok, "{v}");
    assert_eq!(v["email"], "erika@example.de");
    let plus = [
        "account",
        "add",
        "--email",
        "plus@example.de",
        "--password",
        "ABab1234",
        "--given-name",
        "P",
        "--family-name",
        "Q",
        "--plus",
        "--birthdate",
        "1970-01-02",
        "--street",
        "Hauptstraße",
        "--house-number",
        "1a",
        "--postal-code",
        "10115",
        "--city",
        "Berlin",
    ];
    let (ok, v) = env.run(&plus);
    assert!(ok && v["level"] == "plus", "{v}");
    let (ok, v) = env.run(&[
        "account",
        "add",
        "--email",
        "weak@example.de",
        "--password",
        "abcdefgh",
        "--given-name",
        "W",
        "--family-name",
        "K",
    ]);
    assert!(!ok && v["error"].as_str().unwrap().contains("password"), "R-REG-2 applies: {v}");
    let (ok, _) = env.run(&[
        "account",
        "add",
        "--email",
        "erika@example.de",
        "--password",
        "ABab1234",
        "--given-name",
        "E",
        "--family-name",
        "M",
    ]);
    assert!(!ok, "email taken");

    let (_, v) = env.run(&["keys", "list"]);
    assert_eq!(v["keys"].as_array().unwrap().len(), 1);
    assert_eq!(v["keys"][0]["status"], "active");
    let (ok, v) = env.run(&["keys", "rotate"]);
    assert!(ok && v["rotated"].as_array().unwrap().len() == 1, "{v}");
    let (_, v) = env.run(&["keys", "list"]);
    let statuses: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["active", "published"]);
    let old = v["keys"][1]["kid"].as_str().unwrap().to_string();
    let (ok, r) = env.run(&["keys", "revoke", &old]);
    assert!(ok && r["revoked"] == old.as_str() && r["successor"].is_null(), "{r}");
    let active = v["keys"][0]["kid"].as_str().unwrap().to_string();
    let (ok, r) = env.run(&["keys", "revoke", &active]);
    assert!(ok && r["successor"].is_string(), "an active key is replaced first: {r}");
    let (_, v) = env.run(&["keys", "list"]);
    let kids: Vec<&str> = v["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, [r["successor"].as_str().unwrap()]);
    let (ok, r) = env.run(&["keys", "revoke", "rs256-1-nope"]);
    assert!(!ok && r["error"].as_str().unwrap().contains("no key"), "{r}");
}

#[test]
fn r_fed_2_r_fed_4_clients_are_marked_for_interop_or_as_federation_partner() {
    let env = Env::new();
    let cb = ["--redirect-uri", "https://dienst.example/cb"];
    let (ok, v) = env.run(&[&["client", "add", "--name", "Wohngeld", "--allow-interop"][..], &cb].concat());
    assert!(ok, "{v}");
    let partner_cb = ["--redirect-uri", "https://servicekonto.land-b.example/upstream/land-a/callback"];
    let (ok, v) = env.run(
        &[
            &["client", "add", "--name", "Land B", "--client-id", "land-b", "--federation-partner"][..],
            &partner_cb,
        ]
        .concat(),
    );
    assert!(ok, "{v}");
    let (ok, v) = env.run(
        &[
            &["client", "add", "--name", "Beides", "--allow-interop", "--federation-partner"][..],
            &cb,
        ]
        .concat(),
    );
    assert!(!ok && v["error"].as_str().unwrap().contains("federation partner"), "{v}");
    let (_, v) = env.run(&["client", "list"]);
    let clients = v["clients"].as_array().unwrap();
    let by_name = |n: &str| clients.iter().find(|c| c["name"] == n).unwrap().clone();
    assert_eq!(by_name("Wohngeld")["allow_interop"], true);
    assert_eq!(by_name("Wohngeld")["federation_partner"], false);
    assert_eq!(by_name("Land B")["federation_partner"], true);
    assert_eq!(clients.len(), 2);
}

#[tokio::test]
async fn serve_logs_json_with_request_ids_and_no_secrets_and_stops_on_sigterm() {
    let env = Env::new();
    let (_, client) = env.run(&["client", "add", "--name", "Logs", "--grant-type", "client_credentials"]);
    let (id, secret) = (
        client["client_id"].as_str().unwrap().to_string(),
        client["client_secret"].as_str().unwrap().to_string(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(env.dir.join("serve.toml"), "log_format = \"json\"\nshutdown_grace_seconds = 5\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_servicekonto"))
        .arg("serve")
        .env("SERVICEKONTO_CONFIG", env.dir.join("serve.toml"))
        .env("SERVICEKONTO_KEYS_DIR", env.dir.join("keys"))
        .env("SERVICEKONTO_SECRETS_FILE", env.dir.join("secrets.toml"))
        .env("SERVICEKONTO_DATABASE_URL", format!("sqlite://{}/env.db", env.dir.display()))
        .env("SERVICEKONTO_ISSUER", format!("http://127.0.0.1:{port}"))
        .env("SERVICEKONTO_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let res = http
        .post(format!("{base}/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    http.get(format!("{base}/userinfo")).bearer_auth(&token).send().await.unwrap();

    let started = std::time::Instant::now();
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exits cleanly on SIGTERM");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let logs = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.to_string().contains("request_id") && l.to_string().contains("/token")),
        "{logs}"
    );
    assert!(lines.iter().any(|l| l.to_string().contains("shutting down")));
    for secret_value in [&secret, &token] {
        assert!(!logs.contains(secret_value.as_str()), "no secrets or tokens in the logs");
    }
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = Env::new();
    env.run(&[
        "account",
        "add",
        "--email",
        "slow@example.de",
        "--password",
        "ABab1234",
        "--given-name",
        "S",
        "--family-name",
        "L",
    ]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_servicekonto"))
        .arg("serve")
        .env("SERVICEKONTO_KEYS_DIR", env.dir.join("keys"))
        .env("SERVICEKONTO_SECRETS_FILE", env.dir.join("secrets.toml"))
        .env("SERVICEKONTO_DATABASE_URL", format!("sqlite://{}/env.db", env.dir.display()))
        .env("SERVICEKONTO_ISSUER", format!("http://127.0.0.1:{port}"))
        .env("SERVICEKONTO_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        // The log says why, should the exit status be a failure.
        .stderr(std::fs::File::create(env.dir.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut login = None;
    for _ in 0..200 {
        if let Ok(res) = reqwest::get(format!("{base}/login")).await {
            login = Some(res);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let login = login.unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = login.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    // Ten logins pipelined on one connection: each costs an argon2id verification, so the
    // server is busy with them for a while after SIGTERM arrives.
    let body = format!("csrf={csrf}&email=slow%40example.de&password=wrong-Password1");
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.repeat(10).as_bytes()).await.unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 401", "the server is working through the logins");
    sigterm(&child);
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    let after_signal = String::from_utf8_lossy(&rest).matches("HTTP/1.1 401").count();
    assert!(after_signal >= 1, "the request in flight at SIGTERM was answered completely");
    let out = child.wait_with_output().unwrap();
    let log = std::fs::read_to_string(env.dir.join("serve.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    assert!(
        out.status.success(),
        "exit {:?}; the log's last lines, newest first: {tail:#?}",
        out.status
    );
}

#[test]
fn r_svc_1_client_add_says_who_may_use_the_service_its_roles_and_its_catalogue_entry() {
    let env = Env::new();
    let cb = ["--redirect-uri", "https://gewerbe.example/cb"];
    let (ok, v) = env.run(
        &[
            &[
                "client",
                "add",
                "--name",
                "Gewerbeanmeldung",
                "--account-kind",
                "organisation",
                "--requires-approval",
                "--role",
                "sachbearbeitung",
                "--role",
                "leitung",
                "--description",
                "Gewerbe an-, um- und abmelden",
                "--cost-note",
                "20 € je Anzeige",
            ][..],
            &cb,
        ]
        .concat(),
    );
    assert!(ok, "{v}");
    let (ok, v) = env.run(&[&["client", "add", "--name", "Wohngeld"][..], &cb].concat());
    assert!(ok, "{v}");
    for (bad, why) in [
        (&["--requires-approval"][..], "organisations"),
        (&["--role", "leitung"][..], "roles"),
        (&["--account-kind", "organisation", "--allow-interop"][..], "citizens"),
        (&["--account-kind", "any", "--role", "a b"][..], "role a b"),
        (&["--account-kind", "any", "--role", "x", "--role", "x"][..], "twice"),
        (&["--description", "<script>"][..], "description"),
    ] {
        let (ok, v) = env.run(&[&["client", "add", "--name", "Falsch"][..], bad, &cb].concat());
        assert!(!ok, "{bad:?} was accepted: {v}");
        assert!(v.to_string().contains(why), "{bad:?}: {v}");
    }
    let (_, v) = env.run(&["client", "list"]);
    let clients = v["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2, "a refused registration stores nothing: {v}");
    let by_name = |n: &str| clients.iter().find(|c| c["name"] == n).unwrap().clone();
    let g = by_name("Gewerbeanmeldung");
    assert_eq!(
        (&g["account_kind"], &g["requires_approval"], &g["roles"]),
        (&json!("organisation"), &json!(true), &json!(["sachbearbeitung", "leitung"]))
    );
    assert_eq!(
        (&g["description"], &g["cost_note"]),
        (&json!("Gewerbe an-, um- und abmelden"), &json!("20 € je Anzeige"))
    );
    let w = by_name("Wohngeld");
    assert_eq!(
        (&w["account_kind"], &w["requires_approval"], &w["roles"], &w["description"]),
        (&json!("citizen"), &json!(false), &json!([]), &Value::Null)
    );
}

#[test]
fn r_org_1_r_org_3_org_add_prints_the_organisation_and_its_administrator_and_refuses_bad_data() {
    let env = Env::new();
    let add = |name: &str, email: &str| {
        env.run(&[
            "org",
            "add",
            "--name",
            name,
            "--admin-email",
            email,
            "--admin-password",
            "ABab1234!",
            "--admin-given-name",
            "Ada",
            "--admin-family-name",
            "Admin",
            "--admin-phone",
            "+49 221 1234",
        ])
    };
    let (ok, v) = add("Müller & Söhne GmbH", "chef@mueller.example");
    assert!(ok, "{v}");
    assert!(v["org_id"].as_str().is_some_and(|id| !id.is_empty()), "{v}");
    assert!(v["user_id"].as_str().is_some_and(|id| !id.is_empty()), "{v}");
    let (ok, again) = add("Andere GmbH", "chef@mueller.example");
    assert!(!ok && again["error"].as_str().unwrap().contains("already registered"), "{again}");
    let (ok, bad) = add("<Böse> GmbH", "chef@boese.example");
    assert!(!ok && bad["error"].as_str().unwrap().contains("name"), "{bad}");
    let (ok, bad) = add("Gut GmbH", "chef@güt.example");
    assert!(!ok && bad["error"].as_str().unwrap().contains("email"), "{bad}");
    let (_, audit) = env.run(&["audit", "--action", "org."]);
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(events[0]["details"], v["org_id"]);
}
