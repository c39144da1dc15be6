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
    let person = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut failures = Vec::new();
    for (i, who) in WHO.iter().enumerate() {
        // A fresh account to be read, changed, regenerated and deleted by this principal.
        let victim = account(&app, ws, Access::Workspace(Level::Reader)).await.id;
        for (method, path, body, expected) in routes(tenant, ws, victim) {
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
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
on_both_stores!(every_route_answers_every_principal_as_the_policy_says);
