//! The one SQL implementation of `Store`, for SQLite and PostgreSQL alike:
//! queries use `$n` placeholders and portable types (TEXT ids, BIGINT
//! millisecond times, 0/1 flags) that both backends accept, so no statement
//! is written twice; each backend has its own migrations folder.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dwb_core::paging::Page;
use dwb_core::validate::Role;
use dwb_core::Timestamp;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use crate::sqlite_events::EventWriter;
use crate::{accounts, datasets, jobs};
use crate::{
    redact_url, AccountChange, AccountSecrets, Bootstrap, BootstrapDone, BufferedEvent, Dataset,
    Event, Member, MemberTarget, NewEvent, NewSchema, NewSchemaVersion, NewSecret,
    NewServiceAccount, NewSession, NewUser, NewWorkspace, RoleHolder, SchemaChange, SchemaRecord,
    SchemaVersion, ServiceAccount, Store, StoreError, StoreResult, StoredSigningKey, Tenant, User,
    Workspace,
};
use crate::{IngestJob, IngestStatus, JobOutcome, RowsChange};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// How long a request waits for a pooled connection (and for a new one to
/// open) before the store answers "unavailable". PostgreSQL stopped refuses
/// connections, which sqlx retries until this runs out.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest any one store operation (connection, statements, commit) may take
/// on PostgreSQL. A database that stops answering on an open connection (a
/// network partition) would otherwise hold the caller until the kernel gives
/// the connection up, many minutes later.
const POSTGRES_DEADLINE: Duration = Duration::from_secs(8);
/// The same on SQLite: longer than its 30 s busy timeout, so a writer still
/// waits for the command line's write lock as before.
const SQLITE_DEADLINE: Duration = Duration::from_secs(60);
/// Idle connections are closed after this, so a pool that filled up before
/// an outage does not keep probing dead ones for long afterwards.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    deadline: Duration,
    /// The ledger's own writer, for a SQLite file.
    events: Option<EventWriter>,
}

impl SqlStore {
    /// Opens the database at `url` (`sqlite://path` or `postgres://...`) and runs its migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let open_err = |cause: String| StoreError::Open {
            target: redact_url(url),
            cause,
        };
        let backend = Backend::from_url(url)
            .ok_or_else(|| open_err("the URL must start with sqlite:// or postgres://".into()))?;
        sqlx::any::install_default_drivers();
        let (max, deadline) = match backend {
            Backend::Sqlite => (4, SQLITE_DEADLINE),
            Backend::Postgres => (16, POSTGRES_DEADLINE),
        };
        let sqlite = backend == Backend::Sqlite;
        // `test_before_acquire` (on by default, kept) pings an idle connection
        // before handing it out, so connections a database restart broke are
        // dropped and replaced instead of failing a request after recovery.
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(IDLE_TIMEOUT)
            .test_before_acquire(true)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // The server and the command line share one file: a
                        // writer waits for the other rather than failing.
                        sqlx::query("PRAGMA busy_timeout = 30000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        if sqlite {
            // Readers never block the writer, nor the writer readers (kept in
            // the file, so every later connection uses it too).
            if let Err(e) = sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "cannot switch SQLite to write-ahead logging");
            }
        }
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| open_err(format!("migrations failed: {e}")))?;
        let events = if sqlite {
            ledger_file(&pool, url).await.map(EventWriter::new)
        } else {
            None
        };
        Ok(Self {
            pool,
            backend,
            deadline,
            events,
        })
    }

    /// Runs one store operation under the store's deadline, so that no
    /// caller (a request, a background task) waits on an unreachable
    /// database for longer. A transaction cut off here rolls back.
    async fn bounded<T>(&self, op: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        tokio::time::timeout(self.deadline, op)
            .await
            .unwrap_or_else(|_| Err(no_answer_within(self.deadline)))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        if let Some(w) = &self.events {
            w.close();
        }
        self.pool.close().await;
    }
}

/// A store operation ran out of its deadline.
pub(crate) fn no_answer_within(limit: Duration) -> StoreError {
    StoreError::Unavailable(format!(
        "the database did not answer within {} seconds",
        limit.as_secs()
    ))
}

/// The file of a SQLite store that the ledger may write through a
/// connection of its own: the file the pool has open (as sqlx read the URL);
/// none for an in-memory or read-only database.
async fn ledger_file(pool: &AnyPool, url: &str) -> Option<std::path::PathBuf> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    if query.split('&').any(|p| {
        p == "mode=ro" || p == "mode=memory" || p == "immutable=1" || p == "immutable=true"
    }) {
        return None;
    }
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_optional(pool)
            .await
            .ok()
            .flatten()?;
    (!file.is_empty()).then(|| file.into())
}

/// Applies only the first `n` embedded migrations to the database at `url`:
/// a database as an older dwb left it, for the upgrade test.
pub async fn migrate_first(url: &str, n: usize) -> StoreResult<()> {
    let backend = Backend::from_url(url).ok_or_else(|| StoreError::Open {
        target: redact_url(url),
        cause: "the URL must start with sqlite:// or postgres://".into(),
    })?;
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| StoreError::Open {
            target: redact_url(url),
            cause: e.to_string(),
        })?;
    let all = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    let mut oldest = sqlx::migrate::Migrator::DEFAULT;
    oldest.migrations = std::borrow::Cow::Owned(all.iter().take(n).cloned().collect());
    let done = oldest.run(&pool).await.map_err(|e| StoreError::Open {
        target: redact_url(url),
        cause: format!("migrations failed: {e}"),
    });
    pool.close().await;
    done
}

/// Versions of the embedded migrations of each backend, for the test that keeps them paired.
pub fn migration_versions() -> (Vec<i64>, Vec<i64>) {
    let v = |m: &sqlx::migrate::Migrator| m.iter().map(|x| x.version).collect();
    (v(&SQLITE_MIGRATIONS), v(&POSTGRES_MIGRATIONS))
}

pub(crate) fn id(row: &AnyRow, col: &str) -> StoreResult<Uuid> {
    let s: String = row.try_get(col)?;
    Uuid::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn opt_id(row: &AnyRow, col: &str) -> StoreResult<Option<Uuid>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| Uuid::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

pub(crate) fn ts(row: &AnyRow, col: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp(row.try_get::<i64, _>(col)?))
}

fn flag(row: &AnyRow, col: &str) -> StoreResult<bool> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

fn role(row: &AnyRow, col: &str) -> StoreResult<Role> {
    let s: String = row.try_get(col)?;
    Role::parse("role", &s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const USER_COLS: &str =
    "u.id, u.tenant_id, u.email, u.name, u.tenant_admin, u.must_change_password, u.created_at";
const WS_COLS: &str =
    "w.id, w.tenant_id, w.name, w.description, w.region, w.created_by, w.created_at";

fn user(row: &AnyRow) -> StoreResult<User> {
    Ok(User {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        tenant_admin: flag(row, "tenant_admin")?,
        must_change_password: flag(row, "must_change_password")?,
        created_at: ts(row, "created_at")?,
    })
}

fn workspace(row: &AnyRow) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        region: row.try_get("region")?,
        created_by: opt_id(row, "created_by")?,
        created_at: ts(row, "created_at")?,
    })
}

fn event(row: &AnyRow) -> StoreResult<Event> {
    let detail: String = row.try_get("detail")?;
    Ok(Event {
        id: id(row, "id")?,
        seq: row.try_get("seq")?,
        tenant_id: id(row, "tenant_id")?,
        workspace_id: opt_id(row, "workspace_id")?,
        at: ts(row, "at")?,
        principal_kind: row.try_get("principal_kind")?,
        principal_id: opt_id(row, "principal_id")?,
        principal_name: row.try_get("principal_name")?,
        action: row.try_get("action")?,
        resource_kind: row.try_get("resource_kind")?,
        resource_id: row.try_get("resource_id")?,
        resource_name: row.try_get("resource_name")?,
        outcome: row.try_get("outcome")?,
        detail: serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

pub(crate) type Conn = sqlx::AnyConnection;

pub(crate) async fn insert_event(conn: &mut Conn, e: &NewEvent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO ledger_events (id, tenant_id, workspace_id, at, principal_kind, principal_id, \
         principal_name, action, resource_kind, resource_id, resource_name, outcome, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(e.tenant_id.to_string())
    .bind(e.workspace_id.map(|u| u.to_string()))
    .bind(e.at.millis())
    .bind(&e.principal_kind)
    .bind(e.principal_id.map(|u| u.to_string()))
    .bind(&e.principal_name)
    .bind(&e.action)
    .bind(&e.resource_kind)
    .bind(&e.resource_id)
    .bind(&e.resource_name)
    .bind(&e.outcome)
    .bind(e.detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_user(conn: &mut Conn, u: &NewUser) -> StoreResult<User> {
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, name, password_hash, tenant_admin, \
         must_change_password, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(u.id.to_string())
    .bind(u.tenant_id.to_string())
    .bind(&u.email)
    .bind(&u.name)
    .bind(&u.password_hash)
    .bind(i64::from(u.tenant_admin))
    .bind(i64::from(u.must_change_password))
    .bind(u.now.millis())
    .execute(conn)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("a user with this email"),
        other => other,
    })?;
    Ok(User {
        id: u.id,
        tenant_id: u.tenant_id,
        email: u.email.clone(),
        name: u.name.clone(),
        tenant_admin: u.tenant_admin,
        must_change_password: u.must_change_password,
        created_at: u.now,
    })
}

async fn insert_workspace(conn: &mut Conn, w: &NewWorkspace) -> StoreResult<Workspace> {
    sqlx::query(
        "INSERT INTO workspaces (id, tenant_id, name, description, region, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(w.id.to_string())
    .bind(w.tenant_id.to_string())
    .bind(&w.name)
    .bind(&w.description)
    .bind(&w.region)
    .bind(w.created_by.map(|u| u.to_string()))
    .bind(w.now.millis())
    .execute(&mut *conn)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("a workspace with this name"),
        other => other,
    })?;
    if let Some(creator) = w.created_by {
        insert_membership(conn, w.id, creator, Role::Admin, w.now).await?;
    }
    Ok(Workspace {
        id: w.id,
        tenant_id: w.tenant_id,
        name: w.name.clone(),
        description: w.description.clone(),
        region: w.region.clone(),
        created_by: w.created_by,
        created_at: w.now,
    })
}

async fn insert_membership(
    conn: &mut Conn,
    ws: Uuid,
    user: Uuid,
    role: Role,
    now: Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(ws.to_string())
    .bind(user.to_string())
    .bind(role.as_str())
    .bind(now.millis())
    .execute(conn)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("this member"),
        other => other,
    })?;
    Ok(())
}

/// Takes the workspace's write lock (a row lock on PostgreSQL, the database
/// write lock on SQLite) so that admin counts cannot race, and returns the
/// member's current role.
async fn lock_member(conn: &mut Conn, ws: Uuid, user: Uuid) -> StoreResult<Role> {
    let touched = sqlx::query("UPDATE workspaces SET updated_at = updated_at WHERE id = $1")
        .bind(ws.to_string())
        .execute(&mut *conn)
        .await?;
    if touched.rows_affected() == 0 {
        return Err(StoreError::NotFound("workspace"));
    }
    let row = sqlx::query("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
        .bind(ws.to_string())
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound("member"))?;
    role(&row, "role")
}

async fn admin_count(conn: &mut Conn, ws: Uuid) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships WHERE workspace_id = $1 AND role = 'admin'",
    )
    .bind(ws.to_string())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        self.bounded(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
        .await
    }

    async fn bootstrap(&self, first: Bootstrap) -> StoreResult<Option<BootstrapDone>> {
        self.bounded(async move {
            let mut tx = begin_write(&self.pool).await?;
            let now = first.admin.now;
            let tenant = Tenant {
                id: first.admin.tenant_id,
                name: first.tenant_name.clone(),
                created_at: now,
            };
            // Takes the write lock on SQLite; a concurrent first start fails on the primary key.
            let existing = sqlx::query("SELECT id FROM tenants LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
            if existing.is_some() {
                return Ok(None);
            }
            sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(tenant.id.to_string())
                .bind(&tenant.name)
                .bind(now.millis())
                .execute(&mut *tx)
                .await?;
            let admin = insert_user(&mut tx, &first.admin).await?;
            let workspace = insert_workspace(
                &mut tx,
                &NewWorkspace {
                    id: Uuid::new_v4(),
                    tenant_id: tenant.id,
                    name: first.workspace_name.clone(),
                    description: first.workspace_description.clone(),
                    region: "EU".into(),
                    created_by: Some(admin.id),
                    now,
                },
            )
            .await?;
            insert_event(
                &mut tx,
                &NewEvent {
                    tenant_id: tenant.id,
                    workspace_id: Some(workspace.id),
                    at: now,
                    principal_kind: "system".into(),
                    principal_id: None,
                    principal_name: "dwb".into(),
                    action: "WorkspaceCreated".into(),
                    resource_kind: "workspace".into(),
                    resource_id: Some(workspace.id.to_string()),
                    resource_name: workspace.name.clone(),
                    outcome: "success".into(),
                    detail: serde_json::json!({"firstStart": true, "admin": admin.email}),
                },
            )
            .await?;
            tx.commit().await?;
            Ok(Some(BootstrapDone {
                tenant,
                workspace,
                admin,
            }))
        })
        .await
    }

    async fn default_tenant(&self) -> StoreResult<Option<Tenant>> {
        self.bounded(async move {
            let row = sqlx::query(
                "SELECT id, name, created_at FROM tenants ORDER BY created_at, id LIMIT 1",
            )
            .fetch_optional(&self.pool)
            .await?;
            row.map(|r| {
                Ok(Tenant {
                    id: id(&r, "id")?,
                    name: r.try_get("name")?,
                    created_at: ts(&r, "created_at")?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn create_user(&self, new: NewUser, event: NewEvent) -> StoreResult<User> {
        self.bounded(async move {
            let mut tx = begin_write(&self.pool).await?;
            let u = insert_user(&mut tx, &new).await?;
            insert_event(&mut tx, &event).await?;
            tx.commit().await?;
            Ok(u)
        })
        .await
    }

    async fn user_by_id(&self, uid: Uuid) -> StoreResult<Option<User>> {
        self.bounded(async move {
            let q = format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1");
            let row = sqlx::query(&q)
                .bind(uid.to_string())
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(user).transpose()
        })
        .await
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>> {
        self.bounded(async move {
            let q = format!("SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.email = $1");
            let row = sqlx::query(&q)
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
            row.map(|r| Ok((user(&r)?, r.try_get("password_hash")?)))
                .transpose()
        })
        .await
    }

    async fn set_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        must_change: bool,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.bounded(async move {
            let mut tx = begin_write(&self.pool).await?;
            let done = sqlx::query(
                "UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(password_hash)
            .bind(i64::from(must_change))
            .bind(now.millis())
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("user"));
            }
            insert_event(&mut tx, &event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn create_workspace(&self, ws: NewWorkspace, event: NewEvent) -> StoreResult<Workspace> {
        self.bounded(async move {
            let mut tx = begin_write(&self.pool).await?;
            let w = insert_workspace(&mut tx, &ws).await?;
            insert_event(&mut tx, &event).await?;
            tx.commit().await?;
            Ok(w)
        })
        .await
    }

    async fn workspace(&self, wid: Uuid) -> StoreResult<Option<Workspace>> {
        self.bounded(async move {
            let q = format!("SELECT {WS_COLS} FROM workspaces w WHERE w.id = $1");
            let row = sqlx::query(&q)
                .bind(wid.to_string())
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(workspace).transpose()
        })
        .await
    }

    async fn workspace_by_name(
        &self,
        tenant_id: Uuid,
        name: &str,
    ) -> StoreResult<Option<Workspace>> {
        self.bounded(async move {
            let q = format!(
                "SELECT {WS_COLS} FROM workspaces w WHERE w.tenant_id = $1 AND w.name = $2"
            );
            let row = sqlx::query(&q)
                .bind(tenant_id.to_string())
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(workspace).transpose()
        })
        .await
    }

    async fn tenant_workspaces(&self, tenant_id: Uuid) -> StoreResult<Vec<Workspace>> {
        self.bounded(async move {
            let q = format!(
                "SELECT {WS_COLS} FROM workspaces w WHERE w.tenant_id = $1 ORDER BY w.name, w.id"
            );
            let rows = sqlx::query(&q)
                .bind(tenant_id.to_string())
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(workspace).collect()
        })
        .await
    }

    async fn user_workspaces(&self, user_id: Uuid) -> StoreResult<Vec<Workspace>> {
        self.bounded(async move {
            let q = format!(
                "SELECT {WS_COLS} FROM workspaces w JOIN memberships m ON m.workspace_id = w.id \
                 WHERE m.user_id = $1 ORDER BY w.name, w.id"
            );
            let rows = sqlx::query(&q)
                .bind(user_id.to_string())
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(workspace).collect()
        })
        .await
    }

    async fn members(&self, workspace_id: Uuid) -> StoreResult<Vec<Member>> {
        self.bounded(async move {
            let rows = sqlx::query(
                "SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m \
                 JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY u.email",
            )
            .bind(workspace_id.to_string())
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(Member {
                        user_id: id(r, "id")?,
                        email: r.try_get("email")?,
                        name: r.try_get("name")?,
                        role: role(r, "role")?,
                        added_at: ts(r, "created_at")?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn member_role(&self, workspace_id: Uuid, user_id: Uuid) -> StoreResult<Option<Role>> {
        self.bounded(async move {
            let row = sqlx::query(
                "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2",
            )
            .bind(workspace_id.to_string())
            .bind(user_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(|r| role(r, "role")).transpose()
        })
        .await
    }

    async fn add_member(
        &self,
        workspace_id: Uuid,
        who: MemberTarget,
        role: Role,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<User> {
        self.bounded(async move {
            let mut tx = begin_write(&self.pool).await?;
            let u = match who {
                MemberTarget::New(new) => insert_user(&mut tx, &new).await?,
                MemberTarget::Existing(uid) => {
                    let q = format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1");
                    let row = sqlx::query(&q)
                        .bind(uid.to_string())
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound("user"))?;
                    user(&row)?
                }
            };
            insert_membership(&mut tx, workspace_id, u.id, role, now).await?;
            insert_event(&mut tx, &event).await?;
            tx.commit().await?;
            Ok(u)
        })
        .await
    }

    async fn set_member_role(
        &self,
        workspace_id: Uuid,
        user_id: Uuid,
        new_role: Role,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.bounded(async move {
            let mut tx = begin_write(&self.pool).await?;
            let current = lock_member(&mut tx, workspace_id, user_id).await?;
            if current == Role::Admin
                && new_role != Role::Admin
                && admin_count(&mut tx, workspace_id).await? <= 1
            {
                return Err(StoreError::LastAdmin);
            }
            sqlx::query(
                "UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3",
            )
            .bind(new_role.as_str())
            .bind(workspace_id.to_string())
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
            insert_event(&mut tx, &event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn remove_member(
        &self,
        workspace_id: Uuid,
        user_id: Uuid,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.bounded(async move {
            let mut tx = begin_write(&self.pool).await?;
            let current = lock_member(&mut tx, workspace_id, user_id).await?;
            if current == Role::Admin && admin_count(&mut tx, workspace_id).await? <= 1 {
                return Err(StoreError::LastAdmin);
            }
            sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace_id.to_string())
                .bind(user_id.to_string())
                .execute(&mut *tx)
                .await?;
            insert_event(&mut tx, &event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn create_session(&self, s: NewSession) -> StoreResult<()> {
        self.bounded(async move {
            sqlx::query("INSERT INTO sessions (id_digest, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(&s.id_digest)
                .bind(s.user_id.to_string())
                .bind(s.created_at.millis())
                .bind(s.expires_at.millis())
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    async fn session_user(&self, id_digest: &str, now: Timestamp) -> StoreResult<Option<User>> {
        self.bounded(async move {
            let q = format!(
                "SELECT {USER_COLS} FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id_digest = $1 AND s.expires_at > $2"
            );
            let row = sqlx::query(&q)
                .bind(id_digest)
                .bind(now.millis())
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(user).transpose()
        })
        .await
    }

    async fn delete_session(&self, id_digest: &str) -> StoreResult<()> {
        self.bounded(async move {
            sqlx::query("DELETE FROM sessions WHERE id_digest = $1")
                .bind(id_digest)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    async fn append_event(&self, event: NewEvent) -> StoreResult<()> {
        self.bounded(async move {
            let mut conn = self.pool.acquire().await?;
            insert_event(&mut conn, &event).await
        })
        .await
    }

    async fn workspace_events(
        &self,
        workspace_id: Uuid,
        page: Page,
    ) -> StoreResult<(Vec<Event>, i64)> {
        self.bounded(async move {
            let total: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM ledger_events WHERE workspace_id = $1")
                    .bind(workspace_id.to_string())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
            let rows = sqlx::query(
                "SELECT seq, id, tenant_id, workspace_id, at, principal_kind, principal_id, principal_name, action, \
                 resource_kind, resource_id, resource_name, outcome, detail FROM ledger_events \
                 WHERE workspace_id = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3",
            )
            .bind(workspace_id.to_string())
            .bind(page.size)
            .bind(page.offset())
            .fetch_all(&self.pool)
            .await?;
            Ok((rows.iter().map(event).collect::<StoreResult<_>>()?, total))
        })
        .await
    }

    async fn create_service_account(
        &self,
        a: NewServiceAccount,
        event: NewEvent,
    ) -> StoreResult<ServiceAccount> {
        self.bounded(accounts::create(&self.pool, a, event)).await
    }
    async fn service_accounts(&self, workspace_id: Uuid) -> StoreResult<Vec<ServiceAccount>> {
        self.bounded(accounts::list(&self.pool, workspace_id)).await
    }
    async fn account_secrets(&self, id: Uuid) -> StoreResult<Option<AccountSecrets>> {
        self.bounded(accounts::secrets(&self.pool, id)).await
    }
    async fn api_key_sealed(&self, id: Uuid) -> StoreResult<Option<String>> {
        self.bounded(accounts::api_key_sealed(&self.pool, id)).await
    }
    async fn update_service_account(
        &self,
        id: Uuid,
        change: AccountChange,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<ServiceAccount> {
        self.bounded(accounts::update(&self.pool, id, change, now, event))
            .await
    }
    async fn regenerate_secret(
        &self,
        id: Uuid,
        secret: NewSecret,
        event: NewEvent,
    ) -> StoreResult<ServiceAccount> {
        self.bounded(accounts::regenerate(&self.pool, id, secret, event))
            .await
    }
    async fn delete_service_account(&self, id: Uuid, event: NewEvent) -> StoreResult<()> {
        self.bounded(accounts::delete(&self.pool, id, event)).await
    }
    async fn credential_changes_since(&self, seq: i64) -> StoreResult<Vec<(i64, Uuid)>> {
        self.bounded(accounts::changes_since(&self.pool, seq)).await
    }
    async fn last_credential_change(&self) -> StoreResult<i64> {
        self.bounded(accounts::last_change(&self.pool)).await
    }
    async fn record_last_used(&self, uses: &[(Uuid, Timestamp)]) -> StoreResult<()> {
        self.bounded(accounts::record_last_used(&self.pool, uses))
            .await
    }
    async fn append_events(&self, events: Arc<[BufferedEvent]>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        match &self.events {
            // Bounded inside: see `EventWriter::append`.
            Some(w) => w.append(events, self.deadline).await,
            None => {
                self.bounded(accounts::append_events(&self.pool, self.backend, &events))
                    .await
            }
        }
    }
    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        self.bounded(accounts::signing_keys(&self.pool)).await
    }
    async fn add_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()> {
        self.bounded(accounts::add_signing_key(&self.pool, key))
            .await
    }
    async fn role_holders(&self, workspaces: &[Uuid]) -> StoreResult<Vec<RoleHolder>> {
        self.bounded(accounts::role_holders(&self.pool, workspaces))
            .await
    }

    async fn create_schema(&self, s: NewSchema, event: NewEvent) -> StoreResult<SchemaRecord> {
        self.bounded(datasets::create_schema(&self.pool, s, event))
            .await
    }
    async fn schemas(&self, workspace_id: Uuid) -> StoreResult<Vec<SchemaRecord>> {
        self.bounded(datasets::schemas(&self.pool, workspace_id))
            .await
    }
    async fn schema(&self, id: Uuid) -> StoreResult<Option<SchemaRecord>> {
        self.bounded(datasets::schema(&self.pool, id)).await
    }
    async fn schema_version(&self, id: Uuid) -> StoreResult<Option<SchemaVersion>> {
        self.bounded(datasets::schema_version(&self.pool, id)).await
    }
    async fn add_schema_version(
        &self,
        schema: Uuid,
        v: NewSchemaVersion,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<SchemaVersion> {
        self.bounded(datasets::add_schema_version(
            &self.pool, schema, v, now, event,
        ))
        .await
    }
    async fn update_schema(
        &self,
        schema: Uuid,
        c: SchemaChange,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<SchemaRecord> {
        self.bounded(datasets::update_schema(&self.pool, schema, c, now, event))
            .await
    }
    async fn create_dataset(&self, d: &Dataset, event: NewEvent) -> StoreResult<()> {
        self.bounded(datasets::create_dataset(&self.pool, d, event))
            .await
    }
    async fn datasets(&self, workspace_id: Uuid) -> StoreResult<Vec<Dataset>> {
        self.bounded(datasets::datasets(&self.pool, workspace_id))
            .await
    }
    async fn dataset(&self, id: Uuid) -> StoreResult<Option<Dataset>> {
        self.bounded(datasets::dataset_by_id(&self.pool, id)).await
    }
    async fn set_dataset_rows(
        &self,
        id: Uuid,
        change: RowsChange,
        by: &str,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<bool> {
        self.bounded(datasets::set_dataset_rows(
            &self.pool, id, change, by, now, event,
        ))
        .await
    }
    async fn delete_dataset(&self, id: Uuid, event: NewEvent) -> StoreResult<Vec<Uuid>> {
        self.bounded(datasets::delete_dataset(&self.pool, id, event))
            .await
    }
    async fn create_ingest_job(&self, job: &IngestJob, event: NewEvent) -> StoreResult<()> {
        self.bounded(jobs::create(&self.pool, job, event)).await
    }
    async fn ingest_job(&self, id: Uuid) -> StoreResult<Option<IngestJob>> {
        self.bounded(jobs::get(&self.pool, id)).await
    }
    async fn transition_ingest_job(
        &self,
        id: Uuid,
        from: IngestStatus,
        to: IngestStatus,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.bounded(jobs::transition(&self.pool, id, from, to, now))
            .await
    }
    async fn finish_ingest_job(
        &self,
        id: Uuid,
        from: IngestStatus,
        outcome: JobOutcome,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.bounded(jobs::finish(&self.pool, id, from, outcome, now))
            .await
    }
    async fn stale_ingest_jobs(
        &self,
        status: IngestStatus,
        before: Timestamp,
    ) -> StoreResult<Vec<IngestJob>> {
        self.bounded(jobs::stale(&self.pool, status, before)).await
    }
}

/// Begins a transaction that writes. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`), waiting up to the busy timeout for another
/// writer (the command line, another pooled connection): a deferred
/// transaction that reads first fails at once with "database is locked" when
/// it then writes after another connection wrote, since SQLite cannot wait
/// there without risking a deadlock.
pub(crate) async fn begin_write(
    pool: &AnyPool,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
    if pool.connect_options().database_url.scheme() == "sqlite" {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testdb::fresh_database;

    /// The ledger's own connection opens the file the pool has open, and
    /// none is made for an in-memory database.
    #[tokio::test]
    async fn the_ledger_writes_the_pools_file_or_goes_through_the_pool() {
        let url = fresh_database(Backend::Sqlite).await.unwrap();
        let store = SqlStore::connect(&url).await.unwrap();
        let want = crate::backup::sqlite_path(&url)
            .unwrap()
            .canonicalize()
            .unwrap();
        let got = store
            .events
            .as_ref()
            .map(|w| w.path().canonicalize().unwrap());
        assert_eq!(got, Some(want));
        store.close().await;
        let memory = SqlStore::connect("sqlite::memory:").await.unwrap();
        assert!(memory.events.is_none());
    }

    /// A transaction that reads and then writes while another connection
    /// holds the write lock waits for it, then succeeds. (With a deferred
    /// `BEGIN` its write fails at once: "database is locked".)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sqlite_writer_that_reads_first_waits_for_another_writer() {
        let url = fresh_database(Backend::Sqlite).await.unwrap();
        let store = SqlStore::connect(&url).await.unwrap();
        let pool = store.pool.clone();
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        let mut first = begin_write(&pool).await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *first)
            .await
            .unwrap();
        let second = tokio::spawn({
            let pool = pool.clone();
            async move {
                let mut tx = begin_write(&pool).await?;
                let seen: i64 = sqlx::query("SELECT COUNT(*) AS n FROM t")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                sqlx::query("INSERT INTO t VALUES ($1)")
                    .bind(seen + 10)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        first.commit().await.unwrap();
        second.await.unwrap().unwrap();
        let rows: Vec<i64> = sqlx::query("SELECT n FROM t ORDER BY n")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get("n").unwrap())
            .collect();
        assert_eq!(rows, vec![1, 11], "the second saw the first's row");
    }
}
