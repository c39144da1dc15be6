//! What `dwb admin backup` and `restore` need of the database itself: a
//! consistent SQLite copy (`VACUUM INTO`), the rows each table holds (is a
//! store empty?), other connections (is a server using it?) and libpq
//! arguments that keep the password off the command line.

use std::path::{Path, PathBuf};

use sqlx::{AnyConnection, Connection, Row};

use crate::{redact_url, Backend, StoreError, StoreResult};

/// The file of a `sqlite://PATH[?options]` URL (`None` for other URLs and in-memory databases).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}

async fn connect(url: &str) -> StoreResult<(AnyConnection, Backend)> {
    let open_err = |cause: String| StoreError::Open {
        target: redact_url(url),
        cause,
    };
    let backend = Backend::from_url(url)
        .ok_or_else(|| open_err("the URL must start with sqlite:// or postgres://".into()))?;
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url)
        .await
        .map_err(|e| open_err(e.to_string()))?;
    match backend {
        Backend::Sqlite => {
            sqlx::query("PRAGMA busy_timeout = 30000")
                .execute(&mut conn)
                .await?;
        }
        Backend::Postgres => {
            // Named so that `other_connections` can leave it out, also in
            // the moment after it closed while the server still lists it.
            sqlx::query(&format!("SET application_name = '{OWN_SESSION}'"))
                .execute(&mut conn)
                .await?;
        }
    }
    Ok((conn, backend))
}

/// Writes a consistent copy of the SQLite database at `url` to the new file
/// `to` with `VACUUM INTO`: one read transaction, so a running server
/// (write-ahead logging) goes on reading and writing meanwhile.
pub async fn sqlite_copy(url: &str, to: &Path) -> StoreResult<()> {
    let (mut conn, backend) = connect(url).await?;
    if backend != Backend::Sqlite {
        return Err(StoreError::Open {
            target: redact_url(url),
            cause: "not a SQLite database".into(),
        });
    }
    let target = to.to_str().ok_or_else(|| StoreError::Open {
        target: to.display().to_string(),
        cause: "the path is not valid UTF-8".into(),
    })?;
    let done = sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    done?;
    Ok(())
}

/// The rows of each of dwb's tables (migration bookkeeping left out), by
/// table name. A SQLite file that does not exist yet has none; nothing is
/// created or migrated.
pub async fn row_counts(url: &str) -> StoreResult<Vec<(String, i64)>> {
    if let Some(path) = sqlite_path(url) {
        if !path.exists() {
            return Ok(Vec::new());
        }
    }
    let (mut conn, backend) = connect(url).await?;
    let list = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> '_sqlx_migrations' ORDER BY 1"
        }
    };
    let names: Vec<String> = sqlx::query(list)
        .fetch_all(&mut conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("name"))
        .collect::<Result<_, _>>()?;
    let mut counts = Vec::with_capacity(names.len());
    for name in names {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {quoted}"))
            .fetch_one(&mut conn)
            .await?
            .try_get("n")?;
        counts.push((name, n));
    }
    let _ = conn.close().await;
    Ok(counts)
}

/// The `application_name` of this module's own PostgreSQL sessions.
const OWN_SESSION: &str = "dwb-admin-restore-check";

/// Sessions other than this module's connected to the PostgreSQL database
/// at `url` (a running server holds some); always 0 for SQLite, where this
/// cannot be seen. A session this module closed a moment before (`restore`
/// reads the row counts just before) is still listed until its server
/// process exits: it is left out by its name.
pub async fn other_connections(url: &str) -> StoreResult<i64> {
    if Backend::from_url(url) != Some(Backend::Postgres) {
        return Ok(0);
    }
    let (mut conn, _) = connect(url).await?;
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND backend_type = 'client backend' AND application_name <> $1",
    )
    .bind(OWN_SESSION)
    .fetch_one(&mut conn)
    .await?
    .try_get("n")?;
    let _ = conn.close().await;
    Ok(n)
}

/// A PostgreSQL URL split for `pg_dump` and `pg_restore`: the URL without
/// its password (safe on a command line and in messages) and the password
/// for `PGPASSWORD`.
pub struct Libpq {
    pub url: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for Libpq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Libpq")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Libpq {
    pub fn of(url: &str) -> Libpq {
        let plain = Libpq {
            url: url.to_string(),
            password: None,
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return plain;
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let Some((userinfo, host)) = authority.rsplit_once('@') else {
            return plain;
        };
        let Some((user, password)) = userinfo.split_once(':') else {
            return plain;
        };
        Libpq {
            url: format!("{scheme}://{user}@{host}{tail}"),
            password: Some(percent_decode(password)),
        }
    }
}

/// Decodes `%XX` escapes (as in a URL's password); anything else is kept.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url() {
        let l = Libpq::of("postgres://u:p%40ss@h:5432/db?sslmode=disable");
        assert_eq!(l.url, "postgres://u@h:5432/db?sslmode=disable");
        assert_eq!(l.password.as_deref(), Some("p@ss"));
        assert!(!format!("{l:?}").contains("p@ss"));
        let l = Libpq::of("postgres://u@h/db");
        assert_eq!(l.url, "postgres://u@h/db");
        assert!(l.password.is_none());
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///tmp/x/dwb.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x/dwb.db"))
        );
        assert_eq!(
            sqlite_path("sqlite://./dwb.db"),
            Some(PathBuf::from("./dwb.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[tokio::test]
    async fn a_copy_holds_the_rows_and_a_missing_file_is_empty() {
        let url = crate::testdb::fresh_database(Backend::Sqlite)
            .await
            .unwrap();
        let path = sqlite_path(&url).unwrap();
        let missing = format!("sqlite://{}.none?mode=rwc", path.display());
        assert!(row_counts(&missing).await.unwrap().is_empty());
        let store = crate::SqlStore::connect(&url).await.unwrap();
        store.close().await;
        let counts = row_counts(&url).await.unwrap();
        assert!(counts.iter().any(|(t, n)| t == "tenants" && *n == 0));
        let copy = path.with_file_name("copy.db");
        sqlite_copy(&url, &copy).await.unwrap();
        let copied = row_counts(&format!("sqlite://{}", copy.display()))
            .await
            .unwrap();
        assert_eq!(copied, counts);
    }

    /// Another program's session counts; this module's own, closed a moment
    /// before (as `restore`'s look at the row counts is) and possibly still
    /// listed, do not. SQLite cannot tell: always 0.
    #[tokio::test]
    async fn other_sessions_count_and_the_checks_own_do_not() {
        let url = crate::testdb::fresh_database(Backend::Postgres)
            .await
            .unwrap();
        sqlx::any::install_default_drivers();
        let held = AnyConnection::connect(&url).await.unwrap();
        assert_eq!(other_connections(&url).await.unwrap(), 1);
        held.close().await.unwrap();
        let (own, _) = connect(&url).await.unwrap();
        assert_eq!(
            other_connections(&url).await.unwrap(),
            0,
            "an open one of its own"
        );
        own.close().await.unwrap();
        for _ in 0..5 {
            assert!(row_counts(&url).await.unwrap().is_empty());
            assert_eq!(other_connections(&url).await.unwrap(), 0);
        }
        let sqlite = crate::testdb::fresh_database(Backend::Sqlite)
            .await
            .unwrap();
        let (_held, _) = connect(&sqlite).await.unwrap();
        assert_eq!(other_connections(&sqlite).await.unwrap(), 0);
    }
}
