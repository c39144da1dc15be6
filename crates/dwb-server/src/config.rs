//! Configuration: embedded defaults < TOML file < `DWB_*` environment < flags.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The settings of a dwb process. Every key can come from the TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    pub lake_url: Option<String>,
    pub session_hours: u64,
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    pub token_lifetime_secs: u32,
    pub allowed_audiences: Vec<String>,
    /// A running ingest job silent this long (seconds) belongs to a stopped server.
    pub ingest_stopped_after_secs: u64,
    /// How long (seconds) data files no table version references are kept.
    pub lake_keep_unreferenced_secs: u64,
    /// Options of a cloud lake (object store configuration keys), over the environment.
    pub lake_options: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./dwb-data"),
            public_url: None,
            database_url: None,
            lake_url: None,
            session_hours: 12,
            max_body_bytes: 1024 * 1024,
            log_format: LogFormat::Text,
            token_lifetime_secs: 3600,
            allowed_audiences: Vec::new(),
            ingest_stopped_after_secs: 120,
            lake_keep_unreferenced_secs: 86_400,
            lake_options: Default::default(),
        }
    }
}

/// The commented TOML that `dwb config print-default` prints; a test keeps it
/// equal to `Config::default()`.
pub const DEFAULT_TOML: &str = r#"# dwb configuration. Precedence: defaults < this file < DWB_* environment < flags.

# Address and port to listen on (DWB_LISTEN, --listen).
listen = "127.0.0.1:8080"

# Folder for the SQLite database, keys and the local lake (DWB_DATA_DIR, --data-dir).
data_dir = "./dwb-data"

# The URL users and generated code see, e.g. "https://dwb.example.com"
# (DWB_PUBLIC_URL, --public-url). Default: http://<listen>. Cookies are
# marked Secure when it starts with https.
# public_url = "http://127.0.0.1:8080"

# The control store (DWB_DATABASE_URL, --database-url): sqlite://PATH or
# postgres://user:password@host:5432/db. Default: SQLite at <data_dir>/dwb.db.
# database_url = "postgres://postgres@127.0.0.1:5432/dwb"

# Where data sets live as Delta tables (DWB_LAKE_URL, --lake-url): a local
# folder, or s3://bucket/prefix, az://container/prefix, gs://bucket/prefix
# with credentials from the usual AWS_*, AZURE_* or GOOGLE_* environment
# variables (or [lake_options] below). Default: <data_dir>/lake.
# lake_url = "/var/lib/dwb/lake"

# How long a portal session lasts, in hours.
session_hours = 12

# Largest request body accepted, in bytes (larger ones get 413).
max_body_bytes = 1048576

# Log lines as "text" or "json" (on standard error; level from RUST_LOG).
log_format = "text"

# Lifetime of the access tokens /oauth2/token issues, in seconds.
token_lifetime_secs = 3600

# Resources (audiences) a token may be requested for. Empty: any requested
# resource is taken as dwb's own API, so scripts written for the hosted Data
# Workbench work unchanged. Otherwise an unlisted one is refused (invalid_target).
allowed_audiences = []

# An ingest job that has not reported for this many seconds (running jobs
# report every 20) belongs to a server that stopped: it is ended, or completed
# when its commit had landed.
ingest_stopped_after_secs = 120

# Data files that no version of their table references (left by an ingest
# that stopped, or replaced by an overwrite) are deleted once this many
# seconds old; readers of an older version need them until then.
lake_keep_unreferenced_secs = 86400

# The master key that seals API keys and signing keys is not configured here:
# set DWB_MASTER_KEY (64 hex digits), or dwb creates <data_dir>/master.key
# (mode 0600) on first start. Every node of one store needs the same key.

# Options of a cloud lake, overriding the environment: any object store
# configuration key, e.g. for an S3-compatible server:
# [lake_options]
# aws_endpoint = "http://127.0.0.1:9000"
# aws_allow_http = "true"
# aws_region = "us-east-1"
"#;

/// Values given on the command line or in the environment (clap merges those two).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    pub lake_url: Option<String>,
}

impl Config {
    /// Defaults, then the file (if any), then environment and flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the configuration file {}", path.display())
                })?;
                toml::from_str(&text).with_context(|| {
                    format!("the configuration file {} is not valid", path.display())
                })?
            }
            None => Config::default(),
        };
        if let Some(v) = &overrides.listen {
            cfg.listen = v.clone();
        }
        if let Some(v) = &overrides.data_dir {
            cfg.data_dir = v.clone();
        }
        if let Some(v) = &overrides.public_url {
            cfg.public_url = Some(v.clone());
        }
        if let Some(v) = &overrides.database_url {
            cfg.database_url = Some(v.clone());
        }
        if let Some(v) = &overrides.lake_url {
            cfg.lake_url = Some(v.clone());
        }
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> anyhow::Result<()> {
        if let Some(u) = &self.public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                anyhow::bail!("public_url: must start with http:// or https:// (got {u:?})");
            }
        }
        if !(60..=86_400).contains(&self.token_lifetime_secs) {
            anyhow::bail!("token_lifetime_secs: must be between 60 and 86400");
        }
        if self.session_hours == 0 {
            anyhow::bail!("session_hours: must be at least 1");
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("dwb.db").display()
            ),
        }
    }

    /// The lake in force: the configured one, or `<data_dir>/lake`.
    pub fn lake_url(&self) -> String {
        match &self.lake_url {
            Some(u) => u.clone(),
            None => self.data_dir.join("lake").display().to_string(),
        }
    }

    /// Opens the lake at [`Config::lake_url`] with the lake options.
    pub fn lake(&self) -> anyhow::Result<dwb_lake::Lake> {
        let url = self.lake_url();
        let options = self.lake_options.clone().into_iter().collect();
        dwb_lake::Lake::open_with(&url, options)
            .map_err(|e| anyhow::anyhow!("--lake-url {url}: {e}"))
    }

    /// The public URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_defaults_are_the_defaults() {
        let parsed: Config = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("dwb-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dwb.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"\n",
        )
        .unwrap();
        let o = Overrides {
            listen: Some("127.0.0.1:9100".into()),
            ..Default::default()
        };
        let cfg = Config::load(Some(&file), &o).unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:9100");
        assert_eq!(cfg.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cfg.public_url(), "http://127.0.0.1:9100");
        std::fs::write(&file, "lisen = 1\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&file), &Overrides::default()).unwrap_err()
        );
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn sweeper_defaults_are_the_documented_ones() {
        let bound = "127.0.0.1:8080".parse().unwrap();
        let s = crate::state::Settings::new(&Config::default(), bound);
        assert_eq!(s.stopped_after_ms, crate::sweep::STOPPED_AFTER_MS);
        assert_eq!(s.keep_unreferenced_ms, crate::sweep::KEEP_REPLACED_MS);
    }

    #[test]
    fn a_cloud_lake_takes_its_options_from_the_file() {
        let cfg: Config = toml::from_str(
            "lake_url = \"s3://bucket/lake\"\n[lake_options]\naws_endpoint = \"http://127.0.0.1:9000\"\naws_allow_http = \"true\"\n",
        )
        .unwrap();
        assert_eq!(cfg.lake_options["aws_endpoint"], "http://127.0.0.1:9000");
        let lake = cfg.lake().unwrap();
        assert!(lake.is_cloud());
        assert_eq!(lake.root().as_str(), "s3://bucket/lake/");
        let bad: Config = toml::from_str("lake_url = \"ftp://host/lake\"\n").unwrap();
        let err = format!("{:#}", bad.lake().unwrap_err());
        assert!(
            err.contains("--lake-url ftp://host/lake") && err.contains("s3://"),
            "{err}"
        );
    }
}
