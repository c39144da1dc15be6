//! Fresh databases for tests: a new SQLite file or a new PostgreSQL database
//! per call, so that tests never share state. PostgreSQL is reached through
//! `DWB_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! Also the API-call event the ledger tests of several crates write.

use sqlx::Connection;

use dwb_core::Timestamp;
use uuid::Uuid;

use crate::{Backend, NewEvent, StoreError};

pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL of a new, empty database of `backend`.
pub async fn fresh_database(backend: Backend) -> Result<String, StoreError> {
    let name = format!("dwb_t_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("dwb-tests").join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::Open {
                target: dir.display().to_string(),
                cause: e.to_string(),
            })?;
            Ok(format!(
                "sqlite://{}?mode=rwc",
                dir.join("dwb.db").display()
            ))
        }
        Backend::Postgres => {
            let admin = std::env::var("DWB_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.into());
            let mut conn = sqlx::PgConnection::connect(&admin).await.map_err(|e| StoreError::Open {
                target: crate::redact_url(&admin),
                cause: format!("{e} (is PostgreSQL running? set DWB_TEST_POSTGRES_URL to use another server)"),
            })?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await?;
            let (base, _) = admin.rsplit_once('/').unwrap_or((admin.as_str(), ""));
            Ok(format!("{base}/{name}"))
        }
    }
}

/// Call number `n` of one service account ("robot") to
/// `GET /api/v2/workspaces/{id}`, at time `n`: events that differ only in
/// time, resource name and detail.
pub fn api_call(n: i64) -> NewEvent {
    NewEvent {
        tenant_id: Uuid::from_u128(1),
        workspace_id: Some(Uuid::from_u128(2)),
        at: Timestamp(n),
        principal_kind: "service_account".into(),
        principal_id: Some(Uuid::from_u128(3)),
        principal_name: "robot".into(),
        action: "ApiCall".into(),
        resource_kind: "api".into(),
        resource_id: Some("/api/v2/workspaces/{id}".into()),
        resource_name: format!("GET /api/v2/workspaces/{n}"),
        outcome: "success".into(),
        detail: serde_json::json!({"method": "GET", "status": 200, "n": n}),
    }
}
