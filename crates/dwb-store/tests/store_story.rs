//! The store's behaviour as one story, run against SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dwb_core::paging::Page;
use dwb_core::validate::Role;
use dwb_core::Timestamp;
use dwb_store::testdb::fresh_database;
use dwb_store::{
    migration_versions, Backend, Bootstrap, MemberTarget, NewEvent, NewSession, NewUser,
    NewWorkspace, SqlStore, Store, StoreError,
};
use serde_json::json;
use uuid::Uuid;

fn ev(tenant: Uuid, ws: Option<Uuid>, at: i64, action: &str) -> NewEvent {
    NewEvent {
        tenant_id: tenant,
        workspace_id: ws,
        at: Timestamp(at),
        principal_kind: "person".into(),
        principal_id: None,
        principal_name: "tester".into(),
        action: action.into(),
        resource_kind: "workspace".into(),
        resource_id: None,
        resource_name: "x".into(),
        outcome: "success".into(),
        detail: json!({"n": at}),
    }
}

fn new_user(tenant: Uuid, email: &str) -> NewUser {
    NewUser {
        id: Uuid::new_v4(),
        tenant_id: tenant,
        email: email.into(),
        name: String::new(),
        password_hash: "$argon2id$fake".into(),
        tenant_admin: false,
        must_change_password: true,
        now: Timestamp(1000),
    }
}

async fn story(backend: Backend) {
    let url = fresh_database(backend).await.expect("fresh database");
    let store = SqlStore::connect(&url).await.expect("connect");
    assert_eq!(store.backend(), backend);
    store.ping().await.unwrap();

    // First start creates everything once.
    assert!(store.default_tenant().await.unwrap().is_none());
    let tenant_id = Uuid::new_v4();
    let mut admin = new_user(tenant_id, "admin@example.org");
    admin.tenant_admin = true;
    let first = Bootstrap {
        tenant_name: "Default".into(),
        workspace_name: "Demo".into(),
        workspace_description: "d".into(),
        admin: admin.clone(),
    };
    let done = store
        .bootstrap(first.clone())
        .await
        .unwrap()
        .expect("bootstrapped");
    assert_eq!(done.tenant.name, "Default");
    assert_eq!(done.workspace.name, "Demo");
    assert!(done.admin.tenant_admin);
    assert!(
        store.bootstrap(first).await.unwrap().is_none(),
        "second bootstrap changes nothing"
    );
    let tenant = store.default_tenant().await.unwrap().unwrap();
    assert_eq!(tenant.id, tenant_id);
    let demo = done.workspace.clone();
    assert_eq!(
        store.member_role(demo.id, done.admin.id).await.unwrap(),
        Some(Role::Admin)
    );

    // Users: unique emails, credentials, password changes.
    let ann = store
        .create_user(
            new_user(tenant_id, "ann@example.org"),
            ev(tenant_id, None, 1, "UserCreated"),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_user(
                new_user(tenant_id, "ann@example.org"),
                ev(tenant_id, None, 1, "UserCreated")
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let (found, hash) = store
        .user_credentials("ann@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, ann);
    assert_eq!(hash, "$argon2id$fake");
    store
        .set_password(
            ann.id,
            "$argon2id$new",
            false,
            Timestamp(2000),
            ev(tenant_id, None, 2, "PasswordChanged"),
        )
        .await
        .unwrap();
    let (found, hash) = store
        .user_credentials("ann@example.org")
        .await
        .unwrap()
        .unwrap();
    assert!(!found.must_change_password);
    assert_eq!(hash, "$argon2id$new");
    assert!(store
        .user_credentials("nobody@example.org")
        .await
        .unwrap()
        .is_none());

    // Workspaces: unique names per tenant; the creator becomes admin.
    let ws = store
        .create_workspace(
            NewWorkspace {
                id: Uuid::new_v4(),
                tenant_id,
                name: "Ships".into(),
                description: "Vessel data".into(),
                region: "US".into(),
                created_by: Some(done.admin.id),
                now: Timestamp(3000),
            },
            ev(tenant_id, None, 3, "WorkspaceCreated"),
        )
        .await
        .unwrap();
    assert_eq!(store.workspace(ws.id).await.unwrap().unwrap(), ws);
    assert_eq!(
        store
            .workspace_by_name(tenant_id, "Ships")
            .await
            .unwrap()
            .unwrap()
            .id,
        ws.id
    );
    let dup = NewWorkspace {
        id: Uuid::new_v4(),
        tenant_id,
        name: "Ships".into(),
        description: String::new(),
        region: "EU".into(),
        created_by: None,
        now: Timestamp(3000),
    };
    assert!(matches!(
        store
            .create_workspace(dup, ev(tenant_id, None, 3, "WorkspaceCreated"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let names: Vec<_> = store
        .tenant_workspaces(tenant_id)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["Demo", "Ships"]);
    assert!(store.user_workspaces(ann.id).await.unwrap().is_empty());

    // Members: add existing and new people, no duplicates, the last admin stays.
    store
        .add_member(
            ws.id,
            MemberTarget::Existing(ann.id),
            Role::Reader,
            Timestamp(4000),
            ev(tenant_id, Some(ws.id), 4, "MemberAdded"),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .add_member(
                ws.id,
                MemberTarget::Existing(ann.id),
                Role::Admin,
                Timestamp(4000),
                ev(tenant_id, Some(ws.id), 4, "MemberAdded")
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let bob = store
        .add_member(
            ws.id,
            MemberTarget::New(new_user(tenant_id, "bob@example.org")),
            Role::Reader,
            Timestamp(4000),
            ev(tenant_id, Some(ws.id), 5, "MemberAdded"),
        )
        .await
        .unwrap();
    assert!(bob.must_change_password);
    let emails: Vec<_> = store
        .members(ws.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.email, m.role))
        .collect();
    assert_eq!(
        emails,
        [
            ("admin@example.org".to_string(), Role::Admin),
            ("ann@example.org".to_string(), Role::Reader),
            ("bob@example.org".to_string(), Role::Reader)
        ]
    );
    assert_eq!(store.user_workspaces(ann.id).await.unwrap().len(), 1);
    let admin_id = done.admin.id;
    assert!(matches!(
        store
            .set_member_role(
                ws.id,
                admin_id,
                Role::Reader,
                ev(tenant_id, Some(ws.id), 6, "MemberRoleChanged")
            )
            .await,
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        store
            .remove_member(
                ws.id,
                admin_id,
                ev(tenant_id, Some(ws.id), 6, "MemberRemoved")
            )
            .await,
        Err(StoreError::LastAdmin)
    ));
    store
        .set_member_role(
            ws.id,
            ann.id,
            Role::Admin,
            ev(tenant_id, Some(ws.id), 7, "MemberRoleChanged"),
        )
        .await
        .unwrap();
    store
        .set_member_role(
            ws.id,
            admin_id,
            Role::Reader,
            ev(tenant_id, Some(ws.id), 8, "MemberRoleChanged"),
        )
        .await
        .unwrap();
    store
        .remove_member(
            ws.id,
            bob.id,
            ev(tenant_id, Some(ws.id), 9, "MemberRemoved"),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .remove_member(
                ws.id,
                bob.id,
                ev(tenant_id, Some(ws.id), 9, "MemberRemoved")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.member_role(ws.id, bob.id).await.unwrap(), None);

    // A refused change leaves no ledger event behind.
    let (events, total) = store
        .workspace_events(ws.id, Page::parse(Some(1), Some(3)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        total, 5,
        "add, add, role, role, remove, and nothing for refused changes"
    );
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["MemberRemoved", "MemberRoleChanged", "MemberRoleChanged"]
    );
    assert_eq!(events[0].detail, json!({"n": 9}));
    let (older, _) = store
        .workspace_events(ws.id, Page::parse(Some(2), Some(3)).unwrap())
        .await
        .unwrap();
    assert_eq!(older.len(), 2);
    assert!(older[0].seq < events[2].seq);

    // Sessions expire and can be deleted.
    store
        .create_session(NewSession {
            id_digest: "d1".into(),
            user_id: ann.id,
            created_at: Timestamp(0),
            expires_at: Timestamp(10_000),
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .session_user("d1", Timestamp(9_999))
            .await
            .unwrap()
            .unwrap()
            .id,
        ann.id
    );
    assert!(store
        .session_user("d1", Timestamp(10_000))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .session_user("nope", Timestamp(0))
        .await
        .unwrap()
        .is_none());
    store.delete_session("d1").await.unwrap();
    assert!(store
        .session_user("d1", Timestamp(1))
        .await
        .unwrap()
        .is_none());
    store.close().await;
}

#[tokio::test]
async fn the_store_story_holds_on_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_store_story_holds_on_postgres() {
    story(Backend::Postgres).await;
}

#[test]
fn both_backends_have_the_same_migration_versions() {
    let (sqlite, postgres) = migration_versions();
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    let dirs = ["migrations/sqlite", "migrations/postgres"].map(|d| {
        let mut names: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    });
    assert_eq!(dirs[0], dirs[1], "the two folders hold the same file names");
}
