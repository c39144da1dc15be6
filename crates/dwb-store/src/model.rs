//! The records the store reads and writes.

use dwb_core::validate::Role;
use dwb_core::Timestamp;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub name: String,
    pub tenant_admin: bool,
    pub must_change_password: bool,
    pub created_at: Timestamp,
}

#[derive(Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub tenant_admin: bool,
    pub must_change_password: bool,
    pub now: Timestamp,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: String,
    pub region: String,
    pub created_by: Option<Uuid>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewWorkspace {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: String,
    pub region: String,
    /// Becomes the workspace's first admin member.
    pub created_by: Option<Uuid>,
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub added_at: Timestamp,
}

/// Who to add to a workspace: someone who exists, or a new person created with the membership.
#[derive(Debug, Clone)]
pub enum MemberTarget {
    Existing(Uuid),
    New(NewUser),
}

#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub tenant_name: String,
    pub workspace_name: String,
    pub workspace_description: String,
    pub admin: NewUser,
}

#[derive(Debug, Clone)]
pub struct BootstrapDone {
    pub tenant: Tenant,
    pub workspace: Workspace,
    pub admin: User,
}

#[derive(Clone)]
pub struct NewSession {
    pub id_digest: String,
    pub user_id: Uuid,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// What happened, for the ledger: written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub tenant_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub at: Timestamp,
    /// `person`, `service_account`, `system` or `anonymous`.
    pub principal_kind: String,
    pub principal_id: Option<Uuid>,
    pub principal_name: String,
    /// The event name, e.g. `MemberAdded`.
    pub action: String,
    pub resource_kind: String,
    pub resource_id: Option<String>,
    pub resource_name: String,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    /// JSON object with details of the event.
    pub detail: serde_json::Value,
}

/// An event written later, in a batch ([`crate::Store::append_events`]):
/// the API-call ledger keeps up to hundreds of thousands of these waiting,
/// so the strings that repeat from call to call (kinds, actions, outcomes,
/// account names, routes) are shared and the detail is kept as JSON text,
/// about a quarter of a [`NewEvent`]'s memory; they are written as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferedEvent {
    pub tenant_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub at: Timestamp,
    pub principal_kind: Arc<str>,
    pub principal_id: Option<Uuid>,
    pub principal_name: Arc<str>,
    pub action: Arc<str>,
    pub resource_kind: Arc<str>,
    pub resource_id: Option<Arc<str>>,
    pub resource_name: Box<str>,
    pub outcome: Arc<str>,
    /// A JSON object's text (the ledger parses it when read: whoever builds
    /// one by hand must write valid JSON; `From<NewEvent>` does).
    pub detail: Box<str>,
}

impl BufferedEvent {
    /// `e`, its repeating strings made by `share` (which may hand out an
    /// `Arc` it already holds).
    pub fn shared(e: NewEvent, mut share: impl FnMut(&str) -> Arc<str>) -> Self {
        Self {
            tenant_id: e.tenant_id,
            workspace_id: e.workspace_id,
            at: e.at,
            principal_kind: share(&e.principal_kind),
            principal_id: e.principal_id,
            principal_name: share(&e.principal_name),
            action: share(&e.action),
            resource_kind: share(&e.resource_kind),
            resource_id: e.resource_id.as_deref().map(&mut share),
            resource_name: e.resource_name.into_boxed_str(),
            outcome: share(&e.outcome),
            detail: e.detail.to_string().into_boxed_str(),
        }
    }
}

impl From<NewEvent> for BufferedEvent {
    fn from(e: NewEvent) -> Self {
        fn own(s: &str) -> Arc<str> {
            Arc::from(s)
        }
        Self::shared(e, own)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub seq: i64,
    pub tenant_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub at: Timestamp,
    pub principal_kind: String,
    pub principal_id: Option<Uuid>,
    pub principal_name: String,
    pub action: String,
    pub resource_kind: String,
    pub resource_id: Option<String>,
    pub resource_name: String,
    pub outcome: String,
    pub detail: serde_json::Value,
}

/// A service account as people and the API see it (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// The client id.
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub contact_email: String,
    pub access: dwb_core::access::Access,
    pub secret_generation: i64,
    pub secret_issued_at: Timestamp,
    pub secret_expires_at: Timestamp,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// An account with the digests its credentials are checked against.
#[derive(Clone)]
pub struct AccountSecrets {
    pub account: ServiceAccount,
    pub secret_digest: String,
    pub api_key_digest: String,
}

impl std::fmt::Debug for AccountSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSecrets")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// A new account: digests and the sealed API key, never the plain values.
#[derive(Clone)]
pub struct NewServiceAccount {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub contact_email: String,
    pub access: dwb_core::access::Access,
    pub secret_digest: String,
    pub api_key_digest: String,
    pub api_key_sealed: String,
    pub created_by: String,
    pub now: Timestamp,
    pub secret_expires_at: Timestamp,
}

impl std::fmt::Debug for NewServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewServiceAccount")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub name: Option<String>,
    pub contact_email: Option<String>,
    pub access: Option<dwb_core::access::Access>,
}

/// A new secret for an account.
#[derive(Clone)]
pub struct NewSecret {
    pub digest: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A token-signing key; the private half sealed under the master key.
#[derive(Clone)]
pub struct StoredSigningKey {
    pub kid: String,
    pub public_key: String,
    pub private_key_sealed: String,
    pub created_at: Timestamp,
}

/// A person or service account holding a role, for the `users/roles` endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHolder {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub is_service_principal: bool,
    /// `admin` or `reader` (people), `Admin`, `Reader` or `Datasets` (accounts).
    pub role: String,
    pub workspace_id: Uuid,
}

/// One version of a schema: its columns as the API shows them (a JSON array).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaVersion {
    pub id: Uuid,
    pub schema_id: Uuid,
    pub version: i64,
    pub name: String,
    pub description: String,
    pub columns: serde_json::Value,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaRecord {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub short_name: String,
    pub description: String,
    pub default_version_id: Option<Uuid>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Oldest first.
    pub versions: Vec<SchemaVersion>,
}

#[derive(Debug, Clone)]
pub struct NewSchemaVersion {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub columns: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct NewSchema {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub short_name: String,
    pub description: String,
    pub created_by: String,
    pub now: Timestamp,
    /// Version 1, which becomes the default.
    pub first_version: NewSchemaVersion,
}

/// Changes to a schema; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct SchemaChange {
    pub name: Option<String>,
    pub short_name: Option<String>,
    pub description: Option<String>,
    pub default_version_id: Option<Uuid>,
}

/// A data set: a Delta table in the lake (base), or a saved view of a base data set (derived).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub description: String,
    pub schema_version_id: Uuid,
    /// Set for derived data sets.
    pub base_dataset_id: Option<Uuid>,
    /// Row filters of a derived data set (JSON array of `{column, filterType, filterValues}`).
    pub queries: serde_json::Value,
    /// Column subset of a derived data set (JSON array of names; empty: all).
    pub columns: serde_json::Value,
    /// `{key: [values]}`.
    pub tags: serde_json::Value,
    pub row_count: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub modified_by: String,
    pub modified_at: Timestamp,
}
