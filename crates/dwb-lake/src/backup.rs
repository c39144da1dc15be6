//! Backups of the lake: each table's committed Delta log and the data files
//! its versions reference, copied to and from a local folder through the
//! lake's object store (so cloud lakes are backed up the same way).

use std::collections::BTreeSet;
use std::path::{Path as FsPath, PathBuf};

use deltalake::logstore::object_store::buffered::BufWriter;
use deltalake::logstore::object_store::{self, ObjectStoreExt};
use deltalake::{ObjectStore, Path};
use futures::TryStreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::LakeError;
use crate::lake::Lake;

/// The Delta log folder of a table.
const LOG: &str = "_delta_log";

/// What was copied of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table (folder) name.
    pub name: String,
    /// The newest committed Delta version copied.
    pub version: u64,
    /// Data files copied.
    pub data_files: usize,
    /// Delta log files copied.
    pub log_files: usize,
    /// Bytes copied, data and log.
    pub bytes: u64,
    /// Data files only older versions referenced that were already swept
    /// away (those versions can no longer be read, here as in the lake).
    pub gone: usize,
}

impl Lake {
    /// Copies every table's committed state into `to/<table>/...`, keeping
    /// relative paths: the Delta log up to the version loaded, and every data
    /// file those log entries (or the latest version) reference. Staged
    /// uploads, files of uncommitted writes and folders without a Delta log
    /// are left out. A commit landing meanwhile is simply not included.
    pub async fn copy_committed(&self, to: &FsPath) -> Result<Vec<TableCopy>, LakeError> {
        let mut copies = Vec::new();
        for folder in self.tables().await? {
            if self.table_path(&folder.name).is_err() {
                continue;
            }
            if let Some(c) = self
                .copy_table(&folder.name, &to.join(&folder.name))
                .await?
            {
                copies.push(c);
            }
        }
        Ok(copies)
    }

    async fn copy_table(&self, table: &str, to: &FsPath) -> Result<Option<TableCopy>, LakeError> {
        let Some(t) = self.load(table).await? else {
            return Ok(None);
        };
        let version = as_u64(t.version())
            .ok_or_else(|| LakeError::Storage(format!("table {table} has no version")))?;
        let current: BTreeSet<Path> = t
            .snapshot()?
            .log_data()
            .iter()
            .map(|f| f.object_store_path())
            .collect();
        let store = self.table_store(&self.table_path(table)?)?;
        let log: Vec<Path> = store
            .list(Some(&Path::from(LOG)))
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        let mut copy = TableCopy {
            name: table.to_string(),
            version,
            data_files: 0,
            log_files: 0,
            bytes: 0,
            gone: 0,
        };
        let mut referenced = current.clone();
        let mut log_files = Vec::new();
        for p in log {
            if !in_version(&store, &p, version).await? {
                continue;
            }
            if p.filename().is_some_and(|n| n.ends_with(".json")) {
                let text = store.get(&p).await?.bytes().await?;
                referenced.extend(commit_files(&text, table)?);
            }
            log_files.push(p);
        }
        for p in &referenced {
            match download(&store, p, &to.join(p.as_ref())).await {
                Ok(n) => {
                    copy.data_files += 1;
                    copy.bytes += n;
                }
                Err(object_store::Error::NotFound { .. }) if !current.contains(p) => {
                    copy.gone += 1;
                }
                Err(e) => {
                    return Err(LakeError::Storage(format!("table {table}, file {p}: {e}")));
                }
            }
        }
        for p in &log_files {
            copy.bytes += download(&store, p, &to.join(p.as_ref()))
                .await
                .map_err(|e| LakeError::Storage(format!("table {table}, file {p}: {e}")))?;
            copy.log_files += 1;
        }
        Ok(Some(copy))
    }

    /// Copies the tables of a folder written by [`Lake::copy_committed`]
    /// into the lake, replacing any table of the same name: data files
    /// first, then the log in version order, so that no reader sees a
    /// version before its files. Tables not in the folder are left alone.
    pub async fn restore_from(&self, from: &FsPath) -> Result<Vec<TableCopy>, LakeError> {
        let mut copies = Vec::new();
        for table in local_tables(from).await? {
            copies.push(self.restore_table(&table, &from.join(&table)).await?);
        }
        Ok(copies)
    }

    async fn restore_table(&self, table: &str, from: &FsPath) -> Result<TableCopy, LakeError> {
        let url = self.table_path(table)?;
        self.purge_table(table).await?;
        if let Ok(path) = url.to_file_path() {
            tokio::fs::create_dir_all(&path).await?;
        }
        let store = self.table_store(&url)?;
        let mut files = local_files(from).await?;
        // Log entries last, oldest first; `_last_checkpoint` sorts after them.
        files.sort_by_key(|rel| (rel.starts_with(&format!("{LOG}/")), rel.clone()));
        let mut copy = TableCopy {
            name: table.to_string(),
            version: 0,
            data_files: 0,
            log_files: 0,
            bytes: 0,
            gone: 0,
        };
        for rel in &files {
            let target = Path::parse(rel).map_err(|e| LakeError::bad("path", e.to_string()))?;
            copy.bytes += upload(&store, &from.join(rel), target).await?;
            if rel.starts_with(&format!("{LOG}/")) {
                copy.log_files += 1;
            } else {
                copy.data_files += 1;
            }
        }
        self.forget(table);
        let t = self.load_existing(table).await?;
        copy.version = as_u64(t.version()).unwrap_or(0);
        Ok(copy)
    }
}

/// A Delta version as a number, whatever integer type deltalake uses.
fn as_u64<V: TryInto<u64>>(v: Option<V>) -> Option<u64> {
    v.and_then(|v| v.try_into().ok())
}

/// Whether log file `p` belongs to versions up to `version`: numbered
/// entries (commits, checkpoints, checksums) by their number, and
/// `_last_checkpoint` by the version it points at; temporary files never.
async fn in_version(store: &dyn ObjectStore, p: &Path, version: u64) -> Result<bool, LakeError> {
    let Some(name) = p.filename() else {
        return Ok(false);
    };
    if name == "_last_checkpoint" {
        let text = store.get(p).await?.bytes().await?;
        let pointed = serde_json::from_slice::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["version"].as_u64());
        return Ok(pointed.is_some_and(|v| v <= version));
    }
    if name.ends_with(".tmp") {
        return Ok(false);
    }
    let number = name.split('.').next().and_then(|n| n.parse::<u64>().ok());
    Ok(number.is_some_and(|n| n <= version))
}

/// The files (relative to the table) a commit's `add` and `cdc` actions name.
fn commit_files(text: &[u8], table: &str) -> Result<Vec<Path>, LakeError> {
    let mut files = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let action: serde_json::Value = serde_json::from_slice(line)
            .map_err(|e| LakeError::Storage(format!("table {table}: bad Delta log line: {e}")))?;
        for kind in ["add", "cdc"] {
            let Some(raw) = action[kind]["path"].as_str() else {
                continue;
            };
            if raw.contains("://") {
                return Err(LakeError::Storage(format!(
                    "table {table}: a data file outside the table ({raw}) cannot be backed up"
                )));
            }
            let p = Path::from_url_path(raw).map_err(|e| {
                LakeError::Storage(format!("table {table}: bad data file path {raw}: {e}"))
            })?;
            files.push(p);
        }
    }
    Ok(files)
}

/// Streams object `p` into the local file `to` (its folders created); the byte count.
async fn download(
    store: &dyn ObjectStore,
    p: &Path,
    to: &FsPath,
) -> Result<u64, object_store::Error> {
    let io = |e: std::io::Error| object_store::Error::Generic {
        store: "backup folder",
        source: Box::new(e),
    };
    let got = store.get(p).await?;
    if let Some(dir) = to.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let mut file = tokio::fs::File::create(to).await.map_err(io)?;
    let mut stream = got.into_stream();
    let mut n = 0u64;
    while let Some(chunk) = stream.try_next().await? {
        file.write_all(&chunk).await.map_err(io)?;
        n += chunk.len() as u64;
    }
    file.sync_all().await.map_err(io)?;
    Ok(n)
}

/// Streams the local file `from` into object `to`, in parts when large.
async fn upload(
    store: &std::sync::Arc<dyn ObjectStore>,
    from: &FsPath,
    to: Path,
) -> Result<u64, LakeError> {
    let mut file = tokio::fs::File::open(from).await?;
    let mut w = BufWriter::new(store.clone(), to);
    let n = tokio::io::copy(&mut file, &mut w).await?;
    w.shutdown().await?;
    Ok(n)
}

/// The table folders of a backup: those holding a Delta log, sorted.
async fn local_tables(from: &FsPath) -> Result<Vec<String>, LakeError> {
    let mut names = Vec::new();
    let mut dir = match tokio::fs::read_dir(from).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e.into()),
    };
    while let Some(e) = dir.next_entry().await? {
        let name = e.file_name().to_string_lossy().into_owned();
        if tokio::fs::try_exists(e.path().join(LOG)).await? {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Every file under `root`, as `/`-separated paths relative to it.
async fn local_files(root: &FsPath) -> Result<Vec<String>, LakeError> {
    let mut found = Vec::new();
    let mut todo: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let mut entries = tokio::fs::read_dir(&dir).await?;
        while let Some(e) = entries.next_entry().await? {
            let path = e.path();
            if e.file_type().await?.is_dir() {
                todo.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push(parts.join("/"));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, ColumnType, TableSchema, WriteMode};

    fn schema() -> TableSchema {
        TableSchema::new(vec![
            Column::new("Channel", ColumnType::String),
            Column::new("Value", ColumnType::Double),
        ])
        .unwrap()
    }

    /// A table at version 2 (create, append, overwrite), plus what a backup
    /// leaves out: a stray data file, a folder without a log, a staged upload.
    async fn filled(lake: &Lake) {
        let s = schema();
        let csv = "Channel,Value\nA,1.5\nB,2.5\n";
        lake.ingest_csv("t1", &s, csv.as_bytes(), WriteMode::Create)
            .await
            .unwrap();
        lake.ingest_csv("t1", &s, csv.as_bytes(), WriteMode::Append)
            .await
            .unwrap();
        lake.ingest_csv(
            "t1",
            &s,
            "Channel,Value\nC,3.5\n".as_bytes(),
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
        let store = lake.table_store(lake.root()).unwrap();
        for p in [
            "t1/part-stray.parquet",
            "nolog/part-0.parquet",
            "_staging/job-1",
        ] {
            store.put(&Path::from(p), "x".into()).await.unwrap();
        }
    }

    async fn files_of(lake: &Lake, table: &str) -> Vec<(String, u64)> {
        let mut f: Vec<_> = lake
            .table_files(table)
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.path, f.size))
            .collect();
        f.sort();
        f
    }

    #[tokio::test]
    async fn a_copy_holds_every_committed_version_and_nothing_else() {
        let (a, b, to) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let from = Lake::open(&a.path().display().to_string()).unwrap();
        filled(&from).await;
        let copies = from.copy_committed(to.path()).await.unwrap();
        assert_eq!(copies.len(), 1, "{copies:?}");
        assert_eq!((copies[0].version, copies[0].data_files), (2, 3));
        assert_eq!((copies[0].log_files, copies[0].gone), (3, 0));
        assert!(!to.path().join("t1/part-stray.parquet").exists());
        assert!(!to.path().join("nolog").exists() && !to.path().join("_staging").exists());

        let into = Lake::open(&b.path().display().to_string()).unwrap();
        let restored = into.restore_from(to.path()).await.unwrap();
        assert_eq!(restored.len(), 1);
        assert_eq!((restored[0].version, restored[0].data_files), (2, 3));
        assert_eq!(into.row_count("t1").await.unwrap(), 1);
        let mut expected = files_of(&from, "t1").await;
        expected.retain(|(p, _)| p != "part-stray.parquet");
        assert_eq!(files_of(&into, "t1").await, expected);
        // A second restore replaces the table rather than mixing logs.
        into.ingest_csv(
            "t1",
            &schema(),
            "Channel,Value\nD,4.5\n".as_bytes(),
            WriteMode::Append,
        )
        .await
        .unwrap();
        into.restore_from(to.path()).await.unwrap();
        assert_eq!(files_of(&into, "t1").await, expected);
        assert_eq!(into.row_count("t1").await.unwrap(), 1);
    }

    /// A moto server (`pip install 'moto[server]'`) standing in for S3.
    struct Moto(std::process::Child, String);

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cloud_lake_is_copied_through_its_object_store() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let program = std::env::var("DWB_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let child = std::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} ({e}): pip install 'moto[server]'"));
        let moto = Moto(child, format!("http://127.0.0.1:{port}"));
        let http = reqwest::Client::new();
        let mut up = false;
        for _ in 0..200 {
            if http.put(format!("{}/backups", moto.1)).send().await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(up, "moto did not start");
        let options: std::collections::HashMap<String, String> = [
            ("aws_endpoint", moto.1.as_str()),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
            ("aws_region", "us-east-1"),
            ("aws_allow_http", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let from = Lake::open_with("s3://backups/one", options.clone()).unwrap();
        filled(&from).await;
        let to = tempfile::tempdir().unwrap();
        let copies = from.copy_committed(to.path()).await.unwrap();
        assert_eq!((copies[0].version, copies[0].data_files), (2, 3));
        let into = Lake::open_with("s3://backups/two", options).unwrap();
        into.restore_from(to.path()).await.unwrap();
        assert_eq!(into.row_count("t1").await.unwrap(), 1);
        let mut expected = files_of(&from, "t1").await;
        expected.retain(|(p, _)| p != "part-stray.parquet");
        assert_eq!(files_of(&into, "t1").await, expected);
    }

    #[test]
    fn commits_name_their_added_files_decoded() {
        let log = br#"{"commitInfo":{"operation":"WRITE"}}
{"add":{"path":"part-00000-a.parquet","size":10,"dataChange":true}}
{"remove":{"path":"part-old.parquet","dataChange":true}}
{"add":{"path":"day%3D2026-01-01/part-1.parquet","size":10,"dataChange":true}}
"#;
        let files = commit_files(log, "t").unwrap();
        let names: Vec<String> = files.iter().map(|p| p.to_string()).collect();
        assert_eq!(names.len(), 2);
        assert_eq!(names[0], "part-00000-a.parquet");
        assert!(files[1].as_ref().starts_with("day"), "{}", files[1]);
        let abs = br#"{"add":{"path":"s3://other/x.parquet"}}"#;
        assert!(commit_files(abs, "t").is_err());
    }
}
