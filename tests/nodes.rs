//! Several stateless nodes behind one issuer: two `servicekonto serve` processes sharing one
//! PostgreSQL database, one Redis prefix and the signing keys sealed in the database. Runs on
//! the PostgreSQL + Redis pass of the suite (it needs both), and does nothing on SQLite.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use servicekonto::secret::{b64, random_bytes, random_token};

use crate::support::*;

struct Node {
    url: String,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cluster {
    issuer: String,
    env: Vec<(String, String)>,
    nodes: Vec<Node>,
    dir: std::path::PathBuf,
    _backing: Backing,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    async fn start(n: usize) -> Option<Cluster> {
        if std::env::var("SERVICEKONTO_TEST_DATABASE_URL").is_err() || std::env::var("SERVICEKONTO_TEST_REDIS_URL").is_err() {
            return None;
        }
        let dir = std::env::temp_dir().join(format!("sk-nodes-{}", random_token(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let (backing, database_url, redis) = Backing::create(&dir).await;
        let (redis_url, prefix) = redis.unwrap();
        std::fs::write(dir.join("config.toml"), "client_cache_seconds = 1\n[keys]\nreload_seconds = 1\n").unwrap();
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        // The issuer is the load balancer's address; here, node 0's.
        let issuer = format!("http://127.0.0.1:{}", ports[0]);
        let env = vec![
            ("SERVICEKONTO_CONFIG".to_string(), dir.join("config.toml").display().to_string()),
            ("SERVICEKONTO_ISSUER".to_string(), issuer.clone()),
            ("SERVICEKONTO_DATABASE_URL".to_string(), database_url),
            ("SERVICEKONTO_REDIS_URL".to_string(), redis_url),
            ("SERVICEKONTO_REDIS_PREFIX".to_string(), prefix),
            ("SERVICEKONTO_KEY_ENCRYPTION_KEY".to_string(), b64(&random_bytes(32))),
            (
                "SERVICEKONTO_KEYS_DIR".to_string(),
                dir.join("must-not-be-used").display().to_string(),
            ),
            ("RUST_LOG".to_string(), "warn".to_string()),
        ];
        // Every node gets the same server secrets from its environment, as in production (R-SEC-7);
        // a secrets file would be a mistake.
        let mut env = env;
        env.push((
            "SERVICEKONTO_SECRETS_FILE".to_string(),
            dir.join("must-not-be-used.toml").display().to_string(),
        ));
        for name in servicekonto::config::SECRET_NAMES {
            env.push((
                format!("SERVICEKONTO_SECRET_{}", name.to_ascii_uppercase()),
                format!("1:{}", b64(&random_bytes(32))),
            ));
        }
        let mut cluster = Cluster {
            issuer,
            env,
            nodes: vec![],
            dir,
            _backing: backing,
        };
        cluster.cli(&["migrate"]);
        for port in ports {
            let node = cluster.spawn_node(port);
            cluster.nodes.push(node);
        }
        cluster.wait_ready().await;
        Some(cluster)
    }

    fn spawn_node(&self, port: u16) -> Node {
        let child = Command::new(env!("CARGO_BIN_EXE_servicekonto"))
            .arg("serve")
            .envs(self.env.iter().cloned())
            .env("SERVICEKONTO_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Node {
            url: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        for node in &self.nodes {
            for i in 0.. {
                if http
                    .get(format!("{}/readyz", node.url))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == StatusCode::OK)
                {
                    break;
                }
                assert!(i < 200, "node {} did not become ready", node.url);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Registers a code-flow client named `name` and the test account; the client's credentials.
    fn seed(&self, name: &str) -> (String, String) {
        let client = self.cli(&["client", "add", "--name", name, "--redirect-uri", RP_CALLBACK]);
        self.cli(&[
            "account",
            "add",
            "--email",
            "nodes@example.de",
            "--password",
            PASSWORD,
            "--given-name",
            "N",
            "--family-name",
            "O",
        ]);
        (
            client["client_id"].as_str().unwrap().to_string(),
            client["client_secret"].as_str().unwrap().to_string(),
        )
    }

    fn cli(&self, args: &[&str]) -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_servicekonto"))
            .args(args)
            .arg("--json")
            .envs(self.env.iter().cloned())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!("{}{path}", self.nodes[node].url)
    }

    async fn post_as(&self, node: usize, path: &str, id: &str, secret: &str, form: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
        post_form_as(&self.url(node, path), id, secret, form).await
    }

    async fn refresh(&self, node: usize, id: &str, secret: &str, refresh_token: &str) -> (StatusCode, serde_json::Value) {
        self.post_as(
            node,
            "/token",
            id,
            secret,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        )
        .await
    }

    async fn redeem(&self, node: usize, id: &str, secret: &str, code: &str) -> (StatusCode, serde_json::Value) {
        self.post_as(
            node,
            "/token",
            id,
            secret,
            &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", RP_CALLBACK)],
        )
        .await
    }

    async fn code(&self, browser: &mut Browser, node: usize, id: &str, extra: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&self.url(node, "/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", id)
            .append_pair("redirect_uri", RP_CALLBACK)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email")
            .extend_pairs(extra.iter().copied());
        let mut on_node = browser.on(&self.nodes[node].url);
        let end = on_node
            .walk(url.as_str(), Some(("nodes@example.de", PASSWORD)), Consent::Allow)
            .await;
        end.code()
    }
}

#[tokio::test]
async fn pg_redis_two_nodes_share_sessions_codes_grants_and_keys() {
    let Some(cluster) = Cluster::start(2).await else {
        return skipped_without_postgres_and_redis();
    };
    let (id, secret) = cluster.seed("Across nodes");

    // Same keys everywhere.
    let http = reqwest::Client::new();
    let jwks = |node: usize| {
        let req = http.get(cluster.url(node, "/jwks"));
        async move { req.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    assert_eq!(jwks(0).await, jwks(1).await);

    // Login on A, code redeemed at B, refresh at A, userinfo at B.
    let mut browser = Browser::new(&cluster.issuer);
    let code = cluster.code(&mut browser, 0, &id, &[]).await;
    let (status, tokens) = cluster.redeem(1, &id, &secret, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["iss"], cluster.issuer.as_str());
    let (status, refreshed) = cluster.refresh(0, &id, &secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let info = http
        .get(cluster.url(1, "/userinfo"))
        .bearer_auth(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK);
    assert_eq!(info.json::<serde_json::Value>().await.unwrap()["email"], "nodes@example.de");

    // A refresh token replayed at the other node revokes the chain.
    let (status, _) = cluster.refresh(1, &id, &secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, dead) = cluster.refresh(0, &id, &secret, refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(dead["error"], "invalid_grant", "reuse detected across nodes");

    // One code redeemed concurrently at both nodes succeeds exactly once, 200 times over.
    for round in 0..200 {
        let code = cluster.code(&mut browser, round % 2, &id, &[("prompt", "none")]).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", RP_CALLBACK),
        ];
        let (a, b) = tokio::join!(
            cluster.post_as(0, "/token", &id, &secret, &form),
            cluster.post_as(1, "/token", &id, &secret, &form)
        );
        let wins = [a.0, b.0].iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(wins, 1, "round {round}: {a:?} {b:?}");
    }

    // A rotation on one node reaches both; tokens signed before it keep working.
    let before = tokens["id_token"].as_str().unwrap().to_string();
    let fresh_code = cluster.code(&mut browser, 0, &id, &[("prompt", "none")]).await;
    let (_, old_tokens) = cluster.redeem(0, &id, &secret, &fresh_code).await;
    let rotated = cluster.cli(&["keys", "rotate"]);
    let new_kid = rotated["rotated"][0].as_str().unwrap().to_string();
    for node in 0..2 {
        let mut seen = false;
        for _ in 0..60 {
            if jwks(node).await.to_string().contains(&new_kid) {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(seen, "node {node} publishes the new key within the reload bound");
    }
    let info = http
        .get(cluster.url(1, "/userinfo"))
        .bearer_auth(old_tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK, "a token signed before the rotation still verifies");
    let code = cluster.code(&mut browser, 1, &id, &[("prompt", "none")]).await;
    let (_, new_tokens) = cluster.redeem(1, &id, &secret, &code).await;
    let header: serde_json::Value = serde_json::from_slice(
        &servicekonto::secret::b64_decode(new_tokens["id_token"].as_str().unwrap().split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], new_kid.as_str(), "signing switched to the new key");

    // R-SEC-5: revoked on one machine, the key verifies nothing on every node within the bound.
    let revoked = cluster.cli(&["keys", "revoke", &new_kid]);
    assert!(revoked["successor"].is_string(), "{revoked}");
    for node in 0..2 {
        let mut gone = false;
        for _ in 0..60 {
            let status = http
                .get(cluster.url(node, "/userinfo"))
                .bearer_auth(new_tokens["access_token"].as_str().unwrap())
                .send()
                .await
                .unwrap()
                .status();
            if status == StatusCode::UNAUTHORIZED && !jwks(node).await.to_string().contains(&new_kid) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "node {node} stopped trusting the revoked key within the reload bound");
    }
    assert!(
        !cluster.dir.join("must-not-be-used").exists(),
        "keys live in the database, not in files"
    );

    // Logout at B ends the session at A.
    let mut logout = url::Url::parse(&cluster.url(1, "/logout")).unwrap();
    logout.query_pairs_mut().append_pair("id_token_hint", &before);
    let res = browser.http.get(logout.as_str()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut url = url::Url::parse(&cluster.url(0, "/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &id)
        .append_pair("redirect_uri", RP_CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("prompt", "none");
    let end = browser.on(&cluster.nodes[0].url).walk(url.as_str(), None, Consent::Allow).await;
    assert_eq!(end.param("error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn pg_redis_a_node_killed_under_load_loses_nothing_that_was_stored() {
    let Some(mut cluster) = Cluster::start(1).await else {
        return skipped_without_postgres_and_redis();
    };
    let (id, secret) = cluster.seed("Kill test");
    let mut browser = Browser::new(&cluster.issuer);
    cluster.code(&mut browser, 0, &id, &[]).await;
    let http = reqwest::Client::new();
    let jwks_before: serde_json::Value = http.get(cluster.url(0, "/jwks")).send().await.unwrap().json().await.unwrap();

    // Code exchanges in four parallel loops; every refresh token the server handed out is kept.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let issued = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<String>::new()));
    let mut loops = vec![];
    for _ in 0..4 {
        let (stop, issued, browser_http, base) = (stop.clone(), issued.clone(), browser.http.clone(), cluster.nodes[0].url.clone());
        let (id, secret) = (id.clone(), secret.clone());
        loops.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let mut url = url::Url::parse(&format!("{base}/authorize")).unwrap();
                url.query_pairs_mut()
                    .append_pair("client_id", &id)
                    .append_pair("redirect_uri", RP_CALLBACK)
                    .append_pair("response_type", "code")
                    .append_pair("scope", "openid email")
                    .append_pair("prompt", "none");
                let Ok(res) = browser_http.get(url.as_str()).send().await else {
                    break;
                };
                let Some(code) = res
                    .headers()
                    .get("location")
                    .and_then(|l| url::Url::parse(l.to_str().ok()?).ok())
                    .and_then(|u| u.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()))
                else {
                    break;
                };
                let form = [
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", RP_CALLBACK),
                ];
                let Ok(res) = http
                    .post(format!("{base}/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&form)
                    .send()
                    .await
                else {
                    break;
                };
                if res.status() != StatusCode::OK {
                    break;
                }
                let Ok(body) = res.json::<serde_json::Value>().await else { break };
                issued.lock().await.push(body["refresh_token"].as_str().unwrap().to_string());
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let port: u16 = cluster.nodes[0].url.rsplit(':').next().unwrap().parse().unwrap();
    cluster.nodes.clear(); // SIGKILL, no shutdown
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for l in loops {
        let _ = l.await;
    }
    let issued = issued.lock().await.clone();
    assert!(issued.len() > 20, "the load ran: {} exchanges", issued.len());

    let node = cluster.spawn_node(port);
    cluster.nodes.push(node);
    cluster.wait_ready().await;
    let jwks_after: serde_json::Value = http.get(cluster.url(0, "/jwks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks_before, jwks_after, "same keys after the restart");
    for rt in &issued {
        let (status, body) = cluster.refresh(0, &id, &secret, rt).await;
        assert_eq!(status, StatusCode::OK, "a refresh token issued before the kill still works: {body}");
    }
    // Sessions (Redis) and consents (database) survived too: a silent login works.
    assert!(!cluster.code(&mut browser, 0, &id, &[("prompt", "none")]).await.is_empty());
}
