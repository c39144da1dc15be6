//! The store's one error type; only the server maps it to HTTP.

use sqlx::error::ErrorKind;

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
    /// The database is unreachable, did not answer in time, or is busy: the
    /// same call may succeed shortly. The cause is for the log only.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database refused a statement for a reason retrying will not fix
    /// (a broken rule other than uniqueness, a query of ours it cannot run):
    /// a bug. The cause is for the log only.
    #[error("the database refused a statement: {0}")]
    Failed(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict("a record with these values")
            }
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::ForeignKeyViolation
                | ErrorKind::NotNullViolation
                | ErrorKind::CheckViolation => Self::Failed(e.to_string()),
                _ if db.code().is_some_and(|c| transient_code(&c)) => {
                    Self::Unavailable(e.to_string())
                }
                _ if db.code().is_some_and(|c| corrupt_code(&c)) => Self::Corrupt(e.to_string()),
                _ => Self::Failed(e.to_string()),
            },
            sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
                Self::Corrupt(e.to_string())
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e.to_string()),
            _ => Self::Failed(e.to_string()),
        }
    }
}

/// A database error that says "not now" rather than "never": PostgreSQL's
/// SQLSTATE classes 08 (connection), 40 (serialization failure, deadlock),
/// 53 (insufficient resources, e.g. too many connections), 57 (shutdown,
/// starting up, statement cancelled), 58 (I/O) and 55P03 (lock not
/// available); SQLite's BUSY, LOCKED, IOERR, FULL, CANTOPEN and READONLY
/// (a SQLSTATE has five characters; SQLite reports its numeric result code,
/// perhaps an extended one, which has at most four digits).
fn transient_code(code: &str) -> bool {
    if let Some(n) = sqlite_code(code) {
        return matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14);
    }
    ["08", "40", "53", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == "55P03"
}

/// SQLite's CORRUPT and NOTADB: the file is not a database we can read.
fn corrupt_code(code: &str) -> bool {
    sqlite_code(code).is_some_and(|n| matches!(n & 0xff, 11 | 26))
}

fn sqlite_code(code: &str) -> Option<u32> {
    (code.len() < 5).then(|| code.parse().ok()).flatten()
}

/// Errors of the ledger's own SQLite connection ([`crate::sqlite_events`]),
/// classified by the same result codes as sqlx's.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _) => {
                let code = f.extended_code.to_string();
                if transient_code(&code) {
                    Self::Unavailable(e.to_string())
                } else if corrupt_code(&code) {
                    Self::Corrupt(e.to_string())
                } else {
                    Self::Failed(e.to_string())
                }
            }
            _ => Self::Failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_busy_codes_are_transient_and_rule_codes_are_not() {
        for code in [
            "08006", "57P01", "57P03", "57014", "53300", "40001", "55P03", "5", "517", "6", "1034",
        ] {
            assert!(transient_code(code), "{code}");
        }
        for code in [
            "23503", "42601", "42P01", "22001", "10001", "1", "19", "787",
        ] {
            assert!(!transient_code(code), "{code}");
        }
        assert!(corrupt_code("11") && corrupt_code("26") && !corrupt_code("5"));
    }

    #[test]
    fn the_ledger_connections_errors_are_classified_like_sqlxs() {
        let sqlite = |code| {
            StoreError::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        // BUSY, LOCKED_SHAREDCACHE, IOERR_WRITE, CANTOPEN: try again later.
        for code in [5, 262, 778, 14] {
            assert!(matches!(sqlite(code), StoreError::Unavailable(_)), "{code}");
        }
        assert!(matches!(sqlite(11), StoreError::Corrupt(_)));
        // CONSTRAINT_NOTNULL, ERROR: refused for good.
        for code in [1299, 1] {
            assert!(matches!(sqlite(code), StoreError::Failed(_)), "{code}");
        }
    }

    #[test]
    fn a_pool_that_cannot_connect_in_time_is_unavailable() {
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Failed(_)
        ));
    }
}
