//! `/api/v2/openapi.json` describes every route of the API, with both
//! security schemes, and what the handlers return matches the documented
//! response schemas.

use dwb_core::access::{Access, Level};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::accounts::{account, token};
use crate::helpers::spawn_app;

/// The spec's path template matching a concrete path, e.g. `/api/v2/workspaces/{workspace_id}`.
fn template<'a>(spec: &'a Value, method: &str, path: &str) -> Option<(&'a str, &'a Value)> {
    let parts: Vec<&str> = path.split('/').collect();
    spec["paths"].as_object()?.iter().find_map(|(t, item)| {
        let tp: Vec<&str> = t.split('/').collect();
        let same = tp.len() == parts.len()
            && tp
                .iter()
                .zip(&parts)
                .all(|(a, b)| (a.starts_with('{') && a.ends_with('}')) || a == b);
        let op = item.get(method.to_lowercase())?;
        same.then_some((t.as_str(), op))
    })
}

fn check_shape(spec: &Value, op: &Value, status: u16, body: &Value) -> Result<(), String> {
    let resp = &op["responses"][status.to_string()];
    if resp.is_null() {
        return Err(format!("status {status} is not documented"));
    }
    let Some(schema) = resp.pointer("/content/application~1json/schema") else {
        return if body.is_null() {
            Ok(())
        } else {
            Err(format!("status {status} documents no body, got {body}"))
        };
    };
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": spec["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::draft202012::new(&root).map_err(|e| format!("bad schema: {e}"))?;
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{}; body {body}", errors.join("; ")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_covers_every_route_and_matches_the_responses() {
    let app = spawn_app(dwb_store::Backend::Sqlite).await;
    let spec: Value = reqwest::get(app.url("/api/v2/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        spec["openapi"]
    );
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(
        schemes["subscriptionKey"]["name"],
        "Ocp-Apim-Subscription-Key"
    );
    assert_eq!(schemes["subscriptionKey"]["in"], "header");
    assert_eq!(
        schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
        app.url("/oauth2/token")
    );
    assert!(template(&spec, "POST", "/oauth2/token").is_some());

    // The check itself refuses a wrong shape.
    let (_, ws_get) =
        template(&spec, "GET", &format!("/api/v2/workspaces/{}", app.demo.id)).unwrap();
    assert!(check_shape(&spec, ws_get, 200, &json!({"id": 5, "name": "x"})).is_err());
    assert!(check_shape(&spec, ws_get, 418, &json!({})).is_err());

    let tenant = dwb_store::Store::default_tenant(app.store.as_ref())
        .await
        .unwrap()
        .unwrap()
        .id;
    let ws = app.demo.id;
    let admin = account(&app, ws, Access::Workspace(Level::Admin)).await;
    let victim = account(&app, ws, Access::Workspace(Level::Reader)).await.id;
    let t = token(&app, &admin).await;
    let sa = format!("/api/v2/workspaces/{ws}/serviceaccounts");
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/v2/tenants/{tenant}/workspaces"), None),
        (
            "POST",
            format!("/api/v2/tenants/{tenant}/workspaces"),
            Some(json!({"name": "X", "region": "EU"})),
        ),
        ("GET", format!("/api/v2/tenants/{tenant}/users/roles"), None),
        ("GET", format!("/api/v2/workspaces/{ws}"), None),
        (
            "GET",
            format!("/api/v2/workspaces/{}", Uuid::new_v4()),
            None,
        ),
        (
            "GET",
            format!("/api/v2/workspaces/{ws}/users/roles?PageSize=1&PageIndex=2"),
            None,
        ),
        (
            "GET",
            format!("/api/v2/workspaces/{ws}/ledger?PageSize=0"),
            None,
        ),
        ("GET", format!("/api/v2/workspaces/{ws}/ledger"), None),
        ("GET", sa.clone(), None),
        (
            "POST",
            sa.clone(),
            Some(
                json!({"name": "n", "contactEmail": "a@b.org", "access": {"type": "datasets", "datasetIds": []}}),
            ),
        ),
        (
            "POST",
            sa.clone(),
            Some(json!({"name": "", "contactEmail": "a@b.org"})),
        ),
        ("GET", format!("{sa}/{victim}"), None),
        (
            "PATCH",
            format!("{sa}/{victim}"),
            Some(json!({"name": "renamed"})),
        ),
        ("GET", format!("{sa}/{victim}/apikey"), None),
        ("POST", format!("{sa}/{victim}/secret"), None),
        ("DELETE", format!("{sa}/{victim}"), None),
    ];
    let http = reqwest::Client::new();
    let mut failures = Vec::new();
    for (method, path, body) in calls {
        let Some((tpl, op)) = template(&spec, method, path.split('?').next().unwrap()) else {
            failures.push(format!("{method} {path} is not in the description"));
            continue;
        };
        let mut req = http
            .request(method.parse().unwrap(), app.url(&path))
            .header("Ocp-Apim-Subscription-Key", &admin.key)
            .bearer_auth(&t);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        if let Err(e) = check_shape(&spec, op, status.as_u16(), &body) {
            failures.push(format!("{method} {tpl} ({status}): {e}"));
        }
    }
    // The token endpoint's answers match too.
    let (_, op) = template(&spec, "POST", "/oauth2/token").unwrap();
    for secret in [admin.secret.as_str(), "dwbs_wrong"] {
        let r = http
            .post(app.url("/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &admin.id.to_string()),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        if let Err(e) = check_shape(&spec, op, status.as_u16(), &body) {
            failures.push(format!("POST /oauth2/token ({status}): {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        StatusCode::OK,
        reqwest::get(app.url("/api/v2/openapi.json"))
            .await
            .unwrap()
            .status()
    );
}
