//! Upgrades on SQLite and PostgreSQL: a database made with the oldest
//! migration set and filled as that version of dwb filled it opens with the
//! current one, keeps every row, and takes what the newer tables hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dwb_core::validate::Role;
use dwb_core::{paging::Page, Timestamp};
use dwb_store::testdb::fresh_database;
use dwb_store::{migrate_first, Backend, NewEvent, NewSchema, NewSchemaVersion, SqlStore, Store};
use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

/// Rows as the foundation-only dwb wrote them, in its own SQL.
async fn fill_oldest(url: &str, ids: [Uuid; 3]) {
    let [tenant, user, ws] = ids.map(|i| i.to_string());
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    let statements: [(&str, Vec<String>); 5] = [
        (
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, 1000)",
            vec![tenant.clone(), "Default".into()],
        ),
        (
            "INSERT INTO users (id, tenant_id, email, name, password_hash, tenant_admin, \
             must_change_password, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, 0, 1000, 1000)",
            vec![
                user.clone(),
                tenant.clone(),
                "old@example.org".into(),
                "Old Admin".into(),
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            ],
        ),
        (
            "INSERT INTO workspaces (id, tenant_id, name, description, region, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'EU', $5, 1000, 1000)",
            vec![
                ws.clone(),
                tenant.clone(),
                "Legacy".into(),
                "made before data sets existed".into(),
                user.clone(),
            ],
        ),
        (
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'admin', 1000)",
            vec![ws.clone(), user.clone()],
        ),
        (
            "INSERT INTO ledger_events (id, tenant_id, workspace_id, at, principal_kind, principal_id, \
             principal_name, action, resource_kind, resource_id, resource_name, outcome, detail) \
             VALUES ($1, $2, $3, 1000, 'person', $4, 'Old Admin', 'WorkspaceCreated', 'workspace', $3, \
             'Legacy', 'success', '{}')",
            vec![Uuid::new_v4().to_string(), tenant, ws, user],
        ),
    ];
    for (sql, binds) in statements {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(b);
        }
        q.execute(&mut c).await.unwrap();
    }
    c.close().await.unwrap();
}

async fn an_oldest_database_upgrades_with_everything_intact(backend: Backend) {
    let url = fresh_database(backend).await.expect("fresh database");
    migrate_first(&url, 1)
        .await
        .expect("the oldest migration set");
    let (tenant, user, ws) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    fill_oldest(&url, [tenant, user, ws]).await;

    let store = SqlStore::connect(&url).await.expect("the upgrade runs");
    assert_eq!(store.default_tenant().await.unwrap().unwrap().id, tenant);
    let (u, hash) = store
        .user_credentials("old@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (u.id, u.name.as_str(), u.tenant_admin),
        (user, "Old Admin", true)
    );
    assert!(hash.starts_with("$argon2id$"));
    let w = store
        .workspace_by_name(tenant, "Legacy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (w.id, w.description.as_str()),
        (ws, "made before data sets existed")
    );
    let members = store.members(ws).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!((members[0].user_id, members[0].role), (user, Role::Admin));
    let (events, _) = store
        .workspace_events(ws, Page { index: 1, size: 10 })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "WorkspaceCreated");

    // What later migrations added works on the upgraded database.
    let schema = store
        .create_schema(
            NewSchema {
                id: Uuid::new_v4(),
                workspace_id: ws,
                name: "Sensors".into(),
                short_name: "sens".into(),
                description: String::new(),
                created_by: "Old Admin".into(),
                now: Timestamp(2000),
                first_version: NewSchemaVersion {
                    id: Uuid::new_v4(),
                    name: "v1".into(),
                    description: String::new(),
                    columns: json!([{"name": "Temp", "type": "Double"}]),
                },
            },
            NewEvent {
                tenant_id: tenant,
                workspace_id: Some(ws),
                at: Timestamp(2000),
                principal_kind: "person".into(),
                principal_id: Some(user),
                principal_name: "Old Admin".into(),
                action: "SchemaCreated".into(),
                resource_kind: "schema".into(),
                resource_id: None,
                resource_name: "Sensors".into(),
                outcome: "success".into(),
                detail: json!({}),
            },
        )
        .await
        .unwrap();
    assert_eq!(store.schemas(ws).await.unwrap()[0].id, schema.id);
    assert!(store.service_accounts(ws).await.unwrap().is_empty());
    store.close().await;
    // Opening again runs nothing new and changes nothing.
    let again = SqlStore::connect(&url).await.unwrap();
    assert_eq!(again.members(ws).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_oldest_sqlite_database_upgrades() {
    an_oldest_database_upgrades_with_everything_intact(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_oldest_postgres_database_upgrades() {
    an_oldest_database_upgrades_with_everything_intact(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_databases_use_write_ahead_logging() {
    // The server and the command line share the file: readers must not block writers.
    let url = fresh_database(Backend::Sqlite).await.unwrap();
    let store = SqlStore::connect(&url).await.unwrap();
    let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    c.close().await.unwrap();
    store.close().await;
}
