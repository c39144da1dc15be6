//! SQL for service accounts, signing keys and the credential change log;
//! `SqlStore` delegates here so that `sql.rs` stays about the foundation.

use dwb_core::access::{Access, Level};
use dwb_core::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use crate::sql::{id, insert_event, ts, Backend, Conn};
use crate::{
    AccountChange, AccountSecrets, BufferedEvent, NewEvent, NewSecret, NewServiceAccount,
    RoleHolder, ServiceAccount, StoreError, StoreResult, StoredSigningKey,
};

const COLS: &str = "id, workspace_id, tenant_id, name, contact_email, access_kind, access_level, \
    secret_generation, secret_issued_at, secret_expires_at, created_by, created_at, updated_at, last_used_at, \
    secret_digest, api_key_digest";

async fn datasets_of(conn: &mut Conn, account: Uuid) -> StoreResult<Vec<Uuid>> {
    let rows = sqlx::query(
        "SELECT dataset_id FROM service_account_datasets WHERE account_id = $1 ORDER BY dataset_id",
    )
    .bind(account.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| id(r, "dataset_id")).collect()
}

async fn secrets_from_row(conn: &mut Conn, r: &AnyRow) -> StoreResult<AccountSecrets> {
    let account_id = id(r, "id")?;
    let kind: String = r.try_get("access_kind")?;
    let access = match kind.as_str() {
        "workspace" => {
            let level: Option<String> = r.try_get("access_level")?;
            let level = Level::parse("access_level", level.as_deref().unwrap_or(""))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Access::Workspace(level)
        }
        "datasets" => Access::Datasets(datasets_of(conn, account_id).await?),
        other => return Err(StoreError::Corrupt(format!("access_kind {other:?}"))),
    };
    let last: Option<i64> = r.try_get("last_used_at")?;
    Ok(AccountSecrets {
        account: ServiceAccount {
            id: account_id,
            workspace_id: id(r, "workspace_id")?,
            tenant_id: id(r, "tenant_id")?,
            name: r.try_get("name")?,
            contact_email: r.try_get("contact_email")?,
            access,
            secret_generation: r.try_get("secret_generation")?,
            secret_issued_at: ts(r, "secret_issued_at")?,
            secret_expires_at: ts(r, "secret_expires_at")?,
            created_by: r.try_get("created_by")?,
            created_at: ts(r, "created_at")?,
            updated_at: ts(r, "updated_at")?,
            last_used_at: last.map(Timestamp),
        },
        secret_digest: r.try_get("secret_digest")?,
        api_key_digest: r.try_get("api_key_digest")?,
    })
}

async fn load(conn: &mut Conn, account: Uuid) -> StoreResult<Option<AccountSecrets>> {
    let q = format!("SELECT {COLS} FROM service_accounts WHERE id = $1");
    let row = sqlx::query(&q)
        .bind(account.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => Ok(Some(secrets_from_row(conn, &r).await?)),
        None => Ok(None),
    }
}

async fn set_datasets(conn: &mut Conn, account: Uuid, access: &Access) -> StoreResult<()> {
    sqlx::query("DELETE FROM service_account_datasets WHERE account_id = $1")
        .bind(account.to_string())
        .execute(&mut *conn)
        .await?;
    if let Access::Datasets(ids) = access {
        for d in ids {
            sqlx::query(
                "INSERT INTO service_account_datasets (account_id, dataset_id) VALUES ($1, $2)",
            )
            .bind(account.to_string())
            .bind(d.to_string())
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

async fn log_change(conn: &mut Conn, account: Uuid, at: Timestamp) -> StoreResult<()> {
    sqlx::query("INSERT INTO credential_changes (account_id, at) VALUES ($1, $2)")
        .bind(account.to_string())
        .bind(at.millis())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn create(
    pool: &AnyPool,
    a: NewServiceAccount,
    event: NewEvent,
) -> StoreResult<ServiceAccount> {
    let mut tx = crate::sql::begin_write(pool).await?;
    sqlx::query(
        "INSERT INTO service_accounts (id, workspace_id, tenant_id, name, contact_email, access_kind, access_level, \
         secret_digest, secret_generation, secret_issued_at, secret_expires_at, api_key_digest, api_key_sealed, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $12, $13, $9, $9)",
    )
    .bind(a.id.to_string())
    .bind(a.workspace_id.to_string())
    .bind(a.tenant_id.to_string())
    .bind(&a.name)
    .bind(&a.contact_email)
    .bind(a.access.kind())
    .bind(a.access.level().map(|l| l.as_str()))
    .bind(&a.secret_digest)
    .bind(a.now.millis())
    .bind(a.secret_expires_at.millis())
    .bind(&a.api_key_digest)
    .bind(&a.api_key_sealed)
    .bind(&a.created_by)
    .execute(&mut *tx)
    .await?;
    set_datasets(&mut tx, a.id, &a.access).await?;
    log_change(&mut tx, a.id, a.now).await?;
    insert_event(&mut tx, &event).await?;
    let created = load(&mut tx, a.id)
        .await?
        .ok_or(StoreError::NotFound("service account"))?;
    tx.commit().await?;
    Ok(created.account)
}

pub async fn list(pool: &AnyPool, workspace: Uuid) -> StoreResult<Vec<ServiceAccount>> {
    let mut conn = pool.acquire().await?;
    let q =
        format!("SELECT {COLS} FROM service_accounts WHERE workspace_id = $1 ORDER BY name, id");
    let rows = sqlx::query(&q)
        .bind(workspace.to_string())
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(secrets_from_row(&mut conn, r).await?.account);
    }
    Ok(out)
}

pub async fn secrets(pool: &AnyPool, account: Uuid) -> StoreResult<Option<AccountSecrets>> {
    let mut conn = pool.acquire().await?;
    load(&mut conn, account).await
}

pub async fn api_key_sealed(pool: &AnyPool, account: Uuid) -> StoreResult<Option<String>> {
    let row = sqlx::query("SELECT api_key_sealed FROM service_accounts WHERE id = $1")
        .bind(account.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.try_get("api_key_sealed")).transpose()?)
}

pub async fn update(
    pool: &AnyPool,
    account: Uuid,
    change: AccountChange,
    now: Timestamp,
    event: NewEvent,
) -> StoreResult<ServiceAccount> {
    let mut tx = crate::sql::begin_write(pool).await?;
    let touched = sqlx::query(
        "UPDATE service_accounts SET name = COALESCE($1, name), contact_email = COALESCE($2, contact_email), \
         updated_at = $3 WHERE id = $4",
    )
    .bind(change.name.as_deref())
    .bind(change.contact_email.as_deref())
    .bind(now.millis())
    .bind(account.to_string())
    .execute(&mut *tx)
    .await?;
    if touched.rows_affected() == 0 {
        return Err(StoreError::NotFound("service account"));
    }
    if let Some(access) = &change.access {
        sqlx::query(
            "UPDATE service_accounts SET access_kind = $1, access_level = $2 WHERE id = $3",
        )
        .bind(access.kind())
        .bind(access.level().map(|l| l.as_str()))
        .bind(account.to_string())
        .execute(&mut *tx)
        .await?;
        set_datasets(&mut tx, account, access).await?;
    }
    log_change(&mut tx, account, now).await?;
    insert_event(&mut tx, &event).await?;
    let updated = load(&mut tx, account)
        .await?
        .ok_or(StoreError::NotFound("service account"))?;
    tx.commit().await?;
    Ok(updated.account)
}

pub async fn regenerate(
    pool: &AnyPool,
    account: Uuid,
    secret: NewSecret,
    event: NewEvent,
) -> StoreResult<ServiceAccount> {
    let mut tx = crate::sql::begin_write(pool).await?;
    let touched = sqlx::query(
        "UPDATE service_accounts SET secret_digest = $1, secret_generation = secret_generation + 1, \
         secret_issued_at = $2, secret_expires_at = $3, updated_at = $2 WHERE id = $4",
    )
    .bind(&secret.digest)
    .bind(secret.issued_at.millis())
    .bind(secret.expires_at.millis())
    .bind(account.to_string())
    .execute(&mut *tx)
    .await?;
    if touched.rows_affected() == 0 {
        return Err(StoreError::NotFound("service account"));
    }
    log_change(&mut tx, account, secret.issued_at).await?;
    insert_event(&mut tx, &event).await?;
    let updated = load(&mut tx, account)
        .await?
        .ok_or(StoreError::NotFound("service account"))?;
    tx.commit().await?;
    Ok(updated.account)
}

pub async fn delete(pool: &AnyPool, account: Uuid, event: NewEvent) -> StoreResult<()> {
    let mut tx = crate::sql::begin_write(pool).await?;
    sqlx::query("DELETE FROM service_account_datasets WHERE account_id = $1")
        .bind(account.to_string())
        .execute(&mut *tx)
        .await?;
    let gone = sqlx::query("DELETE FROM service_accounts WHERE id = $1")
        .bind(account.to_string())
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(StoreError::NotFound("service account"));
    }
    log_change(&mut tx, account, event.at).await?;
    insert_event(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn changes_since(pool: &AnyPool, seq: i64) -> StoreResult<Vec<(i64, Uuid)>> {
    let rows = sqlx::query(
        "SELECT seq, account_id FROM credential_changes WHERE seq > $1 ORDER BY seq LIMIT 10000",
    )
    .bind(seq)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("seq")?, id(r, "account_id")?)))
        .collect()
}

pub async fn last_change(pool: &AnyPool) -> StoreResult<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM credential_changes")
        .fetch_one(pool)
        .await?;
    Ok(row.try_get("n")?)
}

pub async fn record_last_used(pool: &AnyPool, uses: &[(Uuid, Timestamp)]) -> StoreResult<()> {
    let mut tx = crate::sql::begin_write(pool).await?;
    for (account, at) in uses {
        sqlx::query(
            "UPDATE service_accounts SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(at.millis())
        .bind(account.to_string())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rows per multi-row `INSERT` of [`append_events`] (13 parameters each),
/// then a few rows, then one: fixed sizes, so that each connection prepares
/// three texts, not one per chunk length.
pub(crate) const EVENTS_PER_INSERT: [usize; 3] = [64, 8, 1];
/// Parameters of one event row.
pub(crate) const EVENT_PARAMS: usize = 13;

/// The `INSERT` of `rows` events. SQLite gets anonymous `?` parameters:
/// sqlx asks SQLite for each parameter's name, and SQLite finds a `$N`
/// name by a linear search, so `$N` cost P² per statement (200-row
/// statements once took a fifth of the server's CPU); `?` has no name.
fn insert_events_sql(backend: Backend, rows: usize) -> String {
    let tuples: Vec<String> = (0..rows)
        .map(|i| {
            let p: Vec<String> = (1..=EVENT_PARAMS)
                .map(|k| match backend {
                    Backend::Sqlite => "?".to_string(),
                    Backend::Postgres => format!("${}", i * EVENT_PARAMS + k),
                })
                .collect();
            format!("({})", p.join(", "))
        })
        .collect();
    format!("{INSERT_EVENTS}{}", tuples.join(", "))
}

/// The start of every `INSERT` of events, up to its rows: the columns in
/// the order each row's [`EVENT_PARAMS`] values are bound.
pub(crate) const INSERT_EVENTS: &str = "INSERT INTO ledger_events (id, tenant_id, workspace_id, \
     at, principal_kind, principal_id, principal_name, action, resource_kind, resource_id, \
     resource_name, outcome, detail) VALUES ";

/// Every event's detail is JSON text (checked in debug builds before a write).
pub(crate) fn details_are_json(events: &[BufferedEvent]) -> bool {
    events
        .iter()
        .all(|e| serde_json::from_str::<serde_json::Value>(&e.detail).is_ok())
}

/// The `INSERT` of each size of [`EVENTS_PER_INSERT`], made once per backend.
pub(crate) fn insert_events_texts(backend: Backend) -> &'static [String] {
    static TEXTS: std::sync::LazyLock<[Vec<String>; 2]> = std::sync::LazyLock::new(|| {
        [Backend::Sqlite, Backend::Postgres].map(|b| {
            EVENTS_PER_INSERT
                .iter()
                .map(|n| insert_events_sql(b, *n))
                .collect()
        })
    });
    &TEXTS[usize::from(backend == Backend::Postgres)]
}

/// Appends many events in one transaction, many rows per statement: the
/// batches of API-call events keep up with tens of thousands of calls a
/// second. (A statement per row costs a wake-up of sqlx's SQLite thread
/// each; SQLite's `json_each` with one JSON parameter, tried before, turned
/// each row back into JSON text once per column: half the insert's time.)
pub async fn append_events(
    pool: &AnyPool,
    backend: Backend,
    events: &[BufferedEvent],
) -> StoreResult<()> {
    let texts = insert_events_texts(backend);
    debug_assert!(
        details_are_json(events),
        "a ledger event's detail must be JSON"
    );
    if events.is_empty() {
        return Ok(());
    }
    let mut tx = crate::sql::begin_write(pool).await?;
    let mut rest = events;
    for (size, sql) in EVENTS_PER_INSERT.iter().zip(texts) {
        while rest.len() >= *size {
            let (chunk, after) = rest.split_at(*size);
            rest = after;
            let mut q = sqlx::query(sql.as_str());
            for e in chunk {
                q = q
                    .bind(Uuid::new_v4().to_string())
                    .bind(e.tenant_id.to_string())
                    .bind(e.workspace_id.map(|u| u.to_string()))
                    .bind(e.at.millis())
                    .bind(&*e.principal_kind)
                    .bind(e.principal_id.map(|u| u.to_string()))
                    .bind(&*e.principal_name)
                    .bind(&*e.action)
                    .bind(&*e.resource_kind)
                    .bind(e.resource_id.as_deref())
                    .bind(&*e.resource_name)
                    .bind(&*e.outcome)
                    .bind(&*e.detail);
            }
            q.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub async fn signing_keys(pool: &AnyPool) -> StoreResult<Vec<StoredSigningKey>> {
    let rows = sqlx::query("SELECT kid, public_key, private_key_sealed, created_at FROM signing_keys ORDER BY created_at, kid")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredSigningKey {
                kid: r.try_get("kid")?,
                public_key: r.try_get("public_key")?,
                private_key_sealed: r.try_get("private_key_sealed")?,
                created_at: ts(r, "created_at")?,
            })
        })
        .collect()
}

pub async fn add_signing_key(pool: &AnyPool, key: &StoredSigningKey) -> StoreResult<()> {
    sqlx::query("INSERT INTO signing_keys (kid, public_key, private_key_sealed, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&key.kid)
        .bind(&key.public_key)
        .bind(&key.private_key_sealed)
        .bind(key.created_at.millis())
        .execute(pool)
        .await?;
    Ok(())
}

/// People (members) and service accounts of the given workspaces, with their roles.
pub async fn role_holders(pool: &AnyPool, workspaces: &[Uuid]) -> StoreResult<Vec<RoleHolder>> {
    let mut out = Vec::new();
    for ws in workspaces {
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.workspace_id = $1 ORDER BY u.email",
        )
        .bind(ws.to_string())
        .fetch_all(pool)
        .await?;
        for r in &rows {
            out.push(RoleHolder {
                id: id(r, "id")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                is_service_principal: false,
                role: r.try_get("role")?,
                workspace_id: *ws,
            });
        }
        let rows = sqlx::query(
            "SELECT id, contact_email, name, access_kind, access_level FROM service_accounts \
             WHERE workspace_id = $1 ORDER BY name, id",
        )
        .bind(ws.to_string())
        .fetch_all(pool)
        .await?;
        for r in &rows {
            let level: Option<String> = r.try_get("access_level")?;
            out.push(RoleHolder {
                id: id(r, "id")?,
                email: r.try_get("contact_email")?,
                name: r.try_get("name")?,
                is_service_principal: true,
                role: level.unwrap_or_else(|| "Datasets".into()),
                workspace_id: *ws,
            });
        }
    }
    Ok(out)
}
