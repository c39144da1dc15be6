//! What the portal's CSV uploads (Import CSV, Add rows, Replace rows) share:
//! a refused file as the page shows it, and reading the rest of a refused
//! upload so that the browser, still sending, gets the answer.

use axum::extract::Multipart;

use crate::datasets::DataError;
use crate::portal::views::UploadError;

/// `e` as the error box shows it, or `e` itself when it is no fault of the
/// file or the form (a failure of ours). `rejected` says what did not happen
/// to a rejected file ("nothing was imported"); `refused` starts any other
/// refusal ("Not imported").
pub fn refusal(e: DataError, rejected: &str, refused: &str) -> Result<UploadError, DataError> {
    Ok(match e {
        DataError::Rejected(problems) => UploadError {
            message: format!("The file was rejected; {rejected}."),
            // dwb stops reading a file after this many problems.
            note: (problems.len() >= dwb_lake::MAX_ERRORS)
                .then(|| format!("The first {} problems:", problems.len())),
            problems,
        },
        DataError::Invalid { field, message } => UploadError {
            message: match field.as_str() {
                // Named for the API; the portal's forms say it in words.
                "schemaVersionId" | "datasetId" | "file" => format!("{refused}: {message}."),
                _ => format!("{refused}: {field} {message}."),
            },
            note: None,
            problems: Vec::new(),
        },
        DataError::Conflict(m) => UploadError {
            message: format!("{refused}: {m}."),
            note: None,
            problems: Vec::new(),
        },
        // The disk under the lake is full or read-only: no fault of the
        // file, but nothing the person can do but wait, so they are told.
        DataError::Unwritable(u) => UploadError {
            message: format!("{refused}: {u}."),
            note: None,
            problems: Vec::new(),
        },
        other => return Err(other),
    })
}

/// Reads and drops what is left of the upload (the rest of the field last
/// read, which must be dropped first, and the fields after it). A browser
/// still sending its file may not read an answer that comes before the
/// upload ends.
pub async fn drain(form: &mut Multipart) {
    // Each call reads past the rest of the field before it.
    while let Ok(Some(_)) = form.next_field().await {}
}
