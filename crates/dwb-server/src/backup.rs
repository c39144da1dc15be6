//! `dwb admin backup` and `dwb admin restore`: the store, the lake's
//! committed table versions and the master key copied into a folder and
//! brought back (see docs/backup.md).

use std::path::{Path, PathBuf};

use anyhow::Context;
use dwb_core::Timestamp;
use dwb_lake::TableCopy;
use dwb_store::backup::{other_connections, row_counts, sqlite_copy, sqlite_path, Libpq};
use dwb_store::{redact_url, Backend, SqlStore, Store};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::keys::MASTER_KEY_FILE;

/// The backup layout this dwb writes and reads.
pub const FORMAT_VERSION: u64 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const SQLITE_FILE: &str = "store.sqlite";
pub const POSTGRES_FILE: &str = "store.pgdump";
pub const LAKE_DIR: &str = "lake";

/// `manifest.json`: written last, so a backup without it is incomplete.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format_version: u64,
    pub dwb_version: String,
    pub created_at: String,
    /// `sqlite` or `postgres`.
    pub store: String,
    /// The store's file in the backup folder.
    pub store_file: String,
    /// `file` (master.key is in the backup), `environment` (DWB_MASTER_KEY
    /// was set: keep it yourself) or `none`.
    pub master_key: String,
    pub tables: Vec<TableEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableEntry {
    pub name: String,
    pub version: u64,
    pub data_files: usize,
    pub log_files: usize,
    pub bytes: u64,
}

impl From<&TableCopy> for TableEntry {
    fn from(c: &TableCopy) -> Self {
        TableEntry {
            name: c.name.clone(),
            version: c.version,
            data_files: c.data_files,
            log_files: c.log_files,
            bytes: c.bytes,
        }
    }
}

fn kind(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn backend_of(url: &str) -> anyhow::Result<Backend> {
    Backend::from_url(url).ok_or_else(|| {
        anyhow::anyhow!(
            "the database URL {} must start with sqlite:// or postgres://",
            redact_url(url)
        )
    })
}

/// Backs up the store first, then the lake (so the lake copy is at least
/// as new as every table the store copy names), then the master key file;
/// `master_env` is `DWB_MASTER_KEY`.
pub async fn backup(
    cfg: &Config,
    to: &Path,
    master_env: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<Manifest> {
    let url = cfg.database_url();
    let backend = backend_of(&url)?;
    if backend == Backend::Sqlite {
        let path = sqlite_path(&url)
            .ok_or_else(|| anyhow::anyhow!("{}: not a SQLite file", redact_url(&url)))?;
        if !path.exists() {
            anyhow::bail!(
                "there is no store at {}: check --data-dir or --database-url",
                path.display()
            );
        }
    }
    empty_folder(to)?;
    copy_all(cfg, &url, backend, to, master_env, now)
        .await
        .with_context(|| {
            format!(
                "the backup in {} is incomplete: remove that folder before trying again",
                to.display()
            )
        })
}

async fn copy_all(
    cfg: &Config,
    url: &str,
    backend: Backend,
    to: &Path,
    master_env: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<Manifest> {
    let store_file = match backend {
        Backend::Sqlite => {
            sqlite_copy(url, &to.join(SQLITE_FILE)).await?;
            SQLITE_FILE
        }
        Backend::Postgres => {
            let target = to.join(POSTGRES_FILE);
            let pq = Libpq::of(url);
            let args = [
                "--format=custom".into(),
                "--file".into(),
                target.display().to_string(),
                "--dbname".into(),
                pq.url.clone(),
            ];
            run_tool("pg_dump", &args, &pq).await?;
            POSTGRES_FILE
        }
    };
    let lake = cfg.lake()?;
    let copies = lake
        .copy_committed(&to.join(LAKE_DIR))
        .await
        .with_context(|| format!("cannot copy the lake {}", lake.root()))?;
    let key_file = cfg.data_dir.join(MASTER_KEY_FILE);
    let master_key = if master_env.is_some_and(|v| !v.trim().is_empty()) {
        "environment"
    } else if key_file.exists() {
        let key = std::fs::read(&key_file)
            .with_context(|| format!("cannot read {}", key_file.display()))?;
        write_private(&to.join(MASTER_KEY_FILE), &key)?;
        "file"
    } else {
        "none"
    };
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        dwb_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::api::types::iso(now),
        store: kind(backend).into(),
        store_file: store_file.into(),
        master_key: master_key.into(),
        tables: copies.iter().map(TableEntry::from).collect(),
    };
    let text = serde_json::to_string_pretty(&manifest)?;
    std::fs::write(to.join(MANIFEST), text + "\n")
        .with_context(|| format!("cannot write {}", to.join(MANIFEST).display()))?;
    Ok(manifest)
}

/// What a restore brought back.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    pub manifest: Manifest,
    /// The database restored into, without its password.
    pub database: String,
    pub tables: Vec<TableEntry>,
    /// Where master.key was written, if the backup had one.
    pub master_key_file: Option<PathBuf>,
    /// Things the operator must still do.
    pub notes: Vec<String>,
}

/// Restores the backup at `from` into the store and lake of `cfg`. Refuses
/// a store or lake that holds data unless `force`; always refuses a
/// PostgreSQL database other sessions use. The server must be stopped.
pub async fn restore(
    cfg: &Config,
    from: &Path,
    force: bool,
    master_env: Option<&str>,
) -> anyhow::Result<Restored> {
    let manifest = read_manifest(from)?;
    let url = cfg.database_url();
    let backend = backend_of(&url)?;
    if manifest.store != kind(backend) {
        anyhow::bail!(
            "--from {}: the backup holds a {} store, but {} is {}: restore it into a {} database",
            from.display(),
            manifest.store,
            redact_url(&url),
            kind(backend),
            manifest.store
        );
    }
    let store_copy = from.join(&manifest.store_file);
    if !store_copy.is_file() {
        anyhow::bail!(
            "--from {}: {} is missing",
            from.display(),
            manifest.store_file
        );
    }
    let rows: i64 = row_counts(&url).await?.iter().map(|(_, n)| n).sum();
    if rows > 0 && !force {
        anyhow::bail!(
            "the store {} already holds data ({rows} rows): restore into an empty store, or pass --force to replace it",
            redact_url(&url)
        );
    }
    let lake = cfg.lake()?;
    let tables = lake.tables().await?.len();
    if tables > 0 && !force {
        anyhow::bail!(
            "the lake {} already holds {tables} table folder(s): restore into an empty lake, or pass --force to replace the backed-up tables",
            lake.root()
        );
    }
    let busy = other_connections(&url).await?;
    if busy > 0 {
        anyhow::bail!(
            "{busy} other session(s) are connected to {}: stop every dwb server using it before restoring",
            redact_url(&url)
        );
    }
    let key_file = cfg.data_dir.join(MASTER_KEY_FILE);
    let backup_key = match manifest.master_key.as_str() {
        "file" => Some(
            std::fs::read(from.join(MASTER_KEY_FILE))
                .with_context(|| format!("--from {}: cannot read master.key", from.display()))?,
        ),
        _ => None,
    };
    if let (Some(new), Ok(old)) = (&backup_key, std::fs::read(&key_file)) {
        if trimmed(&old) != trimmed(new) && !force {
            anyhow::bail!(
                "{} holds another master key: restore into a new data directory, or pass --force to replace it",
                key_file.display()
            );
        }
    }

    match backend {
        Backend::Sqlite => place_sqlite(&url, &store_copy)?,
        Backend::Postgres => {
            let pq = Libpq::of(&url);
            let args = [
                "--clean".into(),
                "--if-exists".into(),
                "--no-owner".into(),
                "--no-acl".into(),
                "--single-transaction".into(),
                "--dbname".into(),
                pq.url.clone(),
                store_copy.display().to_string(),
            ];
            run_tool("pg_restore", &args, &pq).await?;
        }
    }
    // Brings an older backup's schema up to date, and proves the copy opens.
    let db = SqlStore::connect(&url).await?;
    let tenant = db.default_tenant().await?;
    db.close().await;
    if tenant.is_none() {
        anyhow::bail!("the restored store has no tenant: the backup is damaged");
    }
    let copies = lake
        .restore_from(&from.join(LAKE_DIR))
        .await
        .with_context(|| format!("cannot restore the lake {}", lake.root()))?;
    let mut notes = Vec::new();
    let mut master_key_file = None;
    if let Some(key) = &backup_key {
        std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                cfg.data_dir.display()
            )
        })?;
        replace_private(&key_file, key)?;
        master_key_file = Some(key_file.clone());
        if master_env.is_some_and(|v| trimmed(v.as_bytes()) != trimmed(key)) {
            notes.push(format!(
                "DWB_MASTER_KEY is set and differs from the restored {}: unset it (or set it to that key) before starting the server",
                key_file.display()
            ));
        }
    } else if manifest.master_key == "environment" {
        notes.push(
            "the backed-up server took its master key from DWB_MASTER_KEY: start this one with the same value".into(),
        );
    }
    Ok(Restored {
        database: redact_url(&url),
        tables: copies.iter().map(TableEntry::from).collect(),
        manifest,
        master_key_file,
        notes,
    })
}

fn trimmed(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// A new or empty folder, made private (it will hold secrets).
fn empty_folder(to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        let mut entries = std::fs::read_dir(to)
            .with_context(|| format!("--to {}: not a readable folder", to.display()))?;
        if entries.next().is_some() {
            anyhow::bail!(
                "--to {}: the folder is not empty; back up into a new or empty folder",
                to.display()
            );
        }
    }
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", to.display()))?;
    }
    Ok(())
}

fn read_manifest(from: &Path) -> anyhow::Result<Manifest> {
    let path = from.join(MANIFEST);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "--from {}: no readable {MANIFEST}: not a dwb backup, or one that did not finish",
            from.display()
        )
    })?;
    let m: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("--from {}: {MANIFEST} is damaged", from.display()))?;
    if m.format_version > FORMAT_VERSION {
        anyhow::bail!(
            "--from {}: backup format {} comes from a newer dwb ({}); this one reads format {FORMAT_VERSION}",
            from.display(),
            m.format_version,
            m.dwb_version
        );
    }
    Ok(m)
}

/// Puts the backed-up SQLite file in place of the database at `url`; the
/// old file's write-ahead log goes too, or SQLite would replay it onto the copy.
fn place_sqlite(url: &str, copy: &Path) -> anyhow::Result<()> {
    let target = sqlite_path(url)
        .ok_or_else(|| anyhow::anyhow!("{}: not a SQLite file", redact_url(url)))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let name = target.display().to_string();
    let staged = PathBuf::from(format!("{name}.restoring"));
    std::fs::copy(copy, &staged).with_context(|| format!("cannot write {}", staged.display()))?;
    for side in ["-wal", "-shm", "-journal"] {
        let p = PathBuf::from(format!("{name}{side}"));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", p.display())),
        }
    }
    std::fs::rename(&staged, &target)
        .with_context(|| format!("cannot move the copy to {}", target.display()))
}

/// Runs a PostgreSQL client tool, the password in `PGPASSWORD` only.
async fn run_tool(tool: &str, args: &[String], pq: &Libpq) -> anyhow::Result<()> {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(args).stdin(std::process::Stdio::null());
    if let Some(p) = &pq.password {
        cmd.env("PGPASSWORD", p);
    }
    let out = match cmd.output().await {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "{tool} was not found: install the PostgreSQL client tools of the server's major version (Debian and Ubuntu: postgresql-client) or put {tool} on PATH"
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot run {tool}")),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        anyhow::bail!("{tool} failed on {}: {}", redact_url(&pq.url), err.trim());
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::keys::write_private(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Replaces `path` with `bytes` (mode 0600), through a file beside it.
fn replace_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let staged = PathBuf::from(format!("{}.restoring", path.display()));
    let _ = std::fs::remove_file(&staged);
    write_private(&staged, bytes)?;
    std::fs::rename(&staged, path).with_context(|| format!("cannot write {}", path.display()))
}

impl Manifest {
    /// One line for people.
    pub fn summary(&self) -> String {
        let files: usize = self.tables.iter().map(|t| t.data_files).sum();
        format!(
            "{} store, {} table(s) with {files} data file(s), master key: {}",
            self.store,
            self.tables.len(),
            self.master_key
        )
    }
}
