//! Operations endpoints: liveness, readiness and Prometheus metrics.

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::start().await;
    let http = app.http();
    assert_eq!(http.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    let ready = http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"database": "ok", "ephemeral": "ok"})
    );

    let (id, secret) = app.machine_client(&[]).await;
    let (status, _) = app.post_as("/token", &id, &secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::OK);
    app.account("metrics@example.de", false).await;
    let (code_client, _) = app.client(ClientSpec::default()).await;
    let mut browser = app.browser();
    login_code(&app, &mut browser, &code_client, "metrics@example.de", &[]).await;

    let text = http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"servicekonto_http_requests_total{method="POST",route="/token",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"servicekonto_http_request_duration_seconds_bucket{route="/token""#));
    assert!(text.contains(r#"servicekonto_tokens_issued_total{grant_type="client_credentials"} 1"#));
    assert!(text.contains(r#"servicekonto_logins_total{method="pwd",outcome="success"} 1"#));
    assert!(text.contains("servicekonto_ephemeral_store_errors_total 0"));
    assert!(!text.contains(&secret), "no secrets in metrics");
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_cut_off_while_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::with(|c| c.header_read_timeout_seconds = 1).await;
    let addr = app.issuer.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    assert_eq!(app.http().get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    let mut buf = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closed the slow connection within its timeout");
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"), "and served it nothing");
}

#[tokio::test]
async fn beyond_max_connections_a_connection_waits_until_one_closes() {
    let app = TestApp::with(|c| c.max_connections = 2).await;
    let addr = app.issuer.trim_start_matches("http://").to_string();
    let first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(700))
        .build()
        .unwrap();
    assert!(
        http.get(app.url("/healthz")).send().await.is_err(),
        "a third connection is not served"
    );
    drop(first);
    let fresh = reqwest::Client::new();
    let res = tokio::time::timeout(std::time::Duration::from_secs(5), fresh.get(app.url("/healthz")).send()).await;
    assert_eq!(res.unwrap().unwrap().status(), StatusCode::OK, "served once a connection closed");
}

#[test]
fn the_threat_model_names_only_tests_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = std::fs::read_to_string(root.join("docs/threat-model.md")).unwrap();
    let mut sources = String::new();
    for dir in ["tests", "src"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    sources.push_str(&std::fs::read_to_string(path).unwrap());
                }
            }
        }
    }
    let named: Vec<&str> = model
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| t.matches('_').count() >= 3 && t.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .collect();
    assert!(named.len() > 30, "the model names its tests");
    for name in named {
        assert!(
            sources.contains(&format!("fn {name}(")),
            "docs/threat-model.md names {name}, which is no test"
        );
    }
}

#[tokio::test]
async fn an_error_page_names_the_request_id_its_response_carries_and_keeps_the_handlers_headers() {
    let app = TestApp::start().await;
    let http = app.http();
    let res = http.get(app.url("/authorize?client_id=nobody")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(
        res.headers().contains_key("content-security-policy"),
        "error pages get the page headers"
    );
    let body = res.text().await.unwrap();
    assert!(body.contains(&format!("<code>{id}</code>")), "{body}");
    assert!(body.contains("Vorgangsnummer"), "{body}");

    // The unknown page is an error page too. (A full hashing pool's page keeps its
    // Retry-After: tests/hashing.rs.)
    let res = http.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(res.text().await.unwrap().contains(&id));
}
