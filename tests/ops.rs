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
