//! The lake handle: where tables live, how they are opened, counted and dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use deltalake::datafusion::config::ConfigOptions;
use deltalake::datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use deltalake::datafusion::execution::SessionStateBuilder;
use deltalake::datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::{DeltaTable, DeltaTableBuilder, ObjectStore};
use url::Url;

use deltalake::datafusion::catalog::TableProvider;
use object_store::signer::Signer;

use crate::counts::Counts;
use crate::error::LakeError;
use crate::ordered_scan::KeepScanOrder;
use crate::stores::{self, Cloud};
use crate::tally::Tallies;

/// Longest table name, in bytes.
const MAX_TABLE_NAME: usize = 128;

/// A table's row count, and the committed version it was read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowCount {
    pub rows: u64,
    pub version: u64,
}

/// A folder (local path, `file://` URL, or a cloud URL: `s3://bucket/prefix`,
/// `az://container/prefix`, `gs://bucket/prefix`) holding one Delta table per data set.
#[derive(Clone)]
pub struct Lake {
    root: Url,
    /// Storage options (credentials, endpoint…) for cloud lakes.
    options: HashMap<String, String>,
    /// Tables loaded before, brought up to date by reading only newer log
    /// entries instead of the whole log at every query.
    loaded: Arc<Mutex<HashMap<String, DeltaTable>>>,
    /// One query runtime for every query: its caches (Parquet footers and
    /// page indexes) outlive a single query.
    runtime: Arc<RuntimeEnv>,
    /// Presigns file URLs of a cloud lake (`None` for a local one).
    signer: Option<Arc<dyn Signer>>,
    /// The query provider of each table's latest version seen.
    providers: Arc<Mutex<HashMap<String, Provided>>>,
    /// Row counts of filtered queries, per table version and filter.
    pub(crate) counts: Arc<Counts>,
    /// Footers and value counts that count filtered rows without a scan.
    pub(crate) tallies: Arc<Tallies>,
    /// Every query's DataFusion settings, built once at open: dwb's own
    /// choices, overridden by `DATAFUSION_*` environment variables.
    config: SessionConfig,
}

/// A table version and the provider of its files.
type Provided = (Option<u64>, Arc<dyn TableProvider>);

/// Tables kept loaded; past this many the cache starts over.
const MAX_LOADED: usize = 256;

impl std::fmt::Debug for Lake {
    // Options may hold credentials: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("root", &self.root.as_str())
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Lake {
    /// Opens the lake at `url`: a local path (made absolute and created if
    /// missing) or a URL. Cloud lakes take their credentials from the
    /// environment (`AWS_*`, `AZURE_*`, `GOOGLE_*`); see [`Lake::open_with`].
    pub fn open(url: &str) -> Result<Lake, LakeError> {
        Self::open_with(url, HashMap::new())
    }

    /// Like [`Lake::open`], with storage options that override the
    /// environment: the object store configuration keys, such as
    /// `aws_endpoint`, `aws_access_key_id`, `aws_allow_http`,
    /// `azure_storage_account_name` or `google_service_account`.
    pub fn open_with(url: &str, options: HashMap<String, String>) -> Result<Lake, LakeError> {
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
        } else if Cloud::of(&root).is_some() {
            stores::register();
        } else {
            return Err(LakeError::bad(
                "url",
                format!(
                    "unknown lake scheme '{}': use a local path, file://, s3://, az:// or gs://",
                    root.scheme()
                ),
            ));
        }
        if !root.path().ends_with('/') {
            let p = format!("{}/", root.path());
            root.set_path(&p);
        }
        let runtime = RuntimeEnvBuilder::new().build_arc()?;
        let signer = stores::signer(&root, &options)?;
        let config = query_config(&settings_from(|var| std::env::var(var).ok())?)?;
        Ok(Lake {
            root,
            options,
            loaded: Arc::default(),
            runtime,
            signer,
            providers: Arc::default(),
            counts: Arc::default(),
            tallies: Arc::default(),
            config,
        })
    }

    /// The storage options the lake was opened with.
    pub(crate) fn options(&self) -> &HashMap<String, String> {
        &self.options
    }

    /// True when the lake is in cloud storage (files can be presigned).
    pub fn is_cloud(&self) -> bool {
        self.signer.is_some()
    }

    pub(crate) fn signer(&self) -> Option<&dyn Signer> {
        self.signer.as_deref()
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
                self.forget(table);
                return Ok(None);
            }
        }
        let cached = self.loaded.lock().ok().and_then(|m| m.get(table).cloned());
        if let Some(mut t) = cached {
            // Only log entries newer than the cached version are read.
            if t.update_state().await.is_ok() {
                self.remember(table, &t);
                return Ok(Some(t));
            }
            self.forget(table);
        }
        let mut t = DeltaTableBuilder::from_url(url)?
            .with_storage_options(self.options.clone())
            .build()?;
        if !t.verify_deltatable_existence().await? {
            return Ok(None);
        }
        t.load().await?;
        self.remember(table, &t);
        Ok(Some(t))
    }

    fn remember(&self, table: &str, t: &DeltaTable) {
        if let Ok(mut m) = self.loaded.lock() {
            if m.len() >= MAX_LOADED && !m.contains_key(table) {
                m.clear();
            }
            m.insert(table.to_string(), t.clone());
        }
    }

    /// Drops `table` from the caches (it was deleted or could not be updated).
    pub(crate) fn forget(&self, table: &str) {
        if let Ok(mut m) = self.loaded.lock() {
            m.remove(table);
        }
        if let Ok(mut m) = self.providers.lock() {
            m.remove(table);
        }
        self.counts.forget(table);
        self.tallies.forget(table);
    }

    /// The provider built for `version` of `table`, if any.
    pub(crate) fn provider(
        &self,
        table: &str,
        version: Option<u64>,
    ) -> Option<Arc<dyn TableProvider>> {
        let m = self.providers.lock().ok()?;
        m.get(table)
            .filter(|(v, _)| *v == version)
            .map(|(_, p)| p.clone())
    }

    pub(crate) fn remember_provider(
        &self,
        table: &str,
        version: Option<u64>,
        p: &Arc<dyn TableProvider>,
    ) {
        if let Ok(mut m) = self.providers.lock() {
            if m.len() >= MAX_LOADED && !m.contains_key(table) {
                m.clear();
            }
            m.insert(table.to_string(), (version, p.clone()));
        }
    }

    /// Like [`Lake::load`] but a missing table is `NotFound`.
    pub(crate) async fn load_existing(&self, table: &str) -> Result<DeltaTable, LakeError> {
        self.load(table)
            .await?
            .ok_or_else(|| LakeError::NotFound(table.to_string()))
    }

    /// A DataFusion session that can read `t`.
    pub(crate) fn session_for(
        &self,
        t: &DeltaTable,
        one_partition: bool,
    ) -> Result<SessionContext, LakeError> {
        let mut config = self.config.clone();
        if one_partition {
            config = config.with_target_partitions(1);
        }
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(self.runtime.clone())
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(KeepScanOrder))
            .build();
        let ctx = SessionContext::new_with_state(state);
        t.update_datafusion_session(&ctx.state())?;
        Ok(ctx)
    }

    /// Rows in the latest version of `table` (see [`Lake::counted`]).
    pub async fn row_count(&self, table: &str) -> Result<u64, LakeError> {
        Ok(self.counted(table).await?.rows)
    }

    /// Rows in the latest version of `table`, and that version: the sum of
    /// the row counts the Delta log keeps for each file (no data is read),
    /// or a count over the data when a file has no statistics.
    pub async fn counted(&self, table: &str) -> Result<RowCount, LakeError> {
        let t = self.load_existing(table).await?;
        let version = t.version().unwrap_or(0);
        let from_stats: Option<u64> = t
            .snapshot()?
            .log_data()
            .iter()
            .map(|f| f.num_records().map(|n| n as u64))
            .sum();
        if let Some(rows) = from_stats {
            return Ok(RowCount { rows, version });
        }
        let ctx = self.session_for(&t, false)?;
        let provider = t.table_provider().await?;
        let rows = ctx.read_table(provider)?.count().await? as u64;
        Ok(RowCount { rows, version })
    }

    /// Deletes every file of `table` (data and log). `NotFound` when absent.
    pub async fn delete_table(&self, table: &str) -> Result<(), LakeError> {
        if self.load(table).await?.is_none() {
            return Err(LakeError::NotFound(table.to_string()));
        }
        self.purge_table(table).await
    }

    /// An object store rooted at the table folder `url`.
    pub(crate) fn table_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>, LakeError> {
        Ok(DeltaTableBuilder::from_url(url.clone())?
            .with_storage_options(self.options.clone())
            .build()?
            .object_store())
    }
}

/// dwb's DataFusion settings under `settings` (see [`settings_from`]).
fn query_config(settings: &[(String, String)]) -> Result<SessionConfig, LakeError> {
    // Filters are evaluated while Parquet pages are decoded (the most
    // selective first), so columns of rows filtered out are not built.
    let mut config = SessionConfig::new()
        .set_bool("datafusion.execution.parquet.pushdown_filters", true)
        .set_bool("datafusion.execution.parquet.reorder_filters", true);
    for (key, value) in settings {
        config.options_mut().set(key, value)?;
    }
    Ok(config)
}

/// The DataFusion settings given as environment variables: each setting
/// `datafusion.a.b_c` is read from `DATAFUSION_A_B_C` (DataFusion's own
/// naming), e.g. `DATAFUSION_EXECUTION_TARGET_PARTITIONS=1`. A value that
/// DataFusion refuses is an error naming the variable.
fn settings_from(var: impl Fn(&str) -> Option<String>) -> Result<Vec<(String, String)>, LakeError> {
    let mut check = ConfigOptions::default();
    let mut settings = Vec::new();
    for entry in ConfigOptions::default().entries() {
        let name = entry.key.to_uppercase().replace('.', "_");
        if let Some(value) = var(&name) {
            check
                .set(&entry.key, &value)
                .map_err(|e| LakeError::bad(&name, format!("DataFusion refuses {value:?} ({e}); set a value it accepts or unset the variable")))?;
            settings.push((entry.key, value));
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datafusion_settings_come_from_their_variables_and_bad_values_are_named() {
        let none = settings_from(|_| None).unwrap();
        assert!(none.is_empty());
        let one = settings_from(|v| {
            (v == "DATAFUSION_EXECUTION_TARGET_PARTITIONS").then(|| "1".to_string())
        })
        .unwrap();
        assert_eq!(
            one,
            vec![(
                "datafusion.execution.target_partitions".to_string(),
                "1".to_string()
            )]
        );
        let bad = settings_from(|v| {
            (v == "DATAFUSION_EXECUTION_PARQUET_PUSHDOWN_FILTERS").then(|| "maybe".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("DATAFUSION_EXECUTION_PARQUET_PUSHDOWN_FILTERS") && bad.contains("maybe"),
            "{bad}"
        );
    }
}
