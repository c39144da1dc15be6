//! `dwb service-accounts ...`: create, list, show, regenerate and delete
//! service accounts on the store of a server, also while it runs (the
//! server's caches follow the change log within a second).

use clap::Subcommand;
use dwb_core::access::{Access, Level};
use dwb_core::{Clock, CoreError, SystemClock};
use dwb_store::{ServiceAccount, SqlStore, Store, Workspace};
use serde_json::json;
use uuid::Uuid;

use crate::api::types::{iso, ServiceAccountOut};
use crate::cli::{default_tenant, open_store, print_out, StoreArgs};
use crate::config::{Config, Overrides};
use crate::keys::load_master_key;
use crate::ledger::Actor;
use crate::service_accounts::{endpoints_base_url, token_url, Ops};
use dwb_core::crypto::MasterKey;

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account and print its credentials (the secret only this once).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Workspace name or id.
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
        /// Contact email of the account's owner.
        #[arg(long)]
        email: String,
        /// reader, admin, or datasets[:ID,ID...]
        #[arg(long)]
        access: String,
        /// The URL users and scripts see (for the token URL and endpoints base URL printed).
        #[arg(long, env = "DWB_PUBLIC_URL")]
        public_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        json: bool,
    },
    Show {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        workspace: String,
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// A new secret; the old one and its tokens stop working at once.
    RegenerateSecret {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        workspace: String,
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Print the ready-to-run Python script of an account (it reads the secret from DWB_CLIENT_SECRET).
    SamplePython {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        workspace: String,
        id: Uuid,
        /// The URL the script calls.
        #[arg(long, env = "DWB_PUBLIC_URL")]
        public_url: Option<String>,
    },
    Delete {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        workspace: String,
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
}

/// `reader`, `admin`, `datasets` or `datasets:ID,ID`.
pub fn parse_access(text: &str) -> Result<Access, CoreError> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("datasets") {
        let list = rest.strip_prefix(':').unwrap_or("");
        let ids = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse::<Uuid>()
                    .map_err(|_| CoreError::new("--access", format!("{s:?} is not a data set id")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Access::datasets("--access", ids);
    }
    Level::parse("--access", t)
        .map(Access::Workspace)
        .map_err(|_| CoreError::new("--access", "must be reader, admin, or datasets[:ID,ID...]"))
}

pub async fn find_workspace(db: &SqlStore, name_or_id: &str) -> anyhow::Result<Workspace> {
    if let Ok(id) = name_or_id.parse::<Uuid>() {
        if let Some(ws) = db.workspace(id).await? {
            return Ok(ws);
        }
    }
    let tenant = default_tenant(db).await?;
    db.workspace_by_name(tenant, name_or_id)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("--workspace: no workspace is named or has the id {name_or_id:?}")
        })
}

fn show(a: &ServiceAccount) -> String {
    format!(
        "{}\t{}\t{}\t{}\tsecret expires {}",
        a.id,
        a.name,
        a.contact_email,
        a.access.describe(),
        iso(a.secret_expires_at)
    )
}

async fn open(store: &StoreArgs, workspace: &str) -> anyhow::Result<(Config, SqlStore, Workspace)> {
    let cfg = store.config(Overrides::default())?;
    let db = open_store(&cfg).await?;
    let ws = find_workspace(&db, workspace).await?;
    Ok((cfg, db, ws))
}

/// Like `open`, with the master key that seals API keys.
async fn open_with_key(
    store: &StoreArgs,
    workspace: &str,
) -> anyhow::Result<(Config, SqlStore, Workspace, MasterKey)> {
    let (cfg, db, ws) = open(store, workspace).await?;
    let master = load_master_key(
        std::env::var("DWB_MASTER_KEY").ok().as_deref(),
        &cfg.data_dir,
    )?;
    Ok((cfg, db, ws, master))
}

pub async fn run(cmd: AccountCommand) -> anyhow::Result<()> {
    let now = SystemClock.now();
    let actor = Actor::system();
    let err = |e: crate::service_accounts::OpError| anyhow::anyhow!("{e}");
    match cmd {
        AccountCommand::Create {
            store,
            workspace,
            name,
            email,
            access,
            public_url,
            json,
        } => {
            let access = parse_access(&access)?;
            let (cfg, db, ws, master) = open_with_key(&store, &workspace).await?;
            let ops = Ops {
                store: &db,
                master: &master,
                now,
            };
            let (a, creds) = ops
                .create(&actor, &ws, &name, &email, Some(access))
                .await
                .map_err(err)?;
            let public = public_url
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| cfg.public_url());
            let out = json!({
                "serviceAccountId": a.id,
                "serviceAccountSecret": creds.secret.expose(),
                "apiKey": creds.api_key.expose(),
                "tokenUrl": token_url(&public),
                "endpointsBaseUrl": endpoints_base_url(&public, ws.id),
                "secretExpiresAt": iso(a.secret_expires_at),
            });
            print_out(&out, json, || {
                format!(
                    "Service account ID:     {}\nService account secret: {}   (shown only now)\nAPI key:                {}\nToken URL:              {}\nEndpoints base URL:     {}",
                    a.id,
                    creds.secret.expose(),
                    creds.api_key.expose(),
                    token_url(&public),
                    endpoints_base_url(&public, ws.id)
                )
            });
        }
        AccountCommand::List {
            store,
            workspace,
            json,
        } => {
            let (_, db, ws) = open(&store, &workspace).await?;
            let list = db.service_accounts(ws.id).await?;
            if json {
                let v: Vec<_> = list.iter().map(ServiceAccountOut::from).collect();
                println!("{}", serde_json::to_string(&v)?);
            } else {
                for a in &list {
                    println!("{}", show(a));
                }
            }
        }
        AccountCommand::Show {
            store,
            workspace,
            id,
            json,
        } => {
            let (_, db, ws, master) = open_with_key(&store, &workspace).await?;
            let ops = Ops {
                store: &db,
                master: &master,
                now,
            };
            let a = ops.get(&ws, id).await.map_err(err)?;
            print_out(
                &serde_json::to_value(ServiceAccountOut::from(&a))?,
                json,
                || show(&a),
            );
        }
        AccountCommand::RegenerateSecret {
            store,
            workspace,
            id,
            json,
        } => {
            let (_, db, ws, master) = open_with_key(&store, &workspace).await?;
            let ops = Ops {
                store: &db,
                master: &master,
                now,
            };
            let (a, secret) = ops.regenerate(&actor, &ws, id).await.map_err(err)?;
            let out = json!({"serviceAccountId": a.id, "serviceAccountSecret": secret.expose(), "secretExpiresAt": iso(a.secret_expires_at)});
            print_out(&out, json, || {
                format!(
                    "New service account secret (shown only now): {}",
                    secret.expose()
                )
            });
        }
        AccountCommand::SamplePython {
            store,
            workspace,
            id,
            public_url,
        } => {
            let (cfg, db, ws, master) = open_with_key(&store, &workspace).await?;
            let ops = Ops {
                store: &db,
                master: &master,
                now,
            };
            let a = ops.get(&ws, id).await.map_err(err)?;
            let key = ops.api_key(&ws, id).await.map_err(err)?;
            let public = public_url
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| cfg.public_url());
            print!(
                "{}",
                crate::sample_python::render(&crate::sample_python::Sample {
                    public_url: &public,
                    workspace_id: ws.id,
                    client_id: a.id,
                    api_key: key.expose(),
                    secret: None,
                    account_name: &a.name,
                })
            );
        }
        AccountCommand::Delete {
            store,
            workspace,
            id,
            json,
        } => {
            let (_, db, ws, master) = open_with_key(&store, &workspace).await?;
            let ops = Ops {
                store: &db,
                master: &master,
                now,
            };
            ops.delete(&actor, &ws, id).await.map_err(err)?;
            print_out(&json!({"deleted": id}), json, || {
                format!("deleted service account {id}")
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_arguments() {
        assert_eq!(
            parse_access("reader").unwrap(),
            Access::Workspace(Level::Reader)
        );
        assert_eq!(
            parse_access("Admin").unwrap(),
            Access::Workspace(Level::Admin)
        );
        assert_eq!(parse_access("datasets").unwrap(), Access::Datasets(vec![]));
        let id = Uuid::new_v4();
        assert_eq!(
            parse_access(&format!("datasets:{id}")).unwrap(),
            Access::Datasets(vec![id])
        );
        assert!(parse_access("datasets:nope").is_err());
        assert_eq!(parse_access("owner").unwrap_err().field, "--access");
    }
}
