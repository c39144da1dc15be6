//! The store's behaviour as one story, run against SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dwb_core::paging::Page;
use dwb_core::validate::Role;
use dwb_core::Timestamp;
use dwb_store::testdb::fresh_database;
use dwb_store::{
    migration_versions, Backend, Bootstrap, MemberTarget, NewEvent, NewSession, NewUser,
    NewWorkspace, RowsChange, SqlStore, Store, StoreError,
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

fn rows(rows: i64, lake_version: i64, schema_version_id: Option<Uuid>) -> RowsChange {
    RowsChange {
        rows,
        lake_version: Some(lake_version),
        schema_version_id,
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
    accounts_and_datasets(&store, tenant_id, ws.id).await;
    store.close().await;
}

/// Service accounts, schemas and data sets, and how deleting a data set
/// takes it out of every account's selection.
async fn accounts_and_datasets(store: &SqlStore, tenant_id: Uuid, ws: Uuid) {
    use dwb_core::access::{Access, Level};
    use dwb_store::{
        AccountChange, Dataset, NewSchema, NewSchemaVersion, NewSecret, NewServiceAccount,
        SchemaChange,
    };

    let seq0 = store.last_credential_change().await.unwrap();
    let schema = store
        .create_schema(
            NewSchema {
                id: Uuid::new_v4(),
                workspace_id: ws,
                name: "Sensors".into(),
                short_name: "sens".into(),
                description: String::new(),
                created_by: "t".into(),
                now: Timestamp(10),
                first_version: NewSchemaVersion {
                    id: Uuid::new_v4(),
                    name: "v1".into(),
                    description: String::new(),
                    columns: json!([{"name": "Temp", "type": "Double"}]),
                },
            },
            ev(tenant_id, Some(ws), 10, "SchemaCreated"),
        )
        .await
        .unwrap();
    assert_eq!(schema.versions.len(), 1);
    assert_eq!(schema.default_version_id, Some(schema.versions[0].id));
    let v2 = store
        .add_schema_version(
            schema.id,
            NewSchemaVersion {
                id: Uuid::new_v4(),
                name: "v2".into(),
                description: String::new(),
                columns: json!([]),
            },
            Timestamp(11),
            ev(tenant_id, Some(ws), 11, "SchemaVersionAdded"),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let changed = store
        .update_schema(
            schema.id,
            SchemaChange {
                default_version_id: Some(v2.id),
                name: Some("Sensor data".into()),
                ..Default::default()
            },
            Timestamp(12),
            ev(tenant_id, Some(ws), 12, "SchemaUpdated"),
        )
        .await
        .unwrap();
    assert_eq!(changed.default_version_id, Some(v2.id));
    assert_eq!(changed.name, "Sensor data");
    assert!(matches!(
        store
            .update_schema(
                schema.id,
                SchemaChange {
                    default_version_id: Some(Uuid::new_v4()),
                    ..Default::default()
                },
                Timestamp(12),
                ev(tenant_id, Some(ws), 12, "SchemaUpdated")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    let base = Dataset {
        id: Uuid::new_v4(),
        workspace_id: ws,
        name: "Readings".into(),
        description: String::new(),
        schema_version_id: schema.versions[0].id,
        base_dataset_id: None,
        queries: json!([]),
        columns: json!([]),
        tags: json!({"site": ["Oslo"]}),
        row_count: 0,
        created_by: "t".into(),
        created_at: Timestamp(13),
        modified_by: "t".into(),
        modified_at: Timestamp(13),
    };
    store
        .create_dataset(&base, ev(tenant_id, Some(ws), 13, "DatasetCreated"))
        .await
        .unwrap();
    let derived = Dataset {
        id: Uuid::new_v4(),
        name: "Hot readings".into(),
        base_dataset_id: Some(base.id),
        ..base.clone()
    };
    store
        .create_dataset(&derived, ev(tenant_id, Some(ws), 14, "DatasetCreated"))
        .await
        .unwrap();
    store
        .set_dataset_rows(
            base.id,
            rows(42, 3, None),
            "t",
            Timestamp(15),
            ev(tenant_id, Some(ws), 15, "DatasetIngested"),
        )
        .await
        .unwrap();
    assert_eq!(store.dataset(base.id).await.unwrap().unwrap().row_count, 42);
    // An overwrite with another schema version moves the base and its derived data sets.
    store
        .set_dataset_rows(
            base.id,
            rows(7, 5, Some(v2.id)),
            "t",
            Timestamp(16),
            ev(tenant_id, Some(ws), 16, "DatasetOverwritten"),
        )
        .await
        .unwrap();
    for d in [base.id, derived.id] {
        let d = store.dataset(d).await.unwrap().unwrap();
        assert_eq!(d.schema_version_id, v2.id, "{}", d.name);
    }
    assert_eq!(store.dataset(base.id).await.unwrap().unwrap().row_count, 7);
    // A count read at an older table version (another node's, recorded
    // late) does not replace a newer one; its event is still kept.
    let late = ev(tenant_id, Some(ws), 17, "DatasetAppended");
    let kept = store
        .set_dataset_rows(base.id, rows(40, 4, None), "t", Timestamp(17), late)
        .await
        .unwrap();
    assert!(!kept);
    assert_eq!(store.dataset(base.id).await.unwrap().unwrap().row_count, 7);
    let (newest, _) = store
        .workspace_events(ws, Page::parse(Some(1), Some(1)).unwrap())
        .await
        .unwrap();
    assert_eq!(newest[0].action, "DatasetAppended");
    // The same version (a recount) and an unknown version are kept.
    for (n, version) in [(8, Some(5)), (9, None)] {
        let change = RowsChange {
            rows: n,
            lake_version: version,
            schema_version_id: None,
        };
        let e = ev(tenant_id, Some(ws), 18, "DatasetRecounted");
        assert!(store
            .set_dataset_rows(base.id, change, "t", Timestamp(18), e)
            .await
            .unwrap());
        assert_eq!(store.dataset(base.id).await.unwrap().unwrap().row_count, n);
    }
    let e = ev(tenant_id, Some(ws), 18, "DatasetRecounted");
    assert!(matches!(
        store
            .set_dataset_rows(Uuid::new_v4(), rows(1, 9, None), "t", Timestamp(18), e)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.datasets(ws).await.unwrap().len(), 2);

    let account = store
        .create_service_account(
            NewServiceAccount {
                id: Uuid::new_v4(),
                workspace_id: ws,
                tenant_id,
                name: "robot".into(),
                contact_email: "r@example.org".into(),
                access: Access::Datasets(vec![base.id, derived.id]),
                secret_digest: "d1".into(),
                api_key_digest: "k1".into(),
                api_key_sealed: "sealed".into(),
                created_by: "t".into(),
                now: Timestamp(16),
                secret_expires_at: Timestamp(99),
            },
            ev(tenant_id, Some(ws), 16, "ServiceAccountCreated"),
        )
        .await
        .unwrap();
    assert_eq!(account.secret_generation, 1);
    let secrets = store.account_secrets(account.id).await.unwrap().unwrap();
    assert_eq!(
        (
            secrets.secret_digest.as_str(),
            secrets.api_key_digest.as_str()
        ),
        ("d1", "k1")
    );
    assert_eq!(
        store.api_key_sealed(account.id).await.unwrap().unwrap(),
        "sealed"
    );
    let regenerated = store
        .regenerate_secret(
            account.id,
            NewSecret {
                digest: "d2".into(),
                issued_at: Timestamp(17),
                expires_at: Timestamp(200),
            },
            ev(tenant_id, Some(ws), 17, "ServiceAccountSecretRegenerated"),
        )
        .await
        .unwrap();
    assert_eq!(regenerated.secret_generation, 2);
    assert_eq!(regenerated.secret_expires_at, Timestamp(200));
    let updated = store
        .update_service_account(
            account.id,
            AccountChange {
                access: Some(Access::Workspace(Level::Reader)),
                ..Default::default()
            },
            Timestamp(18),
            ev(tenant_id, Some(ws), 18, "ServiceAccountUpdated"),
        )
        .await
        .unwrap();
    assert_eq!(updated.access, Access::Workspace(Level::Reader));
    store
        .update_service_account(
            account.id,
            AccountChange {
                access: Some(Access::Datasets(vec![base.id, derived.id])),
                ..Default::default()
            },
            Timestamp(19),
            ev(tenant_id, Some(ws), 19, "ServiceAccountUpdated"),
        )
        .await
        .unwrap();
    store
        .record_last_used(&[(account.id, Timestamp(30)), (account.id, Timestamp(20))])
        .await
        .unwrap();
    assert_eq!(
        store
            .account_secrets(account.id)
            .await
            .unwrap()
            .unwrap()
            .account
            .last_used_at,
        Some(Timestamp(30))
    );

    // Deleting the base data set removes it, its derived set and both shares.
    let gone = store
        .delete_dataset(base.id, ev(tenant_id, Some(ws), 20, "DatasetDeleted"))
        .await
        .unwrap();
    assert_eq!(gone.len(), 2);
    assert!(store.datasets(ws).await.unwrap().is_empty());
    let after = store.account_secrets(account.id).await.unwrap().unwrap();
    assert_eq!(after.account.access, Access::Datasets(vec![]));
    let changes = store.credential_changes_since(seq0).await.unwrap();
    assert!(
        changes.len() >= 5 && changes.iter().all(|(_, id)| *id == account.id),
        "{changes:?}"
    );
    let roles = store.role_holders(&[ws]).await.unwrap();
    assert!(roles
        .iter()
        .any(|r| r.is_service_principal && r.role == "Datasets"));

    store
        .delete_service_account(
            account.id,
            ev(tenant_id, Some(ws), 21, "ServiceAccountDeleted"),
        )
        .await
        .unwrap();
    assert!(store.account_secrets(account.id).await.unwrap().is_none());
    assert!(matches!(
        store
            .delete_service_account(
                account.id,
                ev(tenant_id, Some(ws), 21, "ServiceAccountDeleted")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    let page = |size| dwb_core::paging::Page { index: 1, size };
    let (_, before) = store.workspace_events(ws, page(1)).await.unwrap();
    // One transaction of several multi-row statements (64 rows each, then 8,
    // then one at a time: 458 = 7 × 64 + 8 + 2); on a SQLite file through the
    // ledger's own connection. The first 192 events come from one caller
    // (the first two statements of 64 share their caller's columns, the
    // second a null among them), but for one event of the third whose
    // outcome differs.
    let calls: Vec<_> = (0..458)
        .map(|i| {
            let mut e = ev(tenant_id, Some(ws), 1000 + i, "ApiCall");
            e.resource_name = format!("call {i}");
            e.detail = json!({"n": i, "quote": "it's; \"fine\""});
            if i < 192 {
                e.resource_id = (!(64..128).contains(&i)).then(|| "/api/v2/x".into());
                e.principal_id = Some(Uuid::from_u128(7));
                e.outcome = if i == 150 { "denied" } else { "success" }.into();
                return e;
            }
            e.resource_id = (i % 2 == 1).then(|| format!("/api/v2/x/{i}"));
            e.principal_id = (i % 3 != 0).then(|| Uuid::from_u128(i as u128 + 7));
            e.outcome = ["success", "denied", "failed"][i as usize % 3].into();
            e
        })
        .collect();
    let buffered: std::sync::Arc<[dwb_store::BufferedEvent]> =
        calls.iter().cloned().map(Into::into).collect();
    store.append_events(buffered.clone()).await.unwrap();
    store.append_events(buffered[..0].into()).await.unwrap();
    let (events, after) = store.workspace_events(ws, page(3)).await.unwrap();
    assert_eq!(after - before, 458);
    let names: Vec<_> = events.iter().map(|e| e.resource_name.as_str()).collect();
    assert_eq!(names, ["call 457", "call 456", "call 455"], "newest first");
    assert_eq!(events[0].detail["quote"], "it's; \"fine\"");
    // Every field of every event as given, once, in order (whichever
    // statement size wrote it).
    let (all, _) = store.workspace_events(ws, page(458)).await.unwrap();
    assert_eq!(all.len(), 458);
    for (e, want) in all.iter().zip(calls.iter().rev()) {
        let got = dwb_store::NewEvent {
            tenant_id: e.tenant_id,
            workspace_id: e.workspace_id,
            at: e.at,
            principal_kind: e.principal_kind.clone(),
            principal_id: e.principal_id,
            principal_name: e.principal_name.clone(),
            action: e.action.clone(),
            resource_kind: e.resource_kind.clone(),
            resource_id: e.resource_id.clone(),
            resource_name: e.resource_name.clone(),
            outcome: e.outcome.clone(),
            detail: e.detail.clone(),
        };
        assert_eq!(&got, want);
    }
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
