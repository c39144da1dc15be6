//! JSON shapes of `/api/v2` (camelCase, as the hosted Data Workbench sends them).

use dwb_core::access::{Access, Level};
use dwb_core::{CoreError, Timestamp};
use dwb_store::{Event, ServiceAccount, Workspace};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

/// RFC 3339 in UTC, e.g. `2026-11-26T05:02:00Z`.
pub fn iso(t: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.millis()) * 1_000_000)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceOut {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl WorkspaceOut {
    pub fn brief(w: &Workspace) -> Self {
        Self {
            id: w.id,
            name: w.name.clone(),
            description: w.description.clone(),
            region: None,
        }
    }
    pub fn full(w: &Workspace) -> Self {
        Self {
            region: Some(w.region.clone()),
            ..Self::brief(w)
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewWorkspaceIn {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub region: String,
}

/// A page of results, as every paged endpoint returns it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    pub result: Vec<T>,
    pub page_index: i64,
    pub page_size: i64,
    pub total_count: i64,
    pub total_pages: i64,
}

/// `PageIndex` / `PageSize` query parameters (either casing).
#[derive(Debug, Deserialize, Default)]
pub struct PageParams {
    #[serde(alias = "PageIndex", alias = "pageIndex")]
    pub page_index: Option<i64>,
    #[serde(alias = "PageSize", alias = "pageSize")]
    pub page_size: Option<i64>,
}

pub fn ledger_entry(e: &Event) -> Value {
    let mut payload = match &e.detail {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({}),
    };
    payload["eventType"] = json!(e.action);
    payload["outcome"] = json!(e.outcome);
    payload["principalKind"] = json!(e.principal_kind);
    json!({
        "id": e.id,
        "workspaceId": e.workspace_id,
        "userId": e.principal_id,
        "userName": e.principal_name,
        "resource": {"type": e.resource_kind, "id": e.resource_id, "name": e.resource_name},
        "payload": payload,
        "eventName": e.action,
        "timestamp": iso(e.at),
    })
}

/// Access as the API shows and takes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AccessJson {
    /// "Grant all workspace data".
    #[serde(rename = "workspace")]
    Workspace { level: String },
    /// "Select data sets manually".
    #[serde(rename = "datasets", rename_all = "camelCase")]
    Datasets {
        #[serde(default)]
        dataset_ids: Vec<Uuid>,
    },
}

impl AccessJson {
    pub fn from_access(a: &Access) -> Self {
        match a {
            Access::Workspace(l) => Self::Workspace {
                level: l.as_str().into(),
            },
            Access::Datasets(ids) => Self::Datasets {
                dataset_ids: ids.clone(),
            },
        }
    }
    pub fn parse(self) -> Result<Access, CoreError> {
        match self {
            Self::Workspace { level } => {
                Ok(Access::Workspace(Level::parse("access.level", &level)?))
            }
            Self::Datasets { dataset_ids } => Access::datasets("access.datasetIds", dataset_ids),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountOut {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub contact_email: String,
    pub access: AccessJson,
    pub secret_issued_at: String,
    pub secret_expires_at: String,
    pub created_by: String,
    pub created_on: String,
    pub updated_on: String,
    pub last_used_on: Option<String>,
}

impl From<&ServiceAccount> for ServiceAccountOut {
    fn from(a: &ServiceAccount) -> Self {
        Self {
            id: a.id,
            workspace_id: a.workspace_id,
            name: a.name.clone(),
            contact_email: a.contact_email.clone(),
            access: AccessJson::from_access(&a.access),
            secret_issued_at: iso(a.secret_issued_at),
            secret_expires_at: iso(a.secret_expires_at),
            created_by: a.created_by.clone(),
            created_on: iso(a.created_at),
            updated_on: iso(a.updated_at),
            last_used_on: a.last_used_at.map(iso),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewServiceAccountIn {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub contact_email: String,
    pub access: Option<AccessJson>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountPatch {
    pub name: Option<String>,
    pub contact_email: Option<String>,
    pub access: Option<AccessJson>,
    #[serde(default)]
    pub add_dataset_ids: Vec<Uuid>,
    #[serde(default)]
    pub remove_dataset_ids: Vec<Uuid>,
}

/// The credentials of an account, shown once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsOut {
    pub service_account_id: Uuid,
    pub service_account_secret: String,
    pub api_key: String,
    pub token_url: String,
    pub endpoints_base_url: String,
    pub secret_expires_at: String,
}
