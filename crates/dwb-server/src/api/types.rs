//! JSON shapes of `/api/v2` (camelCase, as the hosted Data Workbench sends them).

use dwb_core::access::{Access, Level};
use dwb_core::{CoreError, Timestamp};
use dwb_store::{Event, ServiceAccount, Workspace};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
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

#[derive(Debug, Serialize, ToSchema)]
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

#[derive(Debug, Deserialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T: ToSchema> {
    pub result: Vec<T>,
    pub page_index: i64,
    pub page_size: i64,
    pub total_count: i64,
    pub total_pages: i64,
}

/// `PageIndex` / `PageSize` query parameters (either casing).
#[derive(Debug, Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1.
    #[serde(rename = "PageIndex", alias = "pageIndex", alias = "page_index")]
    #[param(rename = "PageIndex")]
    pub page_index: Option<i64>,
    /// Items per page, 1 to 1000 (default 50).
    #[serde(rename = "PageSize", alias = "pageSize", alias = "page_size")]
    #[param(rename = "PageSize")]
    pub page_size: Option<i64>,
}

/// A resource a ledger event is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerResource {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntryOut {
    pub id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub user_name: String,
    pub resource: LedgerResource,
    /// The event's details, with `eventType`, `outcome` and `principalKind`.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub event_name: String,
    pub timestamp: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleScope {
    pub role: String,
    pub scope_type: String,
    pub scope_ref: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleOut {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub is_service_principal: bool,
    pub role_scope: RoleScope,
}

impl From<&dwb_store::RoleHolder> for RoleOut {
    fn from(r: &dwb_store::RoleHolder) -> Self {
        Self {
            user_id: r.id,
            email: r.email.clone(),
            name: r.name.clone(),
            is_service_principal: r.is_service_principal,
            role_scope: RoleScope {
                role: r.role.clone(),
                scope_type: "workspace".into(),
                scope_ref: r.workspace_id,
            },
        }
    }
}

/// The body of every API error.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub status_code: u16,
    pub message: String,
    /// The input field at fault, for 400s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub fn ledger_entry(e: &Event) -> LedgerEntryOut {
    let mut payload = match &e.detail {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({}),
    };
    payload["eventType"] = json!(e.action);
    payload["outcome"] = json!(e.outcome);
    payload["principalKind"] = json!(e.principal_kind);
    LedgerEntryOut {
        id: e.id,
        workspace_id: e.workspace_id,
        user_id: e.principal_id,
        user_name: e.principal_name.clone(),
        resource: LedgerResource {
            kind: e.resource_kind.clone(),
            id: e.resource_id.clone(),
            name: e.resource_name.clone(),
        },
        payload,
        event_name: e.action.clone(),
        timestamp: iso(e.at),
    }
}

/// Access as the API shows and takes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AccessJson {
    /// "Grant all workspace data".
    #[serde(rename = "workspace")]
    Workspace {
        /// `Reader` or `Admin`.
        level: String,
    },
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

#[derive(Debug, Serialize, ToSchema)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewServiceAccountIn {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub contact_email: String,
    pub access: Option<AccessJson>,
}

#[derive(Debug, Deserialize, Default, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsOut {
    pub service_account_id: Uuid,
    pub service_account_secret: String,
    pub api_key: String,
    pub token_url: String,
    pub endpoints_base_url: String,
    pub secret_expires_at: String,
}

/// A new account with its credentials (the secret is shown only here).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedServiceAccountOut {
    #[serde(flatten)]
    pub account: ServiceAccountOut,
    pub credentials: CredentialsOut,
}

/// A regenerated secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretOut {
    pub service_account_id: Uuid,
    pub service_account_secret: String,
    pub secret_expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyOut {
    pub api_key: String,
}

/// The form of `POST /oauth2/token` (credentials may come in HTTP Basic instead).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// Always `client_credentials`.
    pub grant_type: String,
    /// The service account ID.
    pub client_id: Option<String>,
    /// The service account secret.
    pub client_secret: Option<String>,
    /// The audience, as Data Workbench clients send it.
    pub resource: Option<String>,
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
    /// Unix seconds, as a string (as Azure AD v1 returns it).
    pub expires_on: String,
    pub not_before: String,
    pub resource: String,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorOut {
    pub error: String,
    pub error_description: String,
}
