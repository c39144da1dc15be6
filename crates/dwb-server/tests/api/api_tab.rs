//! The API management tab over HTTP on both stores: every flow of the seed,
//! and the downloaded Python script run against the live server.

use dwb_store::{Backend, Store};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::on_both_stores;

fn between<'a>(html: &'a str, after: &str, until: &str) -> &'a str {
    let i = html
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} not in page"))
        + after.len();
    let rest = &html[i..];
    &rest[..rest.find(until).unwrap()]
}

async fn run_script(app: &TestApp, script: &str, secret_env: Option<&str>) -> (bool, String) {
    let path = app
        .lake_dir
        .with_extension(format!("{}.py", Uuid::new_v4().simple()));
    std::fs::write(&path, script).unwrap();
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(&path).env_remove("DWB_CLIENT_SECRET");
    if let Some(s) = secret_env {
        cmd.env("DWB_CLIENT_SECRET", s);
    }
    let out = cmd.output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn every_flow_of_the_api_management_tab(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.demo.id;
    let csv = "Time,Channel,Value\n2026-01-01T00:00:00Z,A,1.5\n2026-01-01T01:00:00Z,B,2.5\n";
    let path = app.lake_dir.with_extension("readings.csv");
    std::fs::write(&path, csv).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_dwb"))
        .args([
            "datasets",
            "import",
            "--workspace",
            "Demo",
            "--name",
            "Readings",
            "--json",
        ])
        .args([
            "--database-url",
            &app.database_url,
            "--lake-url",
            &app.lake_dir.display().to_string(),
        ])
        .arg("--csv")
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dataset: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dataset_id = dataset["id"].as_str().unwrap().to_string();

    let mut p = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let base = format!("/workspaces/{ws}/api");
    let (status, body) = p.get(&base).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("No service accounts yet") && body.contains("Add account"),
        "empty state"
    );

    // Invalid input is shown next to the field and kept.
    p.get(&format!("{base}/new")).await;
    let (status, body) = p
        .post(
            &format!("{base}/new"),
            &[("name", ""), ("contact_email", "nope"), ("mode", "all")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Account name is required."), "{body}");
    assert!(body.contains("Contact email must be an email address"));
    assert!(body.contains("Workspace access level is required"));
    assert!(body.contains("value=\"nope\""));

    // Create an all-data Reader account: credentials once.
    let (status, body) = p
        .post(
            &format!("{base}/new"),
            &[
                ("name", "Reporting"),
                ("contact_email", "ops@example.org"),
                ("mode", "all"),
                ("level", "Reader"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("shown only this once"));
    let client_id =
        between(&body, "id=\"c-id\" class=\"mono\" readonly value=\"", "\"").to_string();
    let secret = between(
        &body,
        "id=\"c-secret\" class=\"mono\" readonly value=\"",
        "\"",
    )
    .to_string();
    let key = between(&body, "id=\"c-key\" class=\"mono\" readonly value=\"", "\"").to_string();
    assert!(secret.starts_with("dwbs_") && key.starts_with("dwbk_"));
    let acct = format!("{base}/{client_id}");

    // The script generated while the secret is on screen holds it and works at once.
    let r = p
        .client
        .post(app.url(&format!("{acct}/python")))
        .form(&[("csrf", p.csrf.as_str()), ("secret", secret.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("dwb_reporting.py"));
    let embedded = r.text().await.unwrap();
    assert!(embedded.contains(&secret));
    let (ok, out) = run_script(&app, &embedded, None).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("Readings") && out.contains("\"Channel\": \"A\""),
        "{out}"
    );

    // The account's page: details, endpoints, hidden key until Show.
    let (status, body) = p.get(&acct).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&format!("/api/v2/workspaces/{ws}")) && body.contains("/oauth2/token"));
    assert!(!body.contains(&key), "the API key is hidden until Show");
    assert!(body.contains("all workspace data (Reader)"));
    let (_, body) = p.get(&format!("{acct}?show=key")).await;
    assert!(body.contains(&key));

    // The script downloaded later reads the secret from the environment.
    let later = p
        .client
        .get(app.url(&format!("{acct}/python")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!later.contains(&secret) && later.contains("DWB_CLIENT_SECRET"));
    let (ok, out) = run_script(&app, &later, None).await;
    assert!(
        !ok && out.contains(
            "the service account secret is missing: set the environment variable DWB_CLIENT_SECRET"
        ),
        "{out}"
    );
    let (ok, out) = run_script(&app, &later, Some(&secret)).await;
    assert!(ok, "{out}");

    // Edit name and email, with the same validation.
    let (status, body) = p
        .post(
            &format!("{acct}/details"),
            &[("name", "Reports"), ("contact_email", "bad")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("Contact email must be an email address")
            && body.contains("value=\"Reports\"")
    );
    let (status, body) = p
        .post(
            &format!("{acct}/details"),
            &[("name", "Reports"), ("contact_email", "team@example.org")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Saved the account name and contact email.") && body.contains(">Reports</a>")
    );

    // Change the level, then switch to selected data sets and back.
    let (_, body) = p
        .post(
            &format!("{acct}/access"),
            &[("mode", "all"), ("level", "Admin"), ("save", "1")],
        )
        .await;
    assert!(body.contains("all workspace data (Admin)"), "{body}");
    let (_, body) = p.get(&format!("{acct}/datasets?q=read")).await;
    assert!(body.contains("Readings"));
    let (_, body) = p
        .post(
            &format!("{acct}/access"),
            &[
                ("mode", "datasets"),
                ("dataset", &dataset_id),
                ("save", "1"),
            ],
        )
        .await;
    assert!(
        body.contains("1 selected data set") && body.contains("Stop sharing Readings"),
        "{body}"
    );
    let (_, body) = p
        .get(&format!("/workspaces/{ws}/datasets/{dataset_id}"))
        .await;
    assert!(
        body.contains("Reports (team@example.org)"),
        "Shared with lists the account"
    );
    // The X takes it off the list; Save applies.
    let (_, body) = p
        .post(
            &format!("{acct}/access"),
            &[
                ("mode", "datasets"),
                ("dataset", &dataset_id),
                ("remove", &dataset_id),
            ],
        )
        .await;
    assert!(
        body.contains("Select Save to stop sharing") && !body.contains("Stop sharing Readings")
    );
    assert!(body.contains("1 selected data set"), "not applied yet");
    let (_, body) = p
        .post(
            &format!("{acct}/access"),
            &[("mode", "datasets"), ("save", "1")],
        )
        .await;
    assert!(body.contains("0 selected data sets"), "{body}");

    // Shared with: the data set's page lists people and accounts; an admin revokes a share there.
    p.post(
        &format!("{acct}/access"),
        &[
            ("mode", "datasets"),
            ("dataset", &dataset_id),
            ("save", "1"),
        ],
    )
    .await;
    let (_, body) = p
        .get(&format!("/workspaces/{ws}/datasets/{dataset_id}"))
        .await;
    assert!(
        body.contains("admin@example.org")
            && body.contains("Revoke access of Reports (team@example.org)"),
        "{body}"
    );
    let (status, body) = p
        .post(
            &format!("/workspaces/{ws}/datasets/{dataset_id}/revoke/{client_id}"),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Stopped sharing Readings with Reports."),
        "{body}"
    );
    let (_, body) = p.get(&acct).await;
    assert!(body.contains("0 selected data sets"));
    // A second revoke (another admin was first) records nothing more; an
    // unknown data set is not found and records nothing.
    // Counted without the script's calls, grants and queries above, whose
    // events a background flush may write at any moment.
    const BUFFERED: [&str; 4] = [
        "ApiCall",
        "TokenIssued",
        "DatasetQueried",
        "DatasetReadUrlIssued",
    ];
    let all = dwb_core::paging::Page::parse(Some(1), Some(1000)).unwrap();
    let changes = || async {
        let (events, _) = app.store.workspace_events(ws, all).await.unwrap();
        events
            .iter()
            .filter(|e| !BUFFERED.contains(&e.action.as_str()))
            .count()
    };
    let before = changes().await;
    let revoke = |d: &str| format!("/workspaces/{ws}/datasets/{d}/revoke/{client_id}");
    let (status, _) = p.post(&revoke(&dataset_id), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = p.post(&revoke(&Uuid::new_v4().to_string()), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(changes().await, before);

    // Regenerate: the new secret once; the old one and the old script stop working.
    let (status, body) = p.post(&format!("{acct}/secret"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = between(
        &body,
        "id=\"c-secret\" class=\"mono\" readonly value=\"",
        "\"",
    )
    .to_string();
    assert_ne!(new_secret, secret);
    let (ok, out) = run_script(&app, &embedded, None).await;
    assert!(!ok && out.contains("refused (401)"), "{out}");

    // Remove: the pop-up names the account; Delete removes it.
    let (_, body) = p.get(&format!("{acct}?remove=1")).await;
    assert!(
        body.contains("Remove <strong>Reports</strong>?")
            && body.contains("<dialog id=\"remove-dialog\"")
    );
    let (status, body) = p.post(&format!("{acct}/delete"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Removed the service account Reports."),
        "{body}"
    );
    assert!(app.store.service_accounts(ws).await.unwrap().is_empty());
    let (_, ledger) = p.get(&format!("/workspaces/{ws}/activity")).await;
    assert!(
        ledger.contains("Service account deleted")
            && ledger.contains("Service account secret regenerated")
    );

    // Readers do not see the tab.
    let ann = app.person("ann@example.org", "ann password 1", false).await;
    app.add_member(ws, ann, dwb_core::validate::Role::Reader)
        .await;
    let mut reader = app.signed_in("ann@example.org", "ann password 1").await;
    let (_, body) = reader.get(&format!("/workspaces/{ws}/members")).await;
    assert!(!body.contains("API management"));
    let (status, _) = reader.get(&base).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
on_both_stores!(every_flow_of_the_api_management_tab);

#[tokio::test]
async fn the_api_documentation_page_is_served_with_local_assets_only() {
    let app = spawn_app(Backend::Sqlite).await;
    let body = reqwest::get(app.url("/api/docs"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("/static/apidocs.js") && body.contains("/api/v2/openapi.json"));
    assert!(
        !body.contains("https://") || body.matches("https://").count() == 0,
        "nothing from the internet"
    );
    let js = reqwest::get(app.url("/static/apidocs.js")).await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
}
