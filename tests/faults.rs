//! Faults survived: Redis or PostgreSQL becoming unreachable (a TCP proxy in front of the
//! machine's servers is cut and restored) gives 503 with a clear error within the configured
//! timeouts and recovers by itself. Runs on the PostgreSQL + Redis pass of the suite.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::AbortHandle;

use crate::support::*;

/// A TCP proxy that can be cut (open connections closed, new ones refused) and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().await.push(task.abort_handle());
            }
        });
        Proxy { port, up, conns }
    }

    async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().await.drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn addr_of(url: &str) -> SocketAddr {
    let u = url::Url::parse(url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port_or_known_default().unwrap())
        .parse()
        .unwrap()
}

fn backends() -> Option<(String, String)> {
    Some((
        std::env::var("SERVICEKONTO_TEST_DATABASE_URL").ok()?,
        std::env::var("SERVICEKONTO_TEST_REDIS_URL").ok()?,
    ))
}

/// A server whose PostgreSQL is reached through a [`Proxy`] (1-s database timeout).
async fn behind_database_proxy() -> (Proxy, TestApp) {
    let pg = addr_of(&std::env::var("SERVICEKONTO_TEST_DATABASE_URL").unwrap());
    let proxy = Proxy::start(pg).await;
    let port = proxy.port;
    let app = TestApp::with(|c| {
        let mut url = url::Url::parse(&c.database_url).unwrap();
        url.set_port(Some(port)).unwrap();
        c.database_url = url.to_string();
        c.database_timeout_ms = 1000;
    })
    .await;
    (proxy, app)
}

async fn eventually_ready(app: &TestApp) {
    for _ in 0..100 {
        if app.http().get(app.url("/readyz")).send().await.unwrap().status() == StatusCode::OK {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("did not recover within 10 s");
}

#[tokio::test]
async fn pg_redis_redis_outage_answers_503_within_the_timeout_and_recovers() {
    let Some((_, redis)) = backends() else {
        return skipped_without_postgres_and_redis();
    };
    let proxy = Proxy::start(addr_of(&redis)).await;
    let port = proxy.port;
    let app = TestApp::with(|c| {
        c.redis_url = Some(format!("redis://127.0.0.1:{port}"));
        c.redis_timeout_ms = 500;
    })
    .await;
    let (id, secret, mut browser, code) = app.signed_in("redis@example.de").await;

    proxy.cut().await;
    let started = Instant::now();
    let res = browser.http.get(authorize_url(&app, &id, &[])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains("nicht erreichbar"), "a clear page for people");
    let (status, body) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("temporarily_unavailable"))
    );
    let ready = app.http().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["ephemeral"], "unavailable");
    assert_eq!(app.http().get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "no hang beyond the timeouts: {:?}",
        started.elapsed()
    );

    proxy.restore();
    eventually_ready(&app).await;
    let (status, _) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "the code taken during the outage was not lost");
    assert!(
        browser
            .walk(&authorize_url(&app, &id, &[]), None, Consent::Allow)
            .await
            .param("code")
            .is_some()
    );
    let metrics = app.http().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        !metrics.contains("servicekonto_ephemeral_store_errors_total 0"),
        "errors are counted"
    );
}

#[tokio::test]
async fn pg_redis_database_outage_answers_503_within_the_timeout_and_recovers() {
    let Some(_) = backends() else {
        return skipped_without_postgres_and_redis();
    };
    let (proxy, app) = behind_database_proxy().await;
    let (id, secret, _browser, code) = app.signed_in("pg@example.de").await;
    let (_, tokens) = redeem(&app, &id, &secret, &code, &[]).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();

    proxy.cut().await;
    let started = Instant::now();
    let ready = app.http().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["database"], "unavailable");
    let info = app.http().get(app.url("/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(info.status(), StatusCode::SERVICE_UNAVAILABLE);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let (status, body) = app.post_as("/token", &id, &secret, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("temporarily_unavailable"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "no hang beyond the timeouts: {:?}",
        started.elapsed()
    );

    proxy.restore();
    eventually_ready(&app).await;
    let info = app.http().get(app.url("/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(info.status(), StatusCode::OK);
    let (status, _) = app.post_as("/token", &id, &secret, &form).await;
    assert_eq!(status, StatusCode::OK, "the refresh refused during the outage still works");
}

#[tokio::test]
async fn pg_redis_a_code_exchange_refused_for_a_database_outage_leaves_the_code_usable() {
    let Some(_) = backends() else {
        return skipped_without_postgres_and_redis();
    };
    let (proxy, app) = behind_database_proxy().await;
    let (id, secret, _browser, code) = app.signed_in("pg-code@example.de").await;
    proxy.cut().await;
    let (status, body) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("temporarily_unavailable"))
    );
    proxy.restore();
    eventually_ready(&app).await;
    let (status, body) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "the retry after the outage gets its tokens: {body}");
    let (status, body) = redeem(&app, &id, &secret, &code, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "once only"
    );
}

#[tokio::test]
async fn pg_redis_r_ses_4_forgotten_password_answers_alike_for_known_and_unknown_addresses_even_in_an_outage() {
    let Some(_) = backends() else {
        return skipped_without_postgres_and_redis();
    };
    let (proxy, app) = behind_database_proxy().await;
    app.account("known@example.de", false).await;
    let browser = app.browser();
    let csrf = browser.csrf().await;
    proxy.cut().await;
    // The work (a lookup, a link, a mail) happens after the answer: an address with an account
    // cannot be told from one without by a different answer, or by the outage it runs into.
    let mut answers = Vec::new();
    for email in ["known@example.de", "nobody@example.de"] {
        let res = browser
            .http
            .post(app.url("/password/forgot"))
            .form(&[("csrf", csrf.as_str()), ("email", email)])
            .send()
            .await
            .unwrap();
        answers.push((res.status(), res.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, StatusCode::OK);
    assert_eq!(answers[0], answers[1]);
    proxy.restore();
}
