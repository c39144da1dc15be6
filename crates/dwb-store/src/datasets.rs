//! SQL for schemas, schema versions and data sets; `SqlStore` delegates here.

use dwb_core::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use crate::sql::{id, insert_event, ts, Conn};
use crate::{
    Dataset, NewEvent, NewSchema, NewSchemaVersion, SchemaChange, SchemaRecord, SchemaVersion,
    StoreError, StoreResult,
};

fn json(row: &AnyRow, col: &str) -> StoreResult<serde_json::Value> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn opt_id(row: &AnyRow, col: &str) -> StoreResult<Option<Uuid>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("{col}: {s}")))
    })
    .transpose()
}

const VERSION_COLS: &str = "id, schema_id, version, name, description, columns, created_at";
const SCHEMA_COLS: &str =
    "id, workspace_id, name, short_name, description, default_version_id, created_by, created_at, updated_at";
const DATASET_COLS: &str =
    "id, workspace_id, name, description, schema_version_id, base_dataset_id, queries, \
    columns, tags, row_count, created_by, created_at, modified_by, modified_at";

fn version(r: &AnyRow) -> StoreResult<SchemaVersion> {
    Ok(SchemaVersion {
        id: id(r, "id")?,
        schema_id: id(r, "schema_id")?,
        version: r.try_get("version")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        columns: json(r, "columns")?,
        created_at: ts(r, "created_at")?,
    })
}

fn dataset(r: &AnyRow) -> StoreResult<Dataset> {
    Ok(Dataset {
        id: id(r, "id")?,
        workspace_id: id(r, "workspace_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        schema_version_id: id(r, "schema_version_id")?,
        base_dataset_id: opt_id(r, "base_dataset_id")?,
        queries: json(r, "queries")?,
        columns: json(r, "columns")?,
        tags: json(r, "tags")?,
        row_count: r.try_get("row_count")?,
        created_by: r.try_get("created_by")?,
        created_at: ts(r, "created_at")?,
        modified_by: r.try_get("modified_by")?,
        modified_at: ts(r, "modified_at")?,
    })
}

async fn load_schema(conn: &mut Conn, schema: Uuid) -> StoreResult<Option<SchemaRecord>> {
    let q = format!("SELECT {SCHEMA_COLS} FROM schemas WHERE id = $1");
    let Some(r) = sqlx::query(&q)
        .bind(schema.to_string())
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let q =
        format!("SELECT {VERSION_COLS} FROM schema_versions WHERE schema_id = $1 ORDER BY version");
    let versions = sqlx::query(&q)
        .bind(schema.to_string())
        .fetch_all(&mut *conn)
        .await?;
    Ok(Some(SchemaRecord {
        id: id(&r, "id")?,
        workspace_id: id(&r, "workspace_id")?,
        name: r.try_get("name")?,
        short_name: r.try_get("short_name")?,
        description: r.try_get("description")?,
        default_version_id: opt_id(&r, "default_version_id")?,
        created_by: r.try_get("created_by")?,
        created_at: ts(&r, "created_at")?,
        updated_at: ts(&r, "updated_at")?,
        versions: versions.iter().map(version).collect::<StoreResult<_>>()?,
    }))
}

async fn insert_version(
    conn: &mut Conn,
    schema: Uuid,
    number: i64,
    v: &NewSchemaVersion,
    now: Timestamp,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO schema_versions ({VERSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(v.id.to_string())
    .bind(schema.to_string())
    .bind(number)
    .bind(&v.name)
    .bind(&v.description)
    .bind(v.columns.to_string())
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(())
}

fn conflict(e: sqlx::Error, what: &'static str) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(what),
        other => other,
    }
}

pub async fn create_schema(
    pool: &AnyPool,
    s: NewSchema,
    event: NewEvent,
) -> StoreResult<SchemaRecord> {
    let mut tx = crate::sql::begin_write(pool).await?;
    sqlx::query(&format!(
        "INSERT INTO schemas ({SCHEMA_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
    ))
    .bind(s.id.to_string())
    .bind(s.workspace_id.to_string())
    .bind(&s.name)
    .bind(&s.short_name)
    .bind(&s.description)
    .bind(s.first_version.id.to_string())
    .bind(&s.created_by)
    .bind(s.now.millis())
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict(e, "a schema with this name"))?;
    insert_version(&mut tx, s.id, 1, &s.first_version, s.now).await?;
    insert_event(&mut tx, &event).await?;
    let created = load_schema(&mut tx, s.id)
        .await?
        .ok_or(StoreError::NotFound("schema"))?;
    tx.commit().await?;
    Ok(created)
}

pub async fn schemas(pool: &AnyPool, workspace: Uuid) -> StoreResult<Vec<SchemaRecord>> {
    let mut conn = pool.acquire().await?;
    let ids = sqlx::query("SELECT id FROM schemas WHERE workspace_id = $1 ORDER BY name, id")
        .bind(workspace.to_string())
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for r in &ids {
        if let Some(s) = load_schema(&mut conn, id(r, "id")?).await? {
            out.push(s);
        }
    }
    Ok(out)
}

pub async fn schema(pool: &AnyPool, schema: Uuid) -> StoreResult<Option<SchemaRecord>> {
    let mut conn = pool.acquire().await?;
    load_schema(&mut conn, schema).await
}

pub async fn schema_version(pool: &AnyPool, v: Uuid) -> StoreResult<Option<SchemaVersion>> {
    let q = format!("SELECT {VERSION_COLS} FROM schema_versions WHERE id = $1");
    let r = sqlx::query(&q)
        .bind(v.to_string())
        .fetch_optional(pool)
        .await?;
    r.as_ref().map(version).transpose()
}

pub async fn add_schema_version(
    pool: &AnyPool,
    schema: Uuid,
    v: NewSchemaVersion,
    now: Timestamp,
    event: NewEvent,
) -> StoreResult<SchemaVersion> {
    let mut tx = crate::sql::begin_write(pool).await?;
    let touched = sqlx::query("UPDATE schemas SET updated_at = $1 WHERE id = $2")
        .bind(now.millis())
        .bind(schema.to_string())
        .execute(&mut *tx)
        .await?;
    if touched.rows_affected() == 0 {
        return Err(StoreError::NotFound("schema"));
    }
    let next: i64 = sqlx::query(
        "SELECT COALESCE(MAX(version), 0) + 1 AS n FROM schema_versions WHERE schema_id = $1",
    )
    .bind(schema.to_string())
    .fetch_one(&mut *tx)
    .await?
    .try_get("n")?;
    insert_version(&mut tx, schema, next, &v, now).await?;
    insert_event(&mut tx, &event).await?;
    tx.commit().await?;
    schema_version(pool, v.id)
        .await?
        .ok_or(StoreError::NotFound("schema version"))
}

pub async fn update_schema(
    pool: &AnyPool,
    schema: Uuid,
    c: SchemaChange,
    now: Timestamp,
    event: NewEvent,
) -> StoreResult<SchemaRecord> {
    let mut tx = crate::sql::begin_write(pool).await?;
    if let Some(v) = c.default_version_id {
        let owner = sqlx::query("SELECT schema_id FROM schema_versions WHERE id = $1")
            .bind(v.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if owner.as_ref().map(|r| id(r, "schema_id")).transpose()? != Some(schema) {
            return Err(StoreError::NotFound("schema version of this schema"));
        }
    }
    let touched = sqlx::query(
        "UPDATE schemas SET name = COALESCE($1, name), short_name = COALESCE($2, short_name), \
         description = COALESCE($3, description), default_version_id = COALESCE($4, default_version_id), \
         updated_at = $5 WHERE id = $6",
    )
    .bind(c.name.as_deref())
    .bind(c.short_name.as_deref())
    .bind(c.description.as_deref())
    .bind(c.default_version_id.map(|v| v.to_string()))
    .bind(now.millis())
    .bind(schema.to_string())
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict(e, "a schema with this name"))?;
    if touched.rows_affected() == 0 {
        return Err(StoreError::NotFound("schema"));
    }
    insert_event(&mut tx, &event).await?;
    let s = load_schema(&mut tx, schema)
        .await?
        .ok_or(StoreError::NotFound("schema"))?;
    tx.commit().await?;
    Ok(s)
}

pub async fn create_dataset(pool: &AnyPool, d: &Dataset, event: NewEvent) -> StoreResult<()> {
    let mut tx = crate::sql::begin_write(pool).await?;
    sqlx::query(&format!(
        "INSERT INTO datasets ({DATASET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(d.id.to_string())
    .bind(d.workspace_id.to_string())
    .bind(&d.name)
    .bind(&d.description)
    .bind(d.schema_version_id.to_string())
    .bind(d.base_dataset_id.map(|b| b.to_string()))
    .bind(d.queries.to_string())
    .bind(d.columns.to_string())
    .bind(d.tags.to_string())
    .bind(d.row_count)
    .bind(&d.created_by)
    .bind(d.created_at.millis())
    .bind(&d.modified_by)
    .bind(d.modified_at.millis())
    .execute(&mut *tx)
    .await?;
    insert_event(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn datasets(pool: &AnyPool, workspace: Uuid) -> StoreResult<Vec<Dataset>> {
    let q =
        format!("SELECT {DATASET_COLS} FROM datasets WHERE workspace_id = $1 ORDER BY name, id");
    let rows = sqlx::query(&q)
        .bind(workspace.to_string())
        .fetch_all(pool)
        .await?;
    rows.iter().map(dataset).collect()
}

pub async fn dataset_by_id(pool: &AnyPool, d: Uuid) -> StoreResult<Option<Dataset>> {
    let q = format!("SELECT {DATASET_COLS} FROM datasets WHERE id = $1");
    let r = sqlx::query(&q)
        .bind(d.to_string())
        .fetch_optional(pool)
        .await?;
    r.as_ref().map(dataset).transpose()
}

/// What an ingest (or a recount) found of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsChange {
    pub rows: i64,
    /// The Delta table version `rows` was counted at (of the base data
    /// set's table, for a derived data set); `None` when unknown.
    pub lake_version: Option<i64>,
    /// The new schema version (of it and its derived data sets), if it changed.
    pub schema_version_id: Option<Uuid>,
}

/// Records `change` and `event` in one transaction. The count is kept only
/// when it was read at the same or a newer table version than the one
/// recorded, so that of two nodes finishing writes at once the older count
/// cannot land last; `Ok(false)` says a newer count stood (the event and a
/// schema change are still recorded).
pub async fn set_dataset_rows(
    pool: &AnyPool,
    d: Uuid,
    change: RowsChange,
    by: &str,
    now: Timestamp,
    event: NewEvent,
) -> StoreResult<bool> {
    let mut tx = crate::sql::begin_write(pool).await?;
    let touched = sqlx::query(
        "UPDATE datasets SET row_count = $1, lake_version = COALESCE($2, lake_version), \
         modified_by = $3, modified_at = $4 \
         WHERE id = $5 AND ($2 IS NULL OR lake_version IS NULL OR lake_version <= $2)",
    )
    .bind(change.rows)
    .bind(change.lake_version)
    .bind(by)
    .bind(now.millis())
    .bind(d.to_string())
    .execute(&mut *tx)
    .await?;
    let kept = touched.rows_affected() > 0;
    if !kept {
        let exists = sqlx::query("SELECT 1 FROM datasets WHERE id = $1")
            .bind(d.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound("data set"));
        }
    }
    if let Some(v) = change.schema_version_id {
        sqlx::query(
            "UPDATE datasets SET schema_version_id = $1 WHERE id = $2 OR base_dataset_id = $2",
        )
        .bind(v.to_string())
        .bind(d.to_string())
        .execute(&mut *tx)
        .await?;
    }
    insert_event(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(kept)
}

/// Deletes a data set, its derived data sets, and every service account's
/// share of them (logged as credential changes so caches follow).
pub async fn delete_dataset(pool: &AnyPool, d: Uuid, event: NewEvent) -> StoreResult<Vec<Uuid>> {
    let mut tx = crate::sql::begin_write(pool).await?;
    let derived = sqlx::query("SELECT id FROM datasets WHERE base_dataset_id = $1")
        .bind(d.to_string())
        .fetch_all(&mut *tx)
        .await?;
    let mut gone = vec![d];
    for r in &derived {
        gone.push(id(r, "id")?);
    }
    for g in &gone {
        let holders =
            sqlx::query("SELECT account_id FROM service_account_datasets WHERE dataset_id = $1")
                .bind(g.to_string())
                .fetch_all(&mut *tx)
                .await?;
        for h in &holders {
            sqlx::query("INSERT INTO credential_changes (account_id, at) VALUES ($1, $2)")
                .bind(h.try_get::<String, _>("account_id")?)
                .bind(event.at.millis())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM service_account_datasets WHERE dataset_id = $1")
            .bind(g.to_string())
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM datasets WHERE base_dataset_id = $1")
        .bind(d.to_string())
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM datasets WHERE id = $1")
        .bind(d.to_string())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("data set"));
    }
    insert_event(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(gone)
}
