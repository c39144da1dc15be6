//! Every `/api/v2` route walked over HTTP by every kind of principal:
//! nobody, Reader, Admin and selected-data-sets accounts, an account of
//! another workspace, and a person with a portal session (the API wants
//! the two headers, not a cookie).

use dwb_core::access::{Access, Level};
use dwb_core::validate::{Description, Name};
use dwb_core::Clock;
use dwb_store::{Backend, NewWorkspace, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::accounts::{account, token, Creds};
use crate::helpers::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::on_both_stores;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Nobody,
    Reader,
    Admin,
    Selected,
    OtherWorkspace,
    Person,
}

const WHO: [Who; 6] = [
    Who::Nobody,
    Who::Reader,
    Who::Admin,
    Who::Selected,
    Who::OtherWorkspace,
    Who::Person,
];

/// (method, path, body, expected status for each of `WHO`, in order).
fn routes(t: Uuid, ws: Uuid, victim: Uuid) -> Vec<(&'static str, String, Option<Value>, [u16; 6])> {
    let sa = format!("/workspaces/{ws}/serviceaccounts");
    vec![
        (
            "GET",
            format!("/tenants/{t}/workspaces"),
            None,
            [401, 200, 200, 403, 200, 401],
        ),
        (
            "POST",
            format!("/tenants/{t}/workspaces"),
            Some(json!({"name": "New", "region": "EU"})),
            [401, 403, 403, 403, 403, 401],
        ),
        (
            "GET",
            format!("/tenants/{t}/users/roles"),
            None,
            [401, 200, 200, 403, 200, 401],
        ),
        (
            "GET",
            format!("/workspaces/{ws}"),
            None,
            [401, 200, 200, 403, 404, 401],
        ),
        (
            "GET",
            format!("/workspaces/{ws}/users/roles"),
            None,
            [401, 200, 200, 403, 404, 401],
        ),
        (
            "GET",
            format!("/workspaces/{ws}/ledger"),
            None,
            [401, 200, 200, 403, 404, 401],
        ),
        ("GET", sa.clone(), None, [401, 403, 200, 403, 404, 401]),
        (
            "POST",
            sa.clone(),
            Some(
                json!({"name": "n", "contactEmail": "a@b.org", "access": {"type": "workspace", "level": "Reader"}}),
            ),
            [401, 403, 201, 403, 404, 401],
        ),
        (
            "GET",
            format!("{sa}/{victim}"),
            None,
            [401, 403, 200, 403, 404, 401],
        ),
        (
            "PATCH",
            format!("{sa}/{victim}"),
            Some(json!({"name": "renamed"})),
            [401, 403, 200, 403, 404, 401],
        ),
        (
            "GET",
            format!("{sa}/{victim}/apikey"),
            None,
            [401, 403, 200, 403, 404, 401],
        ),
        (
            "POST",
            format!("{sa}/{victim}/secret"),
            None,
            [401, 403, 200, 403, 404, 401],
        ),
        (
            "DELETE",
            format!("{sa}/{victim}"),
            None,
            [401, 403, 204, 403, 404, 401],
        ),
        (
            "GET",
            format!("/workspaces/{ws}/no-such-endpoint"),
            None,
            [404, 404, 404, 404, 404, 404],
        ),
    ]
}

/// The data set and schema routes: `d` is shared with the Selected account, `other` is not,
/// `doomed` is deleted by whoever may.
fn data_routes(
    ws: Uuid,
    d: Uuid,
    other: Uuid,
    doomed: Uuid,
    schema: Uuid,
    version: Uuid,
    n: usize,
) -> Vec<(&'static str, String, Option<Value>, [u16; 6])> {
    let w = format!("/workspaces/{ws}");
    let cols = json!([{"name": "a", "type": "Int64"}]);
    vec![
        (
            "GET",
            format!("{w}/datasets"),
            None,
            [401, 200, 200, 200, 404, 401],
        ),
        (
            "POST",
            format!("{w}/datasets/query"),
            Some(json!({})),
            [401, 200, 200, 200, 404, 401],
        ),
        (
            "GET",
            format!("{w}/datasets/{d}"),
            None,
            [401, 200, 200, 200, 404, 401],
        ),
        (
            "POST",
            format!("{w}/datasets/{d}/query"),
            Some(json!({})),
            [401, 200, 200, 200, 404, 401],
        ),
        (
            "GET",
            format!("{w}/datasets/{other}"),
            None,
            [401, 200, 200, 404, 404, 401],
        ),
        (
            "POST",
            format!("{w}/datasets/{other}/query"),
            Some(json!({})),
            [401, 200, 200, 404, 404, 401],
        ),
        (
            "GET",
            format!("{w}/datasets/{d}/sas"),
            None,
            [401, 200, 200, 200, 404, 401],
        ),
        (
            "GET",
            format!("{w}/schemas"),
            None,
            [401, 200, 200, 403, 404, 401],
        ),
        (
            "GET",
            format!("{w}/schemas/{schema}"),
            None,
            [401, 200, 200, 403, 404, 401],
        ),
        (
            "GET",
            format!("{w}/schemas/schemaversions/{version}"),
            None,
            [401, 200, 200, 403, 404, 401],
        ),
        (
            "POST",
            format!("{w}/schemas/add"),
            Some(json!({"name": format!("S{n}"), "columns": cols})),
            [401, 403, 201, 403, 404, 401],
        ),
        (
            "PATCH",
            format!("{w}/schemas/{schema}"),
            Some(json!({"description": "d"})),
            [401, 403, 200, 403, 404, 401],
        ),
        (
            "POST",
            format!("{w}/schemas/schemaversions/add"),
            Some(json!({"schemaId": schema, "columns": cols})),
            [401, 403, 201, 403, 404, 401],
        ),
        (
            "POST",
            format!("{w}/ingest/dataset"),
            Some(
                json!({"datasetName": format!("I{n}"), "files": [{"fileName": "a.csv", "operation": "Create"}]}),
            ),
            [401, 403, 201, 403, 404, 401],
        ),
        (
            "POST",
            format!("{w}/datasets/{d}/derive"),
            Some(json!({"name": format!("D{n}"), "queries": [], "columns": []})),
            [401, 403, 201, 403, 404, 401],
        ),
        (
            "DELETE",
            format!("{w}/datasets/{doomed}"),
            None,
            [401, 403, 204, 403, 404, 401],
        ),
    ]
}

async fn every_route_answers_every_principal_as_the_policy_says(backend: Backend) {
    let app = spawn_app(backend).await;
    let tenant = app.store.default_tenant().await.unwrap().unwrap().id;
    let ws = app.demo.id;
    let other = app
        .store
        .create_workspace(
            NewWorkspace {
                id: Uuid::new_v4(),
                tenant_id: tenant,
                name: Name::parse("n", "Ships").unwrap().into_string(),
                description: Description::parse("d", "").unwrap().into_string(),
                region: "EU".into(),
                created_by: None,
                now: app.clock.now(),
            },
            dwb_server::ledger::system_event(
                tenant,
                None,
                app.clock.now(),
                "WorkspaceCreated",
                "workspace",
                "x".into(),
                "Ships",
            ),
        )
        .await
        .unwrap();
    let mut creds: Vec<Option<(Creds, String)>> = Vec::new();
    for who in WHO {
        let access = match who {
            Who::Reader => Some((ws, Access::Workspace(Level::Reader))),
            Who::Admin => Some((ws, Access::Workspace(Level::Admin))),
            Who::Selected => Some((ws, Access::Datasets(vec![Uuid::new_v4()]))),
            Who::OtherWorkspace => Some((other.id, Access::Workspace(Level::Admin))),
            Who::Nobody | Who::Person => None,
        };
        creds.push(match access {
            Some((w, a)) => {
                let c = account(&app, w, a).await;
                let t = token(&app, &c).await;
                Some((c, t))
            }
            None => None,
        });
    }
    let lake = dwb_lake::Lake::open(&app.lake_dir.display().to_string()).unwrap();
    let data = dwb_server::datasets::DataOps::once(app.store.as_ref(), &lake, app.clock.now());
    let demo = app.store.workspace(ws).await.unwrap().unwrap();
    let csv = |name: &str| format!("a,b\n1,{name}\n");
    let actor = dwb_server::ledger::Actor::system();
    let import = |name: String| {
        let (data, demo, actor) = (&data, &demo, &actor);
        async move {
            let body = csv(&name);
            data.import_csv(actor, demo, &name, "", json!({}), None, body.as_bytes())
                .await
                .unwrap()
        }
    };
    let shared = import("shared".into()).await;
    let other_set = import("other".into()).await;
    let schema = app
        .store
        .schemas(ws)
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    let version = schema.versions[0].id;
    let selected_ix = WHO.iter().position(|w| *w == Who::Selected).unwrap();
    let sel = creds[selected_ix].as_ref().unwrap().0.id;
    app.store
        .update_service_account(
            sel,
            dwb_store::AccountChange {
                access: Some(Access::Datasets(vec![shared.id])),
                ..Default::default()
            },
            app.clock.now(),
            dwb_server::ledger::system_event(
                tenant,
                Some(ws),
                app.clock.now(),
                "ServiceAccountUpdated",
                "service_account",
                sel.to_string(),
                "x",
            ),
        )
        .await
        .unwrap();
    // The cached access of the account follows the change log.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let person = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut failures = Vec::new();
    for (i, who) in WHO.iter().enumerate() {
        // A fresh account to be read, changed, regenerated and deleted by this principal.
        let victim = account(&app, ws, Access::Workspace(Level::Reader)).await.id;
        let doomed = import(format!("doomed{i}")).await.id;
        let mut all = routes(tenant, ws, victim);
        all.extend(data_routes(
            ws,
            shared.id,
            other_set.id,
            doomed,
            schema.id,
            version,
            i,
        ));
        for (method, path, body, expected) in all {
            let url = app.url(&format!("/api/v2{path}"));
            let client = if *who == Who::Person {
                person.client.clone()
            } else {
                reqwest::Client::new()
            };
            let mut req = client.request(method.parse().unwrap(), &url);
            if let Some((c, t)) = &creds[i] {
                req = req
                    .header("Ocp-Apim-Subscription-Key", &c.key)
                    .bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            let r = req.send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            if status.as_u16() != expected[i] {
                failures.push(format!(
                    "{who:?} {method} {path}: expected {}, got {status}: {text}",
                    expected[i]
                ));
            }
            if status == StatusCode::FORBIDDEN {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    v["message"].as_str().unwrap().contains("needs"),
                    "a 403 says what is needed: {text}"
                );
            }
        }
    }
    // A schema version of Demo, already read (and so kept in memory) by the
    // Reader above, is not found through another workspace, by its admin.
    let o = WHO.iter().position(|w| *w == Who::OtherWorkspace).unwrap();
    let (c, t) = creds[o].as_ref().unwrap();
    let path = format!(
        "/api/v2/workspaces/{}/schemas/schemaversions/{version}",
        other.id
    );
    let r = reqwest::Client::new()
        .get(app.url(&path))
        .header("Ocp-Apim-Subscription-Key", &c.key)
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::NOT_FOUND {
        failures.push(format!(
            "OtherWorkspace GET {path}: expected 404, got {}",
            r.status()
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
on_both_stores!(every_route_answers_every_principal_as_the_policy_says);
