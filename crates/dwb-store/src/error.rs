//! The store's one error type; only the server maps it to HTTP.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated; the message names it without a password.
    #[error("cannot open the database {target}: {cause}")]
    Open { target: String, cause: String },
    /// A unique rule was broken (e.g. an email or workspace name already in use).
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change would leave a workspace without an admin.
    #[error("a workspace must keep at least one admin")]
    LastAdmin,
    /// The store is unreachable or failed; the cause is for the log only.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict("a record with these values")
            }
            sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
                Self::Corrupt(e.to_string())
            }
            _ => Self::Unavailable(e.to_string()),
        }
    }
}
