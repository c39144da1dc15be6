//! Data set operations shared by the API, the portal and the command line:
//! schemas as the API writes them ↔ lake schemas, CSV import (nothing is
//! visible until the whole file is in), row queries with a derived data
//! set's filters and columns always applied, and deletion.

use std::sync::Arc;

use dwb_core::Timestamp;
use dwb_lake::{
    Column, ColumnType, Filter, FilterOp, Lake, LakeError, RowPage, RowQuery, TableSchema,
    WriteMode,
};
use dwb_store::{
    Dataset, NewSchema, NewSchemaVersion, SchemaRecord, SchemaVersion, Store, StoreError, Workspace,
};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use uuid::Uuid;

use crate::ledger::{event, Actor, Resource};
use crate::versions::{KnownVersion, VersionCache};

/// How much of a CSV file is read to infer its schema.
const INFER_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub enum DataError {
    Invalid {
        field: String,
        message: String,
    },
    /// The CSV file was rejected as a whole: the first errors by line and column.
    Rejected(Vec<String>),
    NotFound(&'static str),
    Conflict(String),
    Store(StoreError),
    /// The lake's storage refuses writes (disk full, read-only); the message is for users.
    Unwritable(dwb_lake::Unwritable),
    /// The lake failed; the cause is for the log.
    Lake(String),
}

impl From<StoreError> for DataError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<LakeError> for DataError {
    fn from(e: LakeError) -> Self {
        match e {
            LakeError::BadInput { field, message } => Self::Invalid { field, message },
            LakeError::Rejected { errors } => Self::Rejected(errors),
            LakeError::NotFound(_) => Self::NotFound("data set"),
            LakeError::Conflict(m) => Self::Conflict(m),
            LakeError::Unwritable(u) => Self::Unwritable(u),
            LakeError::Storage(m) => Self::Lake(m),
        }
    }
}

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid { field, message } => write!(f, "{field}: {message}"),
            Self::Rejected(errors) => write!(f, "the file was rejected:\n{}", errors.join("\n")),
            Self::NotFound(what) => write!(f, "{what} not found"),
            Self::Conflict(m) => write!(f, "{m}"),
            Self::Store(e) => write!(f, "{e}"),
            Self::Unwritable(u) => write!(f, "{u}"),
            Self::Lake(m) => write!(f, "lake: {m}"),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> DataError {
    DataError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// API columns (`[{name, displayName, type, format, isRequired, isSortable,
/// isFilterable, isKey, description, order}]`) as a lake schema.
pub fn parse_columns(v: &Value) -> Result<TableSchema, DataError> {
    let list = v
        .as_array()
        .ok_or_else(|| invalid("columns", "must be a list of columns"))?;
    let mut columns = Vec::with_capacity(list.len());
    for (i, c) in list.iter().enumerate() {
        let field = |f: &str| format!("columns[{i}].{f}");
        let name = c["name"]
            .as_str()
            .ok_or_else(|| invalid(&field("name"), "is required"))?;
        let ty: ColumnType = c["type"]
            .as_str()
            .ok_or_else(|| {
                invalid(
                    &field("type"),
                    "is required: String, Int32, Int64, Decimal, Double, Boolean or DateTime",
                )
            })?
            .parse()
            .map_err(|_| {
                invalid(
                    &field("type"),
                    "must be String, Int32, Int64, Decimal, Double, Boolean or DateTime",
                )
            })?;
        let flag = |k: &str, default: bool| c.get(k).and_then(Value::as_bool).unwrap_or(default);
        columns.push(Column {
            name: name.to_string(),
            display_name: c["displayName"].as_str().unwrap_or(name).to_string(),
            ty,
            format: c["format"]
                .as_str()
                .filter(|f| !f.is_empty())
                .map(str::to_string),
            required: flag("isRequired", false),
            sortable: flag("isSortable", true),
            filterable: flag("isFilterable", true),
            key: flag("isKey", false),
            order: c["order"]
                .as_i64()
                .and_then(|o| i32::try_from(o).ok())
                .unwrap_or(i as i32),
        });
    }
    Ok(TableSchema::new(columns)?)
}

/// A lake schema as API columns.
pub fn columns_json(schema: &TableSchema) -> Value {
    Value::Array(
        schema
            .columns
            .iter()
            .map(|c| {
                json!({"name": c.name, "displayName": c.display_name, "type": c.ty.as_str(), "format": c.format,
                       "isRequired": c.required, "isSortable": c.sortable, "isFilterable": c.filterable,
                       "isKey": c.key, "order": c.order})
            })
            .collect(),
    )
}

/// `[{column, filterType, filterValues}]` as lake filters.
pub fn parse_filters(v: &Value, field: &str) -> Result<Vec<Filter>, DataError> {
    let Some(list) = v.as_array() else {
        return if v.is_null() {
            Ok(Vec::new())
        } else {
            Err(invalid(field, "must be a list"))
        };
    };
    list.iter()
        .enumerate()
        .map(|(i, f)| {
            let column = f["column"].as_str().ok_or_else(|| invalid(&format!("{field}[{i}].column"), "is required"))?;
            let op: FilterOp = f["filterType"]
                .as_str()
                .ok_or_else(|| invalid(&format!("{field}[{i}].filterType"), "is required"))?
                .parse()
                .map_err(|_| {
                    invalid(
                        &format!("{field}[{i}].filterType"),
                        "must be Equals, List, Greater, GreaterOrEqual, Less, LessOrEqual, Contains or Between",
                    )
                })?;
            let values = f["filterValues"].as_array().cloned().unwrap_or_default();
            Ok(Filter {
                column: column.to_string(),
                op,
                values,
            })
        })
        .collect()
}

/// What data set operations need.
pub struct DataOps<'a> {
    pub store: &'a dyn Store,
    pub lake: &'a Lake,
    /// Where schema versions read are kept; `None` for a one-off
    /// operation, which reads each from the store.
    versions: Option<&'a VersionCache>,
    pub now: Timestamp,
}

fn dataset_resource(d: &Dataset) -> Resource<'_> {
    Resource {
        kind: "dataset",
        id: d.id.to_string(),
        name: &d.name,
    }
}

impl<'a> DataOps<'a> {
    /// The operations of a server, which keeps the schema versions it reads.
    pub fn new(
        store: &'a dyn Store,
        lake: &'a Lake,
        versions: &'a VersionCache,
        now: Timestamp,
    ) -> Self {
        Self {
            store,
            lake,
            versions: Some(versions),
            now,
        }
    }

    /// A one-off operation's (the command line, the first start's demo).
    pub fn once(store: &'a dyn Store, lake: &'a Lake, now: Timestamp) -> Self {
        Self {
            store,
            lake,
            versions: None,
            now,
        }
    }

    pub async fn create_schema(
        &self,
        actor: &Actor,
        ws: &Workspace,
        name: &str,
        short_name: &str,
        description: &str,
        columns: &Value,
    ) -> Result<SchemaRecord, DataError> {
        let name = dwb_core::validate::Name::parse("name", name)
            .map_err(|e| invalid("name", e.message))?;
        let table = parse_columns(columns)?;
        let id = Uuid::new_v4();
        let e = event(
            actor,
            ws.tenant_id,
            Some(ws.id),
            self.now,
            "SchemaCreated",
            Resource {
                kind: "schema",
                id: id.to_string(),
                name: name.as_str(),
            },
        );
        let s = self
            .store
            .create_schema(
                NewSchema {
                    id,
                    workspace_id: ws.id,
                    name: name.as_str().into(),
                    short_name: short_name.trim().into(),
                    description: description.trim().into(),
                    created_by: actor.name.clone(),
                    now: self.now,
                    first_version: NewSchemaVersion {
                        id: Uuid::new_v4(),
                        name: "Version 1".into(),
                        description: String::new(),
                        columns: columns_json(&table),
                    },
                },
                e,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => invalid(
                    "name",
                    format!("a schema named {:?} already exists", name.as_str()),
                ),
                other => other.into(),
            })?;
        Ok(s)
    }

    /// A schema version of workspace `ws` and its lake schema.
    pub async fn version(&self, ws: &Workspace, id: Uuid) -> Result<Arc<KnownVersion>, DataError> {
        let known = match self.versions.and_then(|c| c.get(id)) {
            Some(known) => known,
            None => {
                let version = self
                    .store
                    .schema_version(id)
                    .await?
                    .ok_or(DataError::NotFound("schema version"))?;
                let s = self
                    .store
                    .schema(version.schema_id)
                    .await?
                    .ok_or(DataError::NotFound("schema version"))?;
                let known = KnownVersion {
                    table: parse_columns(&version.columns)?,
                    version,
                    workspace_id: s.workspace_id,
                };
                match self.versions {
                    Some(cache) => cache.keep(known),
                    None => Arc::new(known),
                }
            }
        };
        if known.workspace_id != ws.id {
            return Err(DataError::NotFound("schema version"));
        }
        Ok(known)
    }

    /// Creates a base data set from a CSV file: with `schema_version`, or with a
    /// schema inferred from the header and first rows (then saved as a new schema).
    #[allow(clippy::too_many_arguments)]
    pub async fn import_csv<R: AsyncRead + Unpin + Send>(
        &self,
        actor: &Actor,
        ws: &Workspace,
        name: &str,
        description: &str,
        tags: Value,
        schema_version: Option<Uuid>,
        mut csv: R,
    ) -> Result<Dataset, DataError> {
        let name = dwb_core::validate::Name::parse("name", name)
            .map_err(|e| invalid("name", e.message))?;
        let description = dwb_core::validate::Description::parse("description", description)
            .map_err(|e| invalid("description", e.message))?;
        dwb_core::tags::check("tags", &tags).map_err(|e| invalid("tags", e.message))?;
        let id = Uuid::new_v4();
        // The head of the file serves inference and is then read again with the rest.
        let mut head = Vec::with_capacity(INFER_BYTES);
        (&mut csv)
            .take(INFER_BYTES as u64)
            .read_to_end(&mut head)
            .await
            .map_err(|e| invalid("file", format!("cannot be read: {e}")))?;
        let (version, table) = match schema_version {
            Some(v) => {
                let known = self.version(ws, v).await?;
                (Some(known.version.clone()), known.table.clone())
            }
            None => (
                None,
                dwb_lake::infer_schema(&String::from_utf8_lossy(&head))?,
            ),
        };
        let report = self
            .lake
            .ingest_csv(
                &id.to_string(),
                &table,
                std::io::Cursor::new(head).chain(csv),
                WriteMode::Create,
            )
            .await?;
        let meta = (name.as_str(), description.as_str(), tags);
        self.finish_import(actor, ws, id, meta, version, table, report.rows)
            .await
    }

    /// Records an ingested table as a data set (and an inferred schema), or removes the table.
    #[allow(clippy::too_many_arguments)]
    async fn finish_import(
        &self,
        actor: &Actor,
        ws: &Workspace,
        id: Uuid,
        (name, description, tags): (&str, &str, Value),
        version: Option<SchemaVersion>,
        table: TableSchema,
        rows: u64,
    ) -> Result<Dataset, DataError> {
        let recorded = async {
            let version_id = match version {
                Some(v) => v.id,
                None => {
                    let schema_name = format!("{name} ({})", &id.to_string()[..8]);
                    let s = self
                        .create_schema(
                            actor,
                            ws,
                            &schema_name,
                            "",
                            "Inferred from the CSV file",
                            &columns_json(&table),
                        )
                        .await?;
                    s.default_version_id
                        .ok_or(DataError::NotFound("schema version"))?
                }
            };
            let d = Dataset {
                id,
                workspace_id: ws.id,
                name: name.into(),
                description: description.into(),
                schema_version_id: version_id,
                base_dataset_id: None,
                queries: json!([]),
                columns: json!([]),
                tags,
                row_count: i64::try_from(rows).unwrap_or(i64::MAX),
                created_by: actor.name.clone(),
                created_at: self.now,
                modified_by: actor.name.clone(),
                modified_at: self.now,
            };
            let mut e = event(
                actor,
                ws.tenant_id,
                Some(ws.id),
                self.now,
                "DatasetCreated",
                dataset_resource(&d),
            );
            e.detail = json!({"rows": rows});
            self.store.create_dataset(&d, e).await?;
            Ok::<_, DataError>(d)
        }
        .await;
        if recorded.is_err() {
            // Nothing may stay visible of a failed import.
            let _ = self.lake.delete_table(&id.to_string()).await;
        }
        recorded
    }

    /// A page of rows; a derived data set's filters and columns always apply.
    pub async fn rows(
        &self,
        ws: &Workspace,
        d: &Dataset,
        mut q: RowQuery,
    ) -> Result<RowPage, DataError> {
        let known = self.version(ws, d.schema_version_id).await?;
        let table = &known.table;
        let base = match d.base_dataset_id {
            Some(b) => b,
            None => return Ok(self.lake.query(&d.id.to_string(), table, &q).await?),
        };
        let allowed = crate::derived::names(&d.columns);
        if !allowed.is_empty() {
            let outside = |c: &str| !allowed.iter().any(|a| a == c);
            if let Some(c) = q.columns.iter().flatten().find(|c| outside(c)) {
                return Err(invalid("columnFilter", format!("unknown column {c:?}")));
            }
            if let Some((i, f)) = q
                .filters
                .iter()
                .enumerate()
                .find(|(_, f)| outside(&f.column))
            {
                return Err(invalid(
                    &format!("queryFilters[{i}].column"),
                    format!("unknown column {:?}", f.column),
                ));
            }
            if let Some(s) = q.sort.as_ref().filter(|s| outside(&s.column)) {
                return Err(invalid(
                    "sorting.column",
                    format!("unknown column {:?}", s.column),
                ));
            }
            if q.columns.as_ref().is_none_or(|c| c.is_empty()) {
                q.columns = Some(allowed.clone());
            }
        }
        let mut filters = parse_filters(&d.queries, "queries")?;
        filters.append(&mut q.filters);
        q.filters = filters;
        Ok(self.lake.query(&base.to_string(), table, &q).await?)
    }

    pub async fn delete(
        &self,
        actor: &Actor,
        ws: &Workspace,
        d: &Dataset,
    ) -> Result<(), DataError> {
        let e = event(
            actor,
            ws.tenant_id,
            Some(ws.id),
            self.now,
            "DatasetDeleted",
            dataset_resource(d),
        );
        let gone = self.store.delete_dataset(d.id, e).await?;
        for g in gone {
            if let Err(e) = self.lake.delete_table(&g.to_string()).await {
                // Derived data sets have no table; a failure leaves files no one can reach.
                tracing::debug!(error = %e, dataset = %g, "no table removed");
            }
        }
        Ok(())
    }
}
