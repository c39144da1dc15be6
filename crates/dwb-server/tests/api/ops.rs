//! Operations endpoints and what every response carries.

use dwb_store::Backend;
use reqwest::StatusCode;

use crate::helpers::spawn_app;
use crate::on_both_stores;

async fn health_readiness_and_metrics_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = reqwest::Client::new();
    let r = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), r#"{"status":"ready"}"#);
    let text = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"dwb_http_requests_total{method="GET",route="/readyz",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("dwb_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\"")
    );
    assert!(text.contains("\ndwb_usage_pending_events "), "{text}");
    assert!(
        text.contains("\ndwb_usage_dropped_events_total 0\n"),
        "{text}"
    );
    app.store.close().await;
    let r = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.unwrap().contains("control store"));
}
on_both_stores!(health_readiness_and_metrics_answer);

#[tokio::test]
async fn every_response_carries_security_headers_and_a_correlation_id() {
    let app = spawn_app(Backend::Sqlite).await;
    let c = reqwest::Client::new();
    for path in ["/", "/healthz", "/no/such/page", "/static/style.css"] {
        let r = c.get(app.url(path)).send().await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h.contains_key("referrer-policy"));
        assert!(!h["x-correlation-id"].is_empty());
    }
    let r = c
        .get(app.url("/healthz"))
        .header("X-Correlation-ID", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-correlation-id"], "abc-123");
    let r = c.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("This page does not exist"));
}
