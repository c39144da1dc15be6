//! The lake handle: where tables live, how they are opened, counted and dropped.

use std::sync::Arc;

use deltalake::datafusion::prelude::SessionContext;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::{DeltaTable, DeltaTableBuilder, ObjectStore};
use futures::TryStreamExt;
use url::Url;

use crate::error::LakeError;

/// Longest table name, in bytes.
const MAX_TABLE_NAME: usize = 128;

/// A folder (local path, `file://` URL or, later, an object store URL such
/// as `s3://bucket/prefix`) holding one Delta table per data set.
#[derive(Debug, Clone)]
pub struct Lake {
    root: Url,
}

impl Lake {
    /// Opens the lake at `url`: a local path (made absolute and created if
    /// missing) or a URL. Only `file://` stores are built in; other schemes
    /// need the matching deltalake feature and its handlers registered.
    pub fn open(url: &str) -> Result<Lake, LakeError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(LakeError::bad("url", "the lake location is empty"));
        }
        let mut root = match Url::parse(url) {
            Ok(u) if u.scheme().len() > 1 => u,
            // No scheme, or a Windows drive letter: a local path.
            _ => {
                let path = std::path::absolute(url)
                    .map_err(|e| LakeError::bad("url", format!("bad local path: {e}")))?;
                Url::from_directory_path(&path)
                    .map_err(|()| LakeError::bad("url", "bad local path"))?
            }
        };
        if root.scheme() == "file" {
            let path = root
                .to_file_path()
                .map_err(|()| LakeError::bad("url", "bad file URL"))?;
            std::fs::create_dir_all(&path)?;
        }
        if !root.path().ends_with('/') {
            let p = format!("{}/", root.path());
            root.set_path(&p);
        }
        Ok(Lake { root })
    }

    /// The lake's root URL (ends with `/`).
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The URL of the Delta folder of `table` (ends with `/`). Table names
    /// are 1..=128 characters of `A-Z a-z 0-9 _ -` (data set ids fit).
    pub fn table_path(&self, table: &str) -> Result<Url, LakeError> {
        let ok = !table.is_empty()
            && table.len() <= MAX_TABLE_NAME
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(LakeError::bad(
                "table",
                "a table name has 1 to 128 characters among A-Z, a-z, 0-9, '_' and '-'",
            ));
        }
        self.root
            .join(&format!("{table}/"))
            .map_err(|e| LakeError::bad("table", e.to_string()))
    }

    /// The table, loaded at its latest version, or `None` when there is no
    /// Delta log at its place.
    pub(crate) async fn load(&self, table: &str) -> Result<Option<DeltaTable>, LakeError> {
        let url = self.table_path(table)?;
        if let Ok(path) = url.to_file_path() {
            if !tokio::fs::try_exists(&path).await? {
                return Ok(None);
            }
        }
        let mut t = DeltaTableBuilder::from_url(url)?.build()?;
        if !t.verify_deltatable_existence().await? {
            return Ok(None);
        }
        t.load().await?;
        Ok(Some(t))
    }

    /// Like [`Lake::load`] but a missing table is `NotFound`.
    pub(crate) async fn load_existing(&self, table: &str) -> Result<DeltaTable, LakeError> {
        self.load(table)
            .await?
            .ok_or_else(|| LakeError::NotFound(table.to_string()))
    }

    /// A DataFusion session that can read `t`.
    pub(crate) fn session_for(t: &DeltaTable) -> Result<SessionContext, LakeError> {
        let ctx = SessionContext::new();
        t.update_datafusion_session(&ctx.state())?;
        Ok(ctx)
    }

    /// Rows in the latest version of `table`.
    pub async fn row_count(&self, table: &str) -> Result<u64, LakeError> {
        let t = self.load_existing(table).await?;
        let ctx = Self::session_for(&t)?;
        let provider = t.table_provider().await?;
        let n = ctx.read_table(provider)?.count().await?;
        Ok(n as u64)
    }

    /// Deletes every file of `table` (data and log). `NotFound` when absent.
    pub async fn delete_table(&self, table: &str) -> Result<(), LakeError> {
        let url = self.table_path(table)?;
        if self.load(table).await?.is_none() {
            return Err(LakeError::NotFound(table.to_string()));
        }
        let store = Self::table_store(&url)?;
        let paths: Vec<_> = store
            .list(None)
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        for p in paths {
            store.delete(&p).await?;
        }
        if let Ok(path) = url.to_file_path() {
            if let Err(e) = tokio::fs::remove_dir_all(&path).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// An object store rooted at the table folder `url`.
    pub(crate) fn table_store(url: &Url) -> Result<Arc<dyn ObjectStore>, LakeError> {
        Ok(DeltaTableBuilder::from_url(url.clone())?
            .build()?
            .object_store())
    }
}
