//! Ingest jobs in the store on SQLite and PostgreSQL: recorded, moved only from the status expected, finished with their outcome.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dwb_core::Timestamp;
use dwb_store::testdb::fresh_database;
use dwb_store::{
    Backend, Bootstrap, IngestJob, IngestOperation, IngestStatus, JobOutcome, NewEvent, NewUser,
    SqlStore, Store,
};
use serde_json::json;
use uuid::Uuid;

async fn jobs_move_only_from_the_status_expected(backend: Backend) {
    let url = fresh_database(backend).await.expect("fresh database");
    let store = SqlStore::connect(&url).await.expect("connect");
    let tenant = Uuid::new_v4();
    let admin = NewUser {
        id: Uuid::new_v4(),
        tenant_id: tenant,
        email: "admin@example.org".into(),
        name: String::new(),
        password_hash: "$argon2id$fake".into(),
        tenant_admin: true,
        must_change_password: false,
        now: Timestamp(1000),
    };
    let done = store
        .bootstrap(Bootstrap {
            tenant_name: "Default".into(),
            workspace_name: "Demo".into(),
            workspace_description: String::new(),
            admin,
        })
        .await
        .unwrap()
        .unwrap();
    let ws = done.workspace.id;
    let job = IngestJob {
        id: Uuid::new_v4(),
        workspace_id: ws,
        operation: IngestOperation::Create,
        dataset_id: None,
        dataset_name: "Readings".into(),
        dataset_description: "d".into(),
        schema_version_id: None,
        tags: json!({"site": ["north"]}),
        file_name: "r.csv".into(),
        provider: "test".into(),
        start_automatically: false,
        status: IngestStatus::Created,
        row_count: None,
        errors: Vec::new(),
        principal_kind: "service_account".into(),
        principal_id: Some(Uuid::new_v4()),
        principal_name: "robot".into(),
        created_at: Timestamp(2000),
        updated_at: Timestamp(2000),
    };
    let e = NewEvent {
        tenant_id: tenant,
        workspace_id: Some(ws),
        at: Timestamp(2000),
        principal_kind: "service_account".into(),
        principal_id: job.principal_id,
        principal_name: "robot".into(),
        action: "IngestJobCreated".into(),
        resource_kind: "ingest_job".into(),
        resource_id: Some(job.id.to_string()),
        resource_name: "Readings".into(),
        outcome: "success".into(),
        detail: json!({}),
    };
    store.create_ingest_job(&job, e).await.unwrap();
    assert_eq!(store.ingest_job(job.id).await.unwrap(), Some(job.clone()));
    assert_eq!(store.ingest_job(Uuid::new_v4()).await.unwrap(), None);

    use IngestStatus::*;
    let at = Timestamp(3000);
    assert!(!store
        .transition_ingest_job(job.id, Uploaded, Running, at)
        .await
        .unwrap());
    assert!(store
        .transition_ingest_job(job.id, Created, Uploaded, at)
        .await
        .unwrap());
    assert!(!store
        .transition_ingest_job(job.id, Created, Uploaded, at)
        .await
        .unwrap());
    assert!(store
        .transition_ingest_job(job.id, Uploaded, Running, at)
        .await
        .unwrap());
    let d = Uuid::new_v4();
    let outcome = JobOutcome {
        dataset_id: Some(d),
        row_count: Some(5),
        errors: Vec::new(),
    };
    // A job that has not been touched since 3000 is stale before 3001, not before 3000.
    let stale = store
        .stale_ingest_jobs(Running, Timestamp(3001))
        .await
        .unwrap();
    assert_eq!(stale.iter().map(|j| j.id).collect::<Vec<_>>(), [job.id]);
    assert!(store
        .stale_ingest_jobs(Running, Timestamp(3000))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .stale_ingest_jobs(Uploaded, Timestamp(9000))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .finish_ingest_job(job.id, Running, outcome, Timestamp(4000))
        .await
        .unwrap());
    let got = store.ingest_job(job.id).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.dataset_id, got.row_count),
        (Succeeded, Some(d), Some(5))
    );
    assert_eq!(got.updated_at, Timestamp(4000));

    let failed = JobOutcome {
        errors: vec!["line 3, column Value: 'abc' is not a Double".into()],
        ..JobOutcome::default()
    };
    assert!(
        !store
            .finish_ingest_job(job.id, Running, failed.clone(), Timestamp(5000))
            .await
            .unwrap(),
        "a finished job does not finish again"
    );
    assert_eq!(
        store.ingest_job(job.id).await.unwrap().unwrap().status,
        Succeeded
    );
    assert!(store
        .finish_ingest_job(job.id, Succeeded, failed, Timestamp(5000))
        .await
        .unwrap());
    let got = store.ingest_job(job.id).await.unwrap().unwrap();
    assert_eq!(got.status, Failed);
    assert_eq!(
        got.dataset_id,
        Some(d),
        "an outcome without a data set keeps it"
    );
    assert_eq!(got.errors.len(), 1);
    assert!(!store
        .finish_ingest_job(Uuid::new_v4(), Running, JobOutcome::default(), at)
        .await
        .unwrap());
}

#[tokio::test]
async fn ingest_jobs_hold_on_sqlite() {
    jobs_move_only_from_the_status_expected(Backend::Sqlite).await;
}

#[tokio::test]
async fn ingest_jobs_hold_on_postgres() {
    jobs_move_only_from_the_status_expected(Backend::Postgres).await;
}
