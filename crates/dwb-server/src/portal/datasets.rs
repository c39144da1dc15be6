//! The Data catalogue tab and a data set's page: its facts, columns, a
//! paged table of rows with a filter and sorting, and who it is shared with.
//! (Import CSV is in `import`, Add rows and Replace rows in `dataset_rows`.)

use axum::extract::{Path, Query, RawQuery, State};
use axum::response::{IntoResponse, Response};
use dwb_core::access::Access;
use dwb_core::policy::Action;
use dwb_lake::{Filter, FilterOp, RowQuery, Sort};
use dwb_store::{Dataset, Store};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::access;
use crate::datasets::DataError;
use crate::error::PageError;
use crate::portal::api_tab::op_error;
use crate::portal::lineage;
use crate::portal::session::SignedIn;
use crate::portal::views::SharedRow;
use crate::portal::views::{
    render, show_time, ColumnRow, DatasetPage, DatasetRow, DatasetsPage, Header, ImportForm,
    UploadError, WsView,
};
use crate::portal::workspaces::open;
use crate::state::AppState;

const PAGE_SIZE: i64 = 50;

fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_string()
}

pub(crate) async fn row_of(store: &dyn Store, d: &Dataset) -> Result<DatasetRow, PageError> {
    let schema = match store.schema_version(d.schema_version_id).await? {
        Some(v) => match store.schema(v.schema_id).await? {
            Some(s) => format!("{} ({})", s.name, v.name),
            None => String::new(),
        },
        None => String::new(),
    };
    let tags = d
        .tags
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    format!(
                        "{k}: {}",
                        v.as_array()
                            .map(|a| a
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", "))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    Ok(DatasetRow {
        id: d.id.to_string(),
        name: d.name.clone(),
        description: d.description.clone(),
        kind: if d.base_dataset_id.is_none() {
            "Base"
        } else {
            "Derived"
        },
        rows: d.row_count,
        schema,
        created: show_time(d.created_at),
        tags,
        created_by: d.created_by.clone(),
    })
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn tab(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    Query(s): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let o = open(&state, &who, &id, Action::ListDatasets).await?;
    let needle = s.q.trim().to_lowercase();
    let mut rows = Vec::new();
    for d in state.store.datasets(o.ws.id).await? {
        if needle.is_empty() || d.name.to_lowercase().contains(&needle) {
            rows.push(row_of(state.store.as_ref(), &d).await?);
        }
    }
    Ok(render(&DatasetsPage {
        nav: who.nav(),
        ws: WsView::from(o.ws.as_ref()),
        tab: "datasets",
        ws_admin: o.role == dwb_core::validate::Role::Admin,
        q: s.q.trim().to_string(),
        datasets: rows,
        csrf: who.csrf.clone(),
        versions: schema_versions(state.store.as_ref(), o.ws.id).await?,
        form: ImportForm::default(),
        error: None,
    }))
}

#[derive(Debug, Default)]
pub struct RowsQuery {
    page: Option<String>,
    col: String,
    val: String,
    sort: String,
    dir: String,
    revoked: Option<String>,
    /// Rows just added or written by a replace (Add rows, Replace rows).
    added: Option<String>,
    replaced: Option<String>,
    /// Set when a replace brought another schema version.
    new_schema: bool,
    /// The columns to show (the column picker); empty shows all.
    show: Vec<String>,
}

impl RowsQuery {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Self {
            page: get("page"),
            col: get("col").unwrap_or_default(),
            val: get("val").unwrap_or_default(),
            sort: get("sort").unwrap_or_default(),
            dir: get("dir").unwrap_or_default(),
            revoked: get("revoked"),
            added: get("added"),
            replaced: get("replaced"),
            new_schema: get("schema").is_some(),
            show: pairs
                .iter()
                .filter(|(k, _)| k == "show")
                .map(|(_, v)| v.clone())
                .collect(),
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    who: SignedIn,
    Path((id, ds)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let q = RowsQuery::from_pairs(&pairs);
    show(&state, &who, &id, &ds, &q, AfterWrite::default()).await
}

/// What a refused Add rows or Replace rows shows on the data set's page.
#[derive(Debug, Default)]
pub(crate) struct AfterWrite {
    pub error: Option<UploadError>,
    /// The schema version chosen for Replace rows.
    pub replace_version: String,
}

/// The data set's page: its first page of rows, or as `q` asks.
pub(crate) async fn show(
    state: &AppState,
    who: &SignedIn,
    id: &str,
    ds: &str,
    q: &RowsQuery,
    after: AfterWrite,
) -> Result<Response, PageError> {
    let o = open(state, who, id, Action::ListDatasets).await?;
    let ds: Uuid = ds.parse().map_err(|_| PageError::NotFound)?;
    let (ws, d) = access::dataset(
        &state.workspaces,
        state.store.as_ref(),
        &access::person(&who.user),
        o.ws.id,
        ds,
    )
    .await?;
    let ops = state.data();
    let known = ops
        .version(&ws, d.schema_version_id)
        .await
        .map_err(data_error)?;
    let table = &known.table;
    let mut allowed = crate::derived::names(&d.columns);
    if allowed.is_empty() {
        allowed = table.columns.iter().map(|c| c.name.clone()).collect();
    }
    let visible: Vec<String> = if q.show.is_empty() {
        allowed.clone()
    } else {
        allowed
            .iter()
            .filter(|c| q.show.contains(c))
            .cloned()
            .collect()
    };
    let index = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    let mut query = RowQuery {
        page_index: index,
        page_size: PAGE_SIZE,
        columns: Some(visible.clone()),
        filters: Vec::new(),
        sort: None,
    };
    if !q.col.is_empty() {
        query.filters.push(Filter {
            column: q.col.clone(),
            op: FilterOp::Equals,
            values: vec![Value::String(q.val.clone())],
        });
    }
    if !q.sort.is_empty() {
        query.sort = Some(Sort {
            column: q.sort.clone(),
            descending: q.dir == "desc",
        });
    }
    let (page, error) = match ops.rows(&ws, &d, query).await {
        Ok(p) => (Some(p), None),
        Err(DataError::Invalid { field, message }) => (None, Some(format!("{field}: {message}"))),
        Err(other) => return Err(data_error(other)),
    };
    let base = format!("/workspaces/{}/datasets/{}", ws.id, d.id);
    let shown: String = q
        .show
        .iter()
        .map(|c| format!("&show={}", url_encode(c)))
        .collect();
    let link = |page: i64, sort: &str, dir: &str| {
        format!(
            "{base}?page={page}&col={}&val={}&sort={}&dir={dir}{shown}",
            url_encode(&q.col),
            url_encode(&q.val),
            url_encode(sort)
        )
    };
    let headers = visible
        .iter()
        .map(|name| {
            let sortable = table.column(name).is_some_and(|(_, c)| c.sortable);
            let current = q.sort == *name;
            let next_dir = if current && q.dir != "desc" {
                "desc"
            } else {
                "asc"
            };
            Header {
                name: name.clone(),
                sort_link: sortable.then(|| link(1, name, next_dir)),
                mark: match (current, q.dir == "desc") {
                    (true, true) => " ▼",
                    (true, false) => " ▲",
                    _ => "",
                },
            }
        })
        .collect();
    let (rows, total, total_pages) = match &page {
        Some(p) => (
            p.rows
                .iter()
                .map(|r| visible.iter().map(|c| show_value(r.get(c))).collect())
                .collect(),
            p.total_count,
            p.total_pages.max(1),
        ),
        None => (Vec::new(), 0, 1),
    };
    let mut shared = Vec::new();
    for m in state.store.members(ws.id).await? {
        shared.push(SharedRow {
            name: if m.name.is_empty() {
                m.email.clone()
            } else {
                format!("{} ({})", m.name, m.email)
            },
            kind: "Person",
            access: format!("workspace {}", m.role.as_str()),
            revoke_id: None,
        });
    }
    for a in state.store.service_accounts(ws.id).await? {
        let label = format!("{} ({})", a.name, a.contact_email);
        match &a.access {
            Access::Datasets(ids) if ids.contains(&d.id) => shared.push(SharedRow {
                name: label,
                kind: "Service account",
                access: "selected data set".into(),
                revoke_id: Some(a.id.to_string()),
            }),
            Access::Workspace(l) => shared.push(SharedRow {
                name: label,
                kind: "Service account",
                access: format!("all workspace data ({})", l.as_str()),
                revoke_id: None,
            }),
            Access::Datasets(_) => {}
        }
    }
    let ws_admin = o.role == dwb_core::validate::Role::Admin;
    let lineage = lineage::of(state.store.as_ref(), &d).await?;
    let row = row_of(state.store.as_ref(), &d).await?;
    let (current_version, versions) = if ws_admin && d.base_dataset_id.is_none() {
        let (current, others): (Vec<_>, Vec<_>) = schema_versions(state.store.as_ref(), ws.id)
            .await?
            .into_iter()
            .partition(|v| v.id == d.schema_version_id.to_string());
        let current = current
            .into_iter()
            .next()
            .map(|c| c.name)
            .unwrap_or_default();
        (current, others)
    } else {
        (String::new(), Vec::new())
    };
    // Only numbers: the notice must not say what a crafted link would like.
    let count = |n: &Option<String>| n.as_deref().and_then(|n| n.parse::<u64>().ok());
    let plural = |n: u64| format!("{n} row{}", if n == 1 { "" } else { "s" });
    let rows_notice = match (count(&q.added), count(&q.replaced)) {
        (Some(n), _) => Some(format!(
            "Added {}; {} now has {}.",
            plural(n),
            d.name,
            plural(u64::try_from(d.row_count).unwrap_or_default())
        )),
        (None, Some(n)) if q.new_schema => Some(format!(
            "Replaced the rows of {} with the file's {}; its schema is now {}.",
            d.name,
            plural(n),
            row.schema
        )),
        (None, Some(n)) => Some(format!(
            "Replaced the rows of {} with the file's {}.",
            d.name,
            plural(n)
        )),
        (None, None) => None,
    };
    Ok(render(&DatasetPage {
        nav: who.nav(),
        ws: WsView::from(ws.as_ref()),
        tab: "datasets",
        ws_admin,
        can_write: ws_admin && d.base_dataset_id.is_none(),
        current_version,
        versions,
        replace_version: after.replace_version,
        upload_error: after.error,
        rows_notice,
        base: lineage.base,
        filters: lineage.filters,
        view_columns: lineage.columns,
        derived: lineage.derived,
        ds: row,
        // The data set's columns, and the filter's choices, whichever the picker shows.
        columns: table
            .columns
            .iter()
            .filter(|c| allowed.contains(&c.name))
            .map(|c| ColumnRow {
                name: c.name.clone(),
                ty: c.ty.as_str().to_string(),
                required: yes_no(c.required),
                filterable: yes_no(c.filterable),
                sortable: yes_no(c.sortable),
            })
            .collect(),
        headers,
        rows,
        filterable: table
            .columns
            .iter()
            .filter(|c| c.filterable && allowed.contains(&c.name))
            .map(|c| c.name.clone())
            .collect(),
        f_col: q.col.clone(),
        f_val: q.val.clone(),
        sort: q.sort.clone(),
        dir: q.dir.clone(),
        page: index,
        total_pages,
        total,
        prev_link: (index > 1).then(|| link(index - 1, &q.sort, &q.dir)),
        next_link: (index < total_pages).then(|| link(index + 1, &q.sort, &q.dir)),
        error,
        shared,
        pickable: allowed
            .iter()
            .map(|c| crate::portal::views::Choice {
                id: c.clone(),
                name: c.clone(),
                checked: q.show.is_empty() || q.show.contains(c),
            })
            .collect(),
        notice: q
            .revoked
            .as_ref()
            .map(|n| format!("Stopped sharing {} with {n}.", d.name)),
        csrf: who.csrf.clone(),
    }))
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn show_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn data_error(e: DataError) -> PageError {
    match e {
        DataError::NotFound(_) => PageError::NotFound,
        DataError::Store(s) => s.into(),
        other => PageError::Internal(other.to_string()),
    }
}

/// Stops sharing the data set with a selected-data-sets account.
pub async fn revoke(
    State(state): State<AppState>,
    Path((id, ds, acct)): Path<(String, String, String)>,
    f: crate::portal::form::CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let who = f.who;
    let o = open(&state, &who, &id, Action::ManageServiceAccounts).await?;
    let ds: Uuid = ds.parse().map_err(|_| PageError::NotFound)?;
    let acct: Uuid = acct.parse().map_err(|_| PageError::NotFound)?;
    match state.store.dataset(ds).await? {
        Some(d) if d.workspace_id == o.ws.id => {}
        _ => return Err(PageError::NotFound),
    }
    let ops = crate::service_accounts::Ops {
        store: state.store.as_ref(),
        master: &state.master,
        now: state.clock.now(),
    };
    let a = ops.get(&o.ws, acct).await.map_err(op_error)?;
    let Access::Datasets(mut ids) = a.access.clone() else {
        return Err(PageError::BadRequest(format!(
            "{} has access to all workspace data; change it in API management.",
            a.name
        )));
    };
    let before = ids.len();
    ids.retain(|d| *d != ds);
    // Already not shared (a second click, or another admin was first): nothing to record.
    if ids.len() != before {
        ops.update(
            &who.actor(),
            &o.ws,
            a.id,
            None,
            None,
            Some(Access::Datasets(ids)),
        )
        .await
        .map_err(op_error)?;
        state.accounts.invalidate(a.id);
    }
    let q = serde_urlencoded::to_string([("revoked", a.name.as_str())]).unwrap_or_default();
    Ok(
        axum::response::Redirect::to(&format!("/workspaces/{}/datasets/{ds}?{q}", o.ws.id))
            .into_response(),
    )
}

/// "Save as new data set": a derived data set with the page's filter and shown columns.
pub async fn save_as(
    State(state): State<AppState>,
    Path((id, ds)): Path<(String, String)>,
    f: crate::portal::form::CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (who, pairs) = (f.who, f.form);
    let o = open(&state, &who, &id, Action::ManageDatasets).await?;
    let ds: Uuid = ds.parse().map_err(|_| PageError::NotFound)?;
    let (ws, source) = access::dataset(
        &state.workspaces,
        state.store.as_ref(),
        &access::person(&who.user),
        o.ws.id,
        ds,
    )
    .await?;
    let q = RowsQuery::from_pairs(&pairs);
    let name = pairs
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let queries = if q.col.is_empty() {
        serde_json::json!([])
    } else {
        serde_json::json!([{"column": q.col, "filterType": "Equals", "filterValues": [q.val]}])
    };
    let new = crate::derived::NewDerived {
        name,
        description: format!("Saved from {}", source.name),
        queries,
        columns: q.show.clone(),
        tags: serde_json::json!({}),
    };
    match state.data().derive(&who.actor(), &ws, &source, new).await {
        Ok(d) => Ok(axum::response::Redirect::to(&format!(
            "/workspaces/{}/datasets/{}",
            ws.id, d.id
        ))
        .into_response()),
        Err(DataError::Invalid { field, message }) => Err(PageError::BadRequest(format!(
            "The new data set was not saved: {field} {message}. Go back, correct it and try again."
        ))),
        Err(other) => Err(data_error(other)),
    }
}

/// Every schema version of a workspace, for the import form.
pub(crate) async fn schema_versions(
    store: &dyn Store,
    ws: Uuid,
) -> Result<Vec<crate::portal::views::Choice>, PageError> {
    let mut out = Vec::new();
    for s in store.schemas(ws).await? {
        for v in &s.versions {
            out.push(crate::portal::views::Choice {
                id: v.id.to_string(),
                name: format!("{} – {}", s.name, v.name),
                checked: false,
            });
        }
    }
    Ok(out)
}
