//! `dwb datasets ...`: import a CSV file as a data set and list data sets,
//! on the store and lake of a server, also while it runs.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use dwb_core::{Clock, SystemClock};
use dwb_store::Store;
use serde_json::json;
use uuid::Uuid;

use crate::cli::{open_store, print_out, StoreArgs};
use crate::cli_accounts::find_workspace;
use crate::config::Overrides;
use crate::datasets::DataOps;
use crate::ledger::Actor;

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Create a data set from a CSV file (schema inferred unless --schema-version is given).
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// Workspace name or id.
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        csv: PathBuf,
        #[arg(long)]
        schema_version: Option<Uuid>,
        #[arg(long)]
        json: bool,
    },
    /// List the data sets of a workspace.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: DatasetCommand) -> anyhow::Result<()> {
    match cmd {
        DatasetCommand::Import {
            store,
            workspace,
            name,
            description,
            csv,
            schema_version,
            json,
        } => {
            let cfg = store.config(Overrides::default())?;
            let db = open_store(&cfg).await?;
            let ws = find_workspace(&db, &workspace).await?;
            let lake = cfg.lake()?;
            let file = tokio::fs::File::open(&csv)
                .await
                .with_context(|| format!("--csv: cannot open {}", csv.display()))?;
            let ops = DataOps::once(&db, &lake, SystemClock.now());
            let d = ops
                .import_csv(
                    &Actor::system(),
                    &ws,
                    &name,
                    &description,
                    json!({}),
                    schema_version,
                    tokio::io::BufReader::new(file),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let out = json!({"id": d.id, "name": d.name, "rows": d.row_count, "schemaVersionId": d.schema_version_id});
            print_out(&out, json, || {
                format!(
                    "created data set {} ({}) with {} rows",
                    d.name, d.id, d.row_count
                )
            });
        }
        DatasetCommand::List {
            store,
            workspace,
            json,
        } => {
            let cfg = store.config(Overrides::default())?;
            let db = open_store(&cfg).await?;
            let ws = find_workspace(&db, &workspace).await?;
            let list = db.datasets(ws.id).await?;
            if json {
                let v: Vec<_> = list
                    .iter()
                    .map(|d| json!({"id": d.id, "name": d.name, "rows": d.row_count}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for d in &list {
                    println!("{}\t{}\t{} rows", d.id, d.name, d.row_count);
                }
            }
        }
    }
    Ok(())
}
