//! The control store: tenants, people, workspaces, memberships, sessions and
//! the ledger behind one `Store` trait, on SQLite or PostgreSQL chosen from
//! the database URL at run time.

mod accounts;
pub mod backup;
mod datasets;
mod error;
mod jobs;
mod model;
mod sql;
mod sqlite_events;
pub mod testdb;
mod url;

use std::sync::Arc;

use async_trait::async_trait;
use dwb_core::paging::Page;
use dwb_core::validate::Role;
use dwb_core::Timestamp;
use uuid::Uuid;

pub use datasets::RowsChange;
pub use error::StoreError;
pub use jobs::{IngestJob, IngestOperation, IngestStatus, JobOutcome};
pub use model::*;
pub use sql::{migrate_first, migration_versions, Backend, SqlStore};
pub use url::redact_url;

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the server and the command line read and write in the control store.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates the first tenant, workspace and admin when the store is empty.
    /// Returns `None` (and changes nothing) when a tenant already exists.
    async fn bootstrap(&self, first: Bootstrap) -> StoreResult<Option<BootstrapDone>>;
    async fn default_tenant(&self) -> StoreResult<Option<Tenant>>;

    async fn create_user(&self, user: NewUser, event: NewEvent) -> StoreResult<User>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;
    /// The user and their password hash, for signing in.
    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>>;
    async fn set_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        must_change: bool,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<()>;

    async fn create_workspace(&self, ws: NewWorkspace, event: NewEvent) -> StoreResult<Workspace>;
    async fn workspace(&self, id: Uuid) -> StoreResult<Option<Workspace>>;
    async fn workspace_by_name(
        &self,
        tenant_id: Uuid,
        name: &str,
    ) -> StoreResult<Option<Workspace>>;
    async fn tenant_workspaces(&self, tenant_id: Uuid) -> StoreResult<Vec<Workspace>>;
    async fn user_workspaces(&self, user_id: Uuid) -> StoreResult<Vec<Workspace>>;

    async fn members(&self, workspace_id: Uuid) -> StoreResult<Vec<Member>>;
    async fn member_role(&self, workspace_id: Uuid, user_id: Uuid) -> StoreResult<Option<Role>>;
    /// Adds a member; `Conflict` when they already are one.
    async fn add_member(
        &self,
        workspace_id: Uuid,
        who: MemberTarget,
        role: Role,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<User>;
    /// Changes a role; `LastAdmin` when it would leave the workspace without an admin.
    async fn set_member_role(
        &self,
        workspace_id: Uuid,
        user_id: Uuid,
        role: Role,
        event: NewEvent,
    ) -> StoreResult<()>;
    /// Removes a member; `LastAdmin` when it would leave the workspace without an admin.
    async fn remove_member(
        &self,
        workspace_id: Uuid,
        user_id: Uuid,
        event: NewEvent,
    ) -> StoreResult<()>;

    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    /// The session's user when the session exists and has not expired.
    async fn session_user(&self, id_digest: &str, now: Timestamp) -> StoreResult<Option<User>>;
    async fn delete_session(&self, id_digest: &str) -> StoreResult<()>;

    async fn append_event(&self, event: NewEvent) -> StoreResult<()>;
    /// A page of a workspace's ledger, newest first, and the total count.
    async fn workspace_events(
        &self,
        workspace_id: Uuid,
        page: Page,
    ) -> StoreResult<(Vec<Event>, i64)>;

    // Service accounts.
    async fn create_service_account(
        &self,
        a: NewServiceAccount,
        event: NewEvent,
    ) -> StoreResult<ServiceAccount>;
    async fn service_accounts(&self, workspace_id: Uuid) -> StoreResult<Vec<ServiceAccount>>;
    /// The account with its credential digests, for authentication.
    async fn account_secrets(&self, id: Uuid) -> StoreResult<Option<AccountSecrets>>;
    /// The API key sealed under the master key.
    async fn api_key_sealed(&self, id: Uuid) -> StoreResult<Option<String>>;
    async fn update_service_account(
        &self,
        id: Uuid,
        change: AccountChange,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<ServiceAccount>;
    /// Replaces the secret and increments its generation, invalidating older tokens.
    async fn regenerate_secret(
        &self,
        id: Uuid,
        secret: NewSecret,
        event: NewEvent,
    ) -> StoreResult<ServiceAccount>;
    async fn delete_service_account(&self, id: Uuid, event: NewEvent) -> StoreResult<()>;
    /// Accounts whose credentials changed after change number `seq`, for cache invalidation.
    async fn credential_changes_since(&self, seq: i64) -> StoreResult<Vec<(i64, Uuid)>>;
    async fn last_credential_change(&self) -> StoreResult<i64>;
    /// Moves each account's "last used" forward (never back).
    async fn record_last_used(&self, uses: &[(Uuid, Timestamp)]) -> StoreResult<()>;
    /// Writes a batch of ledger events in one transaction, in their order.
    async fn append_events(&self, events: Arc<[BufferedEvent]>) -> StoreResult<()>;

    // Token-signing keys.
    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;
    async fn add_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()>;

    /// People and service accounts holding roles in these workspaces.
    async fn role_holders(&self, workspaces: &[Uuid]) -> StoreResult<Vec<RoleHolder>>;

    // Schemas and data sets.
    /// Creates a schema with its version 1 as the default.
    async fn create_schema(&self, s: NewSchema, event: NewEvent) -> StoreResult<SchemaRecord>;
    async fn schemas(&self, workspace_id: Uuid) -> StoreResult<Vec<SchemaRecord>>;
    async fn schema(&self, id: Uuid) -> StoreResult<Option<SchemaRecord>>;
    async fn schema_version(&self, id: Uuid) -> StoreResult<Option<SchemaVersion>>;
    /// Adds the next version (not made the default).
    async fn add_schema_version(
        &self,
        schema: Uuid,
        v: NewSchemaVersion,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<SchemaVersion>;
    async fn update_schema(
        &self,
        schema: Uuid,
        c: SchemaChange,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<SchemaRecord>;
    async fn create_dataset(&self, d: &Dataset, event: NewEvent) -> StoreResult<()>;
    async fn datasets(&self, workspace_id: Uuid) -> StoreResult<Vec<Dataset>>;
    async fn dataset(&self, id: Uuid) -> StoreResult<Option<Dataset>>;
    /// Records a data set's new row count after an ingest or a recount and,
    /// when an overwrite changed its schema version, the version of it and
    /// of its derived data sets. A count read at an older table version than
    /// the one recorded is not kept: `Ok(false)`.
    async fn set_dataset_rows(
        &self,
        id: Uuid,
        change: RowsChange,
        by: &str,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<bool>;
    /// Deletes a data set and its derived data sets; returns the ids removed.
    async fn delete_dataset(&self, id: Uuid, event: NewEvent) -> StoreResult<Vec<Uuid>>;

    // Ingest jobs.
    async fn create_ingest_job(&self, job: &IngestJob, event: NewEvent) -> StoreResult<()>;
    async fn ingest_job(&self, id: Uuid) -> StoreResult<Option<IngestJob>>;
    /// Moves a job from `from` to `to`; `false` (nothing changed) when it was elsewhere.
    async fn transition_ingest_job(
        &self,
        id: Uuid,
        from: IngestStatus,
        to: IngestStatus,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Records how a job at `from` ended (`Succeeded` without errors, else
    /// `Failed`); `false` (nothing changed) when it was elsewhere.
    async fn finish_ingest_job(
        &self,
        id: Uuid,
        from: IngestStatus,
        outcome: JobOutcome,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Jobs at `status` not touched since before `before` (at most 100, oldest first).
    async fn stale_ingest_jobs(
        &self,
        status: IngestStatus,
        before: Timestamp,
    ) -> StoreResult<Vec<IngestJob>>;
}
