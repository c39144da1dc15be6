//! Service accounts over HTTP: credentials, `/oauth2/token`, the gateway,
//! revocation, expiry and the management API, on both stores.

use dwb_core::access::{Access, Level};
use dwb_core::Clock;
use dwb_server::ledger::Actor;
use dwb_server::service_accounts::Ops;
use dwb_store::{Backend, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::helpers::{spawn_app, spawn_second_node};
use crate::on_both_stores;

/// What Data Workbench clients send as `resource`.
pub const HOSTED_RESOURCE: &str =
    "https://dnvglb2cprod.onmicrosoft.com/83054ebf-1d7b-43f5-82ad-b2bde84d7b75";

pub struct Creds {
    pub id: Uuid,
    pub secret: String,
    pub key: String,
}

pub async fn account(app: &TestApp, ws: Uuid, access: Access) -> Creds {
    let ws = app.store.workspace(ws).await.unwrap().unwrap();
    let ops = Ops {
        store: app.store.as_ref(),
        master: &app.master,
        now: app.clock.now(),
    };
    let (_, c) = ops
        .create(
            &Actor::system(),
            &ws,
            "robot",
            "owner@example.org",
            Some(access),
        )
        .await
        .unwrap();
    Creds {
        id: c.client_id,
        secret: c.secret.expose().to_string(),
        key: c.api_key.expose().to_string(),
    }
}

pub async fn token_response(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("resource", HOSTED_RESOURCE),
        ])
        .send()
        .await
        .unwrap()
}

pub async fn token(app: &TestApp, c: &Creds) -> String {
    let r = token_response(app, &c.id.to_string(), &c.secret).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    key: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let c = reqwest::Client::new();
    let mut req = c
        .request(method.parse().unwrap(), app.url(&format!("/api/v2{path}")))
        .header("Ocp-Apim-Subscription-Key", key)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn an_account_lives_from_creation_to_deletion(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.demo.id;
    let admin = account(&app, ws, Access::Workspace(Level::Admin)).await;
    let admin_token = token(&app, &admin).await;

    // Create an account through the management API: the credentials come once.
    let (status, created) = call(&app, "POST", &format!("/workspaces/{ws}/serviceaccounts"), &admin.key, &admin_token,
        Some(json!({"name": " Reporting ", "contactEmail": "Owner@Example.org", "access": {"type": "workspace", "level": "Reader"}}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "Reporting");
    assert_eq!(created["contactEmail"], "owner@example.org");
    let cred = &created["credentials"];
    let app_creds = Creds {
        id: cred["serviceAccountId"].as_str().unwrap().parse().unwrap(),
        secret: cred["serviceAccountSecret"].as_str().unwrap().into(),
        key: cred["apiKey"].as_str().unwrap().into(),
    };
    assert!(app_creds.secret.starts_with("dwbs_") && app_creds.key.starts_with("dwbk_"));
    assert_eq!(cred["tokenUrl"], app.url("/oauth2/token"));
    assert_eq!(
        cred["endpointsBaseUrl"],
        app.url(&format!("/api/v2/workspaces/{ws}"))
    );
    let path = format!("/workspaces/{ws}/serviceaccounts/{}", app_creds.id);
    let (status, got) = call(&app, "GET", &path, &admin.key, &admin_token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(got.get("credentials").is_none() && !got.to_string().contains(&app_creds.secret));
    let (_, key) = call(
        &app,
        "GET",
        &format!("{path}/apikey"),
        &admin.key,
        &admin_token,
        None,
    )
    .await;
    assert_eq!(
        key["apiKey"],
        app_creds.key.as_str(),
        "the API key can be shown again"
    );

    let r = reqwest::Client::new()
        .get(app.url(&format!("/api/v2{path}/sample-python")))
        .header("Ocp-Apim-Subscription-Key", &admin.key)
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let script = r.text().await.unwrap();
    assert!(script.contains(&app_creds.id.to_string()) && script.contains(&app_creds.key));
    assert!(!script.contains(&app_creds.secret) && script.contains("DWB_CLIENT_SECRET"));

    // The new account calls the API.
    let t1 = token(&app, &app_creds).await;
    let (status, body) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}"),
        &app_creds.key,
        &t1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"id": ws, "name": "Demo", "description": "A workspace to try dwb in."})
    );

    // Regenerating ends the old secret and its tokens at once.
    let (status, regen) = call(
        &app,
        "POST",
        &format!("{path}/secret"),
        &admin.key,
        &admin_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = regen["serviceAccountSecret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, app_creds.secret);
    let r = token_response(&app, &app_creds.id.to_string(), &app_creds.secret).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}"),
        &app_creds.key,
        &t1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().contains("regenerated"),
        "{body}"
    );
    let fresh = Creds {
        secret: new_secret,
        ..app_creds
    };
    let t2 = token(&app, &fresh).await;
    let (status, _) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}"),
        &fresh.key,
        &t2,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Updates are validated and applied.
    let (status, body) = call(
        &app,
        "PATCH",
        &path,
        &admin.key,
        &admin_token,
        Some(json!({"contactEmail": "nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "contactEmail");
    let (status, body) = call(
        &app,
        "PATCH",
        &path,
        &admin.key,
        &admin_token,
        Some(json!({"name": "Reports", "access": {"type": "datasets"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["access"],
        json!({"type": "datasets", "datasetIds": []})
    );
    let d = Uuid::new_v4();
    let (_, body) = call(
        &app,
        "PATCH",
        &path,
        &admin.key,
        &admin_token,
        Some(json!({"addDatasetIds": [d]})),
    )
    .await;
    assert_eq!(body["access"]["datasetIds"], json!([d]));
    let (status, body) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}"),
        &fresh.key,
        &t2,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "selected data sets only: {body}"
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("selected data sets"));

    // Deleting ends everything at once.
    let (status, _) = call(&app, "DELETE", &path, &admin.key, &admin_token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}"),
        &fresh.key,
        &t2,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap().contains("deleted"));
    let r = token_response(&app, &fresh.id.to_string(), &fresh.secret).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = call(&app, "GET", &path, &admin.key, &admin_token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every call and change is in the ledger.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, ledger) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}/ledger?PageSize=200"),
        &admin.key,
        &admin_token,
        None,
    )
    .await;
    let names: Vec<&str> = ledger["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    for n in [
        "ServiceAccountCreated",
        "ServiceAccountSecretRegenerated",
        "ServiceAccountUpdated",
        "ServiceAccountDeleted",
        "TokenIssued",
        "ApiCall",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let admin_row = app.store.account_secrets(admin.id).await.unwrap().unwrap();
    assert!(
        admin_row.account.last_used_at.is_some(),
        "last used follows API calls"
    );
}
on_both_stores!(an_account_lives_from_creation_to_deletion);

async fn the_token_endpoint_follows_rfc_6749(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = account(&app, app.demo.id, Access::Workspace(Level::Reader)).await;
    let http = reqwest::Client::new();
    let post =
        |form: Vec<(&'static str, String)>| http.post(app.url("/oauth2/token")).form(&form).send();
    let r = post(vec![("client_id", c.id.to_string())]).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "invalid_request", "error_description": "grant_type is missing"})
    );
    let r = post(vec![("grant_type", "password".into())]).await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let r = post(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", c.id.to_string()),
    ])
    .await
    .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error_description"],
        "client_secret is missing"
    );

    let wrong = token_response(&app, &c.id.to_string(), "dwbs_wrong").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let wrong = wrong.text().await.unwrap();
    let unknown = token_response(&app, &Uuid::new_v4().to_string(), "dwbs_wrong")
        .await
        .text()
        .await
        .unwrap();
    let garbage = token_response(&app, "not-a-uuid", "x")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, garbage);

    // HTTP Basic and scope, as standard OAuth2 clients send them.
    let r = http
        .post(app.url("/oauth2/token"))
        .basic_auth(c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api://dwb/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    assert_eq!(body["resource"], "api://dwb");
    let r = http
        .post(app.url("/oauth2/token"))
        .basic_auth(c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", c.secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");

    // Discovery describes the endpoint and publishes the key.
    let meta: Value = http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["token_endpoint"], app.url("/oauth2/token"));
    assert_eq!(meta["grant_types_supported"], json!(["client_credentials"]));
    let jwks: Value = http
        .get(
            app.url(
                meta["jwks_uri"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches(&app.base),
            ),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");

    // Failed authentications are limited per client id.
    for _ in 0..10 {
        token_response(&app, &c.id.to_string(), "dwbs_wrong").await;
    }
    let r = token_response(&app, &c.id.to_string(), &c.secret).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}
on_both_stores!(the_token_endpoint_follows_rfc_6749);

async fn secrets_and_tokens_expire_with_the_clock(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = account(&app, app.demo.id, Access::Workspace(Level::Reader)).await;
    let t = token(&app, &c).await;
    let path = format!("/workspaces/{}", app.demo.id);
    app.clock.advance_secs(3601);
    let (status, body) = call(&app, "GET", &path, &c.key, &t, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap().contains("expired"));
    app.clock.advance_secs(2 * 365 * 24 * 3600);
    let r = token_response(&app, &c.id.to_string(), &c.secret).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("regenerate"));
}
on_both_stores!(secrets_and_tokens_expire_with_the_clock);

async fn the_gateway_names_the_wrong_header(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = account(&app, app.demo.id, Access::Workspace(Level::Reader)).await;
    let b = account(&app, app.demo.id, Access::Workspace(Level::Reader)).await;
    let t = token(&app, &a).await;
    let url = app.url(&format!("/api/v2/workspaces/{}", app.demo.id));
    let http = reqwest::Client::new();
    let r = http.get(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Ocp-Apim-Subscription-Key"));
    let r = http
        .get(&url)
        .header("Ocp-Apim-Subscription-Key", &a.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Authorization header is missing"));
    let (status, body) = call(
        &app,
        "GET",
        &format!("/workspaces/{}", app.demo.id),
        &b.key,
        &t,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the key of another account"
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("not the API key of the service account"));
    let r = http
        .get(&url)
        .header("Ocp-Apim-Subscription-Key", &a.key)
        .bearer_auth("abc.def.ghi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
}
on_both_stores!(the_gateway_names_the_wrong_header);

async fn two_nodes_on_one_store_see_revocations_within_a_second(backend: Backend) {
    let one = spawn_app(backend).await;
    let two = spawn_second_node(&one).await;
    let admin = account(&one, one.demo.id, Access::Workspace(Level::Admin)).await;
    let victim = account(&one, one.demo.id, Access::Workspace(Level::Reader)).await;
    let admin_token = token(&one, &admin).await;
    // A token issued by node one works on node two: the nodes share their keys.
    let victim_token = token(&one, &victim).await;
    let ws_path = format!("/workspaces/{}", one.demo.id);
    let (status, _) = call(&two, "GET", &ws_path, &victim.key, &victim_token, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &one,
        "POST",
        &format!(
            "/workspaces/{}/serviceaccounts/{}/secret",
            one.demo.id, victim.id
        ),
        &admin.key,
        &admin_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let started = std::time::Instant::now();
    loop {
        let (status, _) = call(&two, "GET", &ws_path, &victim.key, &victim_token, None).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "node two still accepts the token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
on_both_stores!(two_nodes_on_one_store_see_revocations_within_a_second);

async fn a_rotated_signing_key_is_used_while_older_tokens_stay_valid(backend: Backend) {
    let one = spawn_app(backend).await;
    let c = account(&one, one.demo.id, Access::Workspace(Level::Reader)).await;
    let old_token = token(&one, &c).await;
    let kid = dwb_server::keys::add_signing_key(one.store.as_ref(), &one.master, one.clock.now())
        .await
        .unwrap();
    // A node started after the rotation signs with the new key.
    let two = spawn_second_node(&one).await;
    let new_token = token(&two, &c).await;
    let header: Value =
        serde_json::from_slice(&base64_url_decode(new_token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["kid"], kid.as_str());
    let ws_path = format!("/workspaces/{}", one.demo.id);
    // Node one learns of the new key when it first sees it; old tokens stay valid everywhere.
    for (node, t) in [(&one, &new_token), (&one, &old_token), (&two, &old_token)] {
        let (status, body) = call(node, "GET", &ws_path, &c.key, t, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let jwks: Value = reqwest::get(one.url("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}
on_both_stores!(a_rotated_signing_key_is_used_while_older_tokens_stay_valid);

fn base64_url_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}
