//! Add rows and Replace rows over HTTP: only workspace admins may (readers
//! neither see the forms nor get through), every post needs the session's
//! CSRF token, a derived data set has no rows to write, and a refused post
//! changes nothing and records nothing.

use dwb_core::validate::Role;
use dwb_server::ledger::Actor;
use dwb_store::{Backend, Dataset, Store};
use reqwest::StatusCode;
use serde_json::json;

use crate::datasets::{multipart, CSV};
use crate::helpers::{spawn_app, Portal, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::on_both_stores;

/// Two more readings, in the columns of [`CSV`].
const MORE: &str = "Time,Channel,Value\n\
2026-01-02T00:00:00Z,A,6.5\n\
2026-01-02T01:00:00Z,B,7.5\n";

/// Posts the upload form `action` ("add" or "replace") of data set `d` with
/// `fields` (the CSRF token among them, or not) and `file`.
async fn post_rows(
    p: &Portal,
    app: &TestApp,
    d: &Dataset,
    action: &str,
    fields: &[(&str, &str)],
    file: &str,
) -> (StatusCode, String, String) {
    let url = app.url(&format!(
        "/workspaces/{}/datasets/{}/rows/{action}",
        d.workspace_id, d.id
    ));
    let (ct, bytes) = multipart(fields, file);
    let r = p
        .client
        .post(url)
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let (status, at) = (r.status(), r.url().to_string());
    (status, at, r.text().await.unwrap())
}

/// The rows the store and the lake count for `d`, and its ledger's writes.
async fn state_of(app: &TestApp, d: &Dataset) -> (i64, u64, usize) {
    let stored = app.store.dataset(d.id).await.unwrap().unwrap().row_count;
    let in_lake = app.state.lake.row_count(&d.id.to_string()).await.unwrap();
    let page = dwb_core::paging::Page::parse(Some(1), Some(100)).unwrap();
    let (events, _) = app
        .store
        .workspace_events(d.workspace_id, page)
        .await
        .unwrap();
    let writes = events
        .iter()
        .filter(|e| e.action == "DatasetAppended" || e.action == "DatasetOverwritten")
        .count();
    (stored, in_lake, writes)
}

async fn only_admins_write_rows_and_every_post_needs_its_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.demo.clone();
    let d = app
        .state
        .data()
        .import_csv(
            &Actor::system(),
            &ws,
            "Readings",
            "",
            json!({}),
            None,
            CSV.as_bytes(),
        )
        .await
        .unwrap();
    let page = format!("/workspaces/{}/datasets/{}", ws.id, d.id);

    // A reader sees the data set but not the forms, and is refused with a reason.
    let rita = app
        .person("rita@example.org", "rita password 1", false)
        .await;
    app.add_member(ws.id, rita, Role::Reader).await;
    let mut reader = app.signed_in("rita@example.org", "rita password 1").await;
    let (status, body) = reader.get(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<h2>Readings</h2>"), "{body}");
    for hidden in [
        "Add or replace rows",
        "/rows/add",
        "/rows/replace",
        "Replace rows",
    ] {
        assert!(!body.contains(hidden), "a reader sees {hidden:?}: {body}");
    }
    let csrf = reader.csrf.clone();
    for action in ["add", "replace"] {
        let (status, _, body) =
            post_rows(&reader, &app, &d, action, &[("csrf", &csrf)], MORE).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {body}");
        assert!(
            body.contains("Not allowed")
                && body.contains("creating, changing or deleting data sets"),
            "{action}: {body}"
        );
    }
    assert_eq!(state_of(&app, &d).await, (5, 5, 0));

    // An admin's post without the token, or with another, changes nothing.
    let mut admin = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_, body) = admin.get(&page).await;
    assert!(
        body.contains("Add or replace rows") && body.contains("Keep "),
        "{body}"
    );
    for action in ["add", "replace"] {
        for fields in [
            vec![],
            vec![("csrf", "forged")],
            vec![("csrf", csrf.as_str())],
        ] {
            let (status, _, body) = post_rows(&admin, &app, &d, action, &fields, MORE).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{action} {fields:?}: {body}");
            assert!(body.contains("Form expired"), "{body}");
        }
    }
    assert_eq!(state_of(&app, &d).await, (5, 5, 0));
    // A forged post from a session that has not opened the workspace yet
    // leaves no trace at all: the token is checked before anything is recorded.
    let fresh = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page1 = dwb_core::paging::Page::parse(Some(1), Some(1)).unwrap();
    let (_, before) = app.store.workspace_events(ws.id, page1).await.unwrap();
    let (status, _, _) = post_rows(&fresh, &app, &d, "add", &[("csrf", "forged")], MORE).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, after) = app.store.workspace_events(ws.id, page1).await.unwrap();
    assert_eq!(after, before, "a forged upload recorded ledger events");

    // With its token, the admin's post adds the rows and lands on the page.
    let token = admin.csrf.clone();
    let (status, at, body) = post_rows(&admin, &app, &d, "add", &[("csrf", &token)], MORE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(at.ends_with(&format!("{page}?added=2")), "{at}");
    assert!(
        body.contains("Added 2 rows; Readings now has 7 rows.")
            && body.contains("<dt>Rows</dt><dd>7</dd>"),
        "{body}"
    );
    assert_eq!(state_of(&app, &d).await, (7, 7, 1));

    // A rejected replace: the page with the problem, the rows as they were.
    let bad = "Time,Channel,Value\n2026-01-03T00:00:00Z,A,lots\n";
    let (status, _, body) = post_rows(&admin, &app, &d, "replace", &[("csrf", &token)], bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("The file was rejected; the rows did not change.")
            && body.contains("line 2, column Value: &#39;lots&#39; is not a Double"),
        "{body}"
    );
    assert_eq!(state_of(&app, &d).await, (7, 7, 1));

    // A replace with the data set's own version kept.
    let (status, at, body) = post_rows(
        &admin,
        &app,
        &d,
        "replace",
        &[("csrf", &token), ("schema_version", "")],
        MORE,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(at.ends_with("?replaced=2"), "{at}");
    assert_eq!(state_of(&app, &d).await, (2, 2, 2));

    // A derived data set has no rows of its own to write.
    let view = app
        .state
        .data()
        .derive(
            &Actor::system(),
            &ws,
            &d,
            dwb_server::derived::NewDerived {
                name: "Channel A".into(),
                queries: json!([{"column": "Channel", "filterType": "Equals", "filterValues": ["A"]}]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, body) = admin
        .get(&format!("/workspaces/{}/datasets/{}", ws.id, view.id))
        .await;
    assert!(
        !body.contains("/rows/add") && body.contains("Channel equals A"),
        "{body}"
    );
    let (status, _, body) = post_rows(&admin, &app, &view, "add", &[("csrf", &token)], MORE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("Rows not added: Channel A is a derived data set"),
        "{body}"
    );
    assert_eq!(state_of(&app, &d).await, (2, 2, 2));
}
on_both_stores!(only_admins_write_rows_and_every_post_needs_its_csrf_token);
