//! Cleaning up what interrupted or finished work leaves in the lake: data
//! files no table version references (a crashed ingest's, or those an
//! overwrite replaced), table folders no data set owns, and staged uploads.

use std::sync::Arc;

use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::operations::vacuum::{Clock, VacuumMode};
use deltalake::Path;
use futures::TryStreamExt;

use crate::error::LakeError;
use crate::files::STAGING;
use crate::lake::Lake;

/// A folder at the top of the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeFolder {
    /// The table name (a data set id) or, for staged uploads, the file name.
    pub name: String,
    /// When the newest file in it changed, in milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

/// Vacuum's clock: the caller's `now`, not the wall clock.
#[derive(Debug)]
struct Fixed(i64);

impl Clock for Fixed {
    fn current_timestamp_millis(&self) -> i64 {
        self.0
    }
}

impl Lake {
    /// The table folders of the lake with their newest change (staging excluded).
    pub async fn tables(&self) -> Result<Vec<LakeFolder>, LakeError> {
        let store = self.table_store(self.root())?;
        let mut newest: std::collections::BTreeMap<String, i64> = Default::default();
        let mut files = store.list(None);
        while let Some(meta) = files.try_next().await? {
            let mut parts = meta.location.parts();
            let Some(top) = parts.next() else { continue };
            let top = top.as_ref().to_string();
            if top == STAGING || parts.next().is_none() {
                continue;
            }
            let t = meta.last_modified.timestamp_millis();
            let e = newest.entry(top).or_insert(t);
            *e = (*e).max(t);
        }
        Ok(newest
            .into_iter()
            .map(|(name, modified_ms)| LakeFolder { name, modified_ms })
            .collect())
    }

    /// The staged uploads with when each was written.
    pub async fn staged(&self) -> Result<Vec<LakeFolder>, LakeError> {
        let store = self.table_store(self.root())?;
        let prefix = Path::from(STAGING);
        let found: Vec<_> = store.list(Some(&prefix)).try_collect().await?;
        Ok(found
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_string();
                Some(LakeFolder {
                    name,
                    modified_ms: m.last_modified.timestamp_millis(),
                })
            })
            .collect())
    }

    /// Deletes the data files of `table` that its latest version does not
    /// reference and that are older than `keep_ms` at `now_ms`: files of an
    /// ingest that crashed before its commit, and files an overwrite replaced
    /// (kept that long for readers of the older version). Returns how many.
    /// A folder without a Delta log is left alone (see [`Lake::purge_table`]).
    pub async fn sweep_table(
        &self,
        table: &str,
        keep_ms: i64,
        now_ms: i64,
    ) -> Result<usize, LakeError> {
        let Some(t) = self.load(table).await? else {
            return Ok(0);
        };
        let (_, metrics) = t
            .vacuum()
            .with_mode(VacuumMode::Full)
            .with_retention_period(chrono::Duration::milliseconds(keep_ms))
            .with_enforce_retention_duration(false)
            .with_clock(Arc::new(Fixed(now_ms)))
            .await?;
        Ok(metrics.files_deleted.len())
    }

    /// Deletes every file under `table`'s folder, Delta log or not: for a
    /// table no data set owns (an import that crashed before it was recorded).
    pub async fn purge_table(&self, table: &str) -> Result<(), LakeError> {
        let url = self.table_path(table)?;
        self.forget(table);
        let store = self.table_store(&url)?;
        let paths: Vec<_> = store
            .list(None)
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        for p in paths {
            match store.delete(&p).await {
                Ok(()) | Err(deltalake::logstore::object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(crate::error::storage(e.to_string())),
            }
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
}
