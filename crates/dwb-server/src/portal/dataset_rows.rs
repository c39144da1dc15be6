//! Add rows and Replace rows on a base data set's page (workspace admins):
//! the CSV file streams from the multipart form into the lake within the
//! request (`write_rows`), then the page comes back with the new row count,
//! or with the file's problems and nothing changed.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dwb_core::policy::Action;
use dwb_store::IngestOperation;
use futures::TryStreamExt;
use uuid::Uuid;

use crate::access;
use crate::error::PageError;
use crate::portal::datasets::{data_error, show, AfterWrite, RowsQuery};
use crate::portal::form::{csrf_multipart, unreadable};
use crate::portal::session::SignedIn;
use crate::portal::upload::{drain, refusal};
use crate::portal::workspaces::open;
use crate::state::AppState;
use crate::write_rows;

/// "Add rows": the file's rows are added to the data set's.
pub async fn add(
    State(state): State<AppState>,
    who: SignedIn,
    Path((id, ds)): Path<(String, String)>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    write(&state, &who, (&id, &ds), IngestOperation::Append, form).await
}

/// "Replace rows": the file's rows replace the data set's, maybe with another schema version.
pub async fn replace(
    State(state): State<AppState>,
    who: SignedIn,
    Path((id, ds)): Path<(String, String)>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    write(&state, &who, (&id, &ds), IngestOperation::Overwrite, form).await
}

async fn write(
    state: &AppState,
    who: &SignedIn,
    (id, ds): (&str, &str),
    operation: IngestOperation,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let mut form = csrf_multipart(who, form).await?;
    let o = open(state, who, id, Action::ManageDatasets).await?;
    let ds_id: Uuid = ds.parse().map_err(|_| PageError::NotFound)?;
    let (ws, d) = access::dataset(
        &state.workspaces,
        state.store.as_ref(),
        &access::person(&who.user),
        o.ws.id,
        ds_id,
    )
    .await?;
    let (rejected, refused, done) = match operation {
        IngestOperation::Append => ("no rows were added", "Rows not added", "added"),
        _ => ("the rows did not change", "Rows not replaced", "replaced"),
    };
    if d.base_dataset_id.is_some() {
        // Its page has no such form; the answer is a page of its own.
        drain(&mut form).await;
        return Err(PageError::BadRequest(format!(
            "{refused}: {} is a derived data set, a view of its base data set with no rows of its own.",
            d.name
        )));
    }
    let mut version = String::new();
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or("") {
            "schema_version" => version = field.text().await.map_err(unreadable)?,
            "file" => {
                // Only a replace may bring another version; empty keeps the data set's.
                let requested = match operation {
                    IngestOperation::Overwrite => version.parse::<Uuid>().ok(),
                    _ => None,
                };
                let result = match write_rows::plan(state, &ws, d, operation, requested).await {
                    Ok(planned) => {
                        let csv =
                            tokio_util::io::StreamReader::new(field.map_err(std::io::Error::other));
                        write_rows::write(state, &who.actor(), &ws, &planned, csv).await
                    }
                    Err(e) => {
                        drop(field);
                        Err(e)
                    }
                };
                drain(&mut form).await;
                return match result {
                    Ok(w) => {
                        let schema = if w.version_changed { "&schema=new" } else { "" };
                        let to = format!(
                            "/workspaces/{}/datasets/{ds_id}?{done}={}{schema}",
                            ws.id, w.rows
                        );
                        Ok(Redirect::to(&to).into_response())
                    }
                    Err(e) => {
                        let after = AfterWrite {
                            error: Some(refusal(e, rejected, refused).map_err(data_error)?),
                            replace_version: version,
                        };
                        let q = RowsQuery::default();
                        let mut resp = show(state, who, id, ds, &q, after).await?;
                        *resp.status_mut() = axum::http::StatusCode::BAD_REQUEST;
                        Ok(resp)
                    }
                };
            }
            _ => {}
        }
    }
    Err(PageError::BadRequest(format!(
        "Choose a CSV file; {rejected}."
    )))
}
