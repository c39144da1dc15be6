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
    /// The lake's storage refuses writes (disk full, read-only): nothing was
    /// written, existing tables stay readable.
    #[error("{0}")]
    Unwritable(Unwritable),
    /// Storage, Delta log or query engine failure: an internal error.
    #[error("storage error: {0}")]
    Storage(String),
}

/// Why the lake's storage refuses writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unwritable {
    #[error(
        "the lake has no space left on its disk: nothing was written and existing data sets \
         stay readable; ask an operator to free space, then try again"
    )]
    NoSpace,
    #[error(
        "the lake is read-only: nothing was written and existing data sets stay readable; \
         ask an operator to make it writable, then try again"
    )]
    ReadOnly,
}

impl Unwritable {
    /// Recognises a full or read-only file system in an error's text (errors
    /// reach here wrapped by object_store, deltalake and DataFusion, so the
    /// OS error is only left in the message).
    pub fn in_message(cause: &str) -> Option<Unwritable> {
        if cause.contains("os error 28") || cause.contains("No space left on device") {
            Some(Unwritable::NoSpace)
        } else if cause.contains("os error 30") || cause.contains("Read-only file system") {
            Some(Unwritable::ReadOnly)
        } else {
            None
        }
    }
}

/// A storage failure, unless it is the storage refusing writes.
pub(crate) fn storage(cause: String) -> LakeError {
    match Unwritable::in_message(&cause) {
        Some(u) => LakeError::Unwritable(u),
        None => LakeError::Storage(cause),
    }
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
        storage(e.to_string())
    }
}

impl From<DataFusionError> for LakeError {
    fn from(e: DataFusionError) -> Self {
        storage(e.to_string())
    }
}

impl From<deltalake::arrow::error::ArrowError> for LakeError {
    fn from(e: deltalake::arrow::error::ArrowError) -> Self {
        storage(e.to_string())
    }
}

impl From<deltalake::ObjectStoreError> for LakeError {
    fn from(e: deltalake::ObjectStoreError) -> Self {
        storage(e.to_string())
    }
}

impl From<deltalake::parquet::errors::ParquetError> for LakeError {
    fn from(e: deltalake::parquet::errors::ParquetError) -> Self {
        storage(e.to_string())
    }
}

impl From<std::io::Error> for LakeError {
    fn from(e: std::io::Error) -> Self {
        storage(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_or_read_only_disk_is_named() {
        let full = std::io::Error::from_raw_os_error(28);
        assert!(matches!(
            LakeError::from(full),
            LakeError::Unwritable(Unwritable::NoSpace)
        ));
        let ro = std::io::Error::from_raw_os_error(30);
        assert!(matches!(
            LakeError::from(ro),
            LakeError::Unwritable(Unwritable::ReadOnly)
        ));
        let other = std::io::Error::from_raw_os_error(5);
        assert!(matches!(LakeError::from(other), LakeError::Storage(_)));
        assert!(Unwritable::NoSpace.to_string().contains("no space left"));
        assert!(Unwritable::ReadOnly.to_string().contains("read-only"));
    }
}
