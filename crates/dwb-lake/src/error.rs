//! The one error type of the crate, so the server maps lake failures in one place.

use deltalake::datafusion::error::DataFusionError;
use deltalake::DeltaTableError;

/// Everything that can go wrong in the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The request itself is wrong; `field` names the offending input
    /// (e.g. `queryFilters[0].column`).
    #[error("{field}: {message}")]
    BadInput { field: String, message: String },
    /// A CSV file was rejected as a whole; at most the first 20 problems,
    /// e.g. `line 1043, column Temp: 'abc' is not a Decimal`.
    #[error("file rejected: {}", .errors.join("; "))]
    Rejected { errors: Vec<String> },
    /// The table does not exist.
    #[error("table not found: {0}")]
    NotFound(String),
    /// The table exists but cannot take this write (e.g. its columns differ).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Storage, Delta log or query engine failure: an internal error.
    #[error("storage error: {0}")]
    Storage(String),
}

impl LakeError {
    pub(crate) fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        LakeError::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<DeltaTableError> for LakeError {
    fn from(e: DeltaTableError) -> Self {
        LakeError::Storage(e.to_string())
    }
}

impl From<DataFusionError> for LakeError {
    fn from(e: DataFusionError) -> Self {
        LakeError::Storage(e.to_string())
    }
}

impl From<deltalake::arrow::error::ArrowError> for LakeError {
    fn from(e: deltalake::arrow::error::ArrowError) -> Self {
        LakeError::Storage(e.to_string())
    }
}

impl From<deltalake::ObjectStoreError> for LakeError {
    fn from(e: deltalake::ObjectStoreError) -> Self {
        LakeError::Storage(e.to_string())
    }
}

impl From<std::io::Error> for LakeError {
    fn from(e: std::io::Error) -> Self {
        LakeError::Storage(e.to_string())
    }
}
