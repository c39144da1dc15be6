//! "Import CSV" in the Data catalogue: a multipart form whose file streams
//! into the lake as a new base data set; a refused file brings the catalogue
//! back with the problems and the form as it was filled in.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dwb_core::policy::Action;
use futures::TryStreamExt;
use serde_json::Value;
use uuid::Uuid;

use crate::error::PageError;
use crate::portal::datasets::{data_error, row_of, schema_versions};
use crate::portal::form::{csrf_multipart, unreadable};
use crate::portal::session::SignedIn;
use crate::portal::upload::{drain, refusal};
use crate::portal::views::{render, DatasetsPage, ImportForm, UploadError, WsView};
use crate::portal::workspaces::{open, Opened};
use crate::state::AppState;

/// `site=Oslo, vessel=Aurora` as `{"site": ["Oslo"], "vessel": ["Aurora"]}`.
fn parse_tags(text: &str) -> Value {
    let mut map = serde_json::Map::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let entry = map
            .entry(k.trim().to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let (Value::Array(a), false) = (entry, v.trim().is_empty()) {
            a.push(Value::String(v.trim().to_string()));
        }
    }
    Value::Object(map)
}

/// "Import CSV": the fields come first, then the file, which streams into
/// the lake; the page's script shows the upload's progress.
pub async fn import(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let mut form = csrf_multipart(&who, form).await?;
    let o = open(&state, &who, &id, Action::ManageDatasets).await?;
    let mut typed = ImportForm::default();
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or("") {
            "name" => typed.name = field.text().await.map_err(unreadable)?,
            "description" => typed.description = field.text().await.map_err(unreadable)?,
            "tags" => typed.tags = field.text().await.map_err(unreadable)?,
            "schema_version" => typed.version = field.text().await.map_err(unreadable)?,
            "file" => {
                let reader =
                    tokio_util::io::StreamReader::new(field.map_err(std::io::Error::other));
                let result = state
                    .data()
                    .import_csv(
                        &who.actor(),
                        &o.ws,
                        &typed.name,
                        &typed.description,
                        parse_tags(&typed.tags),
                        typed.version.parse::<Uuid>().ok(),
                        reader,
                    )
                    .await;
                drain(&mut form).await;
                return match result {
                    Ok(d) => Ok(Redirect::to(&format!(
                        "/workspaces/{}/datasets/{}",
                        o.ws.id, d.id
                    ))
                    .into_response()),
                    Err(e) => {
                        let shown = refusal(e, "nothing was imported", "Not imported")
                            .map_err(data_error)?;
                        refused(&state, &who, &o, typed, shown).await
                    }
                };
            }
            _ => {}
        }
    }
    Err(PageError::BadRequest("Choose a CSV file to import.".into()))
}

/// The catalogue with the error box and the form as it was filled in.
async fn refused(
    state: &AppState,
    who: &SignedIn,
    o: &Opened,
    typed: ImportForm,
    shown: UploadError,
) -> Result<Response, PageError> {
    let mut rows = Vec::new();
    for d in state.store.datasets(o.ws.id).await? {
        rows.push(row_of(state.store.as_ref(), &d).await?);
    }
    let mut resp = render(&DatasetsPage {
        nav: who.nav(),
        ws: WsView::from(o.ws.as_ref()),
        tab: "datasets",
        ws_admin: true,
        q: String::new(),
        datasets: rows,
        csrf: who.csrf.clone(),
        versions: schema_versions(state.store.as_ref(), o.ws.id).await?,
        form: typed,
        error: Some(shown),
    });
    *resp.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    Ok(resp)
}
