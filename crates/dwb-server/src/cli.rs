//! The command line: `dwb serve`, `dwb config print-default` and the
//! `dwb admin ...` commands that work on the same store as a running server.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use dwb_core::password::{check_new_password, hash_password, one_time_password};
use dwb_core::validate::{Description, Email, Name, Region};
use dwb_core::{Clock, SystemClock};
use dwb_store::{NewUser, NewWorkspace, SqlStore, Store};
use serde_json::json;
use uuid::Uuid;

use crate::config::{Config, Overrides, DEFAULT_TOML};
use crate::ledger::system_event;

#[derive(Debug, Parser)]
#[command(name = "dwb", version, about = "dwb: a self-hosted Data Workbench")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (portal and API).
    Serve(ServeArgs),
    /// Show configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Administration on the store of a server, also while it runs.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Data sets of a workspace.
    #[command(subcommand)]
    Datasets(crate::cli_datasets::DatasetCommand),
    /// Service accounts of a workspace, for automation and tests.
    #[command(subcommand, name = "service-accounts")]
    ServiceAccounts(crate::cli_accounts::AccountCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every configuration key with its default and a comment.
    PrintDefault,
}

/// Where the configuration and the store are: shared by every command.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// TOML configuration file.
    #[arg(long, env = "DWB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder for the SQLite database, keys and the local lake.
    #[arg(long, env = "DWB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://user:password@host/db.
    #[arg(long, env = "DWB_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Folder where data sets live as Delta tables (default: <data-dir>/lake).
    #[arg(long, env = "DWB_LAKE_URL")]
    pub lake_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, env = "DWB_LISTEN")]
    pub listen: Option<String>,
    /// The URL users and generated code see.
    #[arg(long, env = "DWB_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Email of the admin created on first start.
    #[arg(long, env = "DWB_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Password of the admin created on first start (default: a printed one-time password).
    #[arg(long, env = "DWB_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a person in the default tenant; prints a one-time password unless --password is given.
    CreateUser {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, env = "DWB_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Make the person a tenant admin.
        #[arg(long)]
        tenant_admin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password; prints a one-time password unless --password is given.
    ResetPassword {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        email: String,
        #[arg(long, env = "DWB_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Create a workspace in the default tenant.
    CreateWorkspace {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "EU")]
        region: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a new token-signing key; tokens signed by older keys stay valid until they expire.
    RotateSigningKey {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
    /// List the workspaces of the default tenant.
    ListWorkspaces {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
    /// Copy the store, the lake's committed table versions and master.key into a
    /// new folder; safe while the server runs. The folder holds secrets: keep it private.
    Backup {
        #[command(flatten)]
        store: StoreArgs,
        /// A new or empty folder.
        #[arg(long)]
        to: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Bring back a backup into an empty store and lake. Stop every server of
    /// the target store first.
    Restore {
        #[command(flatten)]
        store: StoreArgs,
        /// A folder written by `dwb admin backup`.
        #[arg(long)]
        from: PathBuf,
        /// Replace a store, lake tables and master.key that already hold data.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => crate::serve::serve(args).await,
        Command::Config(ConfigCommand::PrintDefault) => {
            print!("{DEFAULT_TOML}");
            Ok(())
        }
        Command::Admin(cmd) => admin(cmd).await,
        Command::ServiceAccounts(cmd) => crate::cli_accounts::run(cmd).await,
        Command::Datasets(cmd) => crate::cli_datasets::run(cmd).await,
    }
}

impl StoreArgs {
    pub fn config(&self, more: Overrides) -> anyhow::Result<Config> {
        let o = Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            lake_url: self.lake_url.clone(),
            ..more
        };
        Config::load(self.config.as_deref(), &o)
    }
}

/// Opens the store the configuration names, creating the data directory for SQLite.
pub async fn open_store(cfg: &Config) -> anyhow::Result<SqlStore> {
    if cfg.database_url.is_none() {
        std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                cfg.data_dir.display()
            )
        })?;
    }
    Ok(SqlStore::connect(&cfg.database_url()).await?)
}

async fn admin(cmd: AdminCommand) -> anyhow::Result<()> {
    let clock = SystemClock;
    match cmd {
        AdminCommand::CreateUser {
            store,
            email,
            name,
            password,
            tenant_admin,
            json,
        } => {
            let email = Email::parse("--email", &email)?;
            let name = if name.trim().is_empty() {
                String::new()
            } else {
                Name::parse("--name", &name)?.into_string()
            };
            let (password, one_time) = chosen_password(password)?;
            let db = open_store(&store.config(Overrides::default())?).await?;
            let tenant = default_tenant(&db).await?;
            let now = clock.now();
            let id = Uuid::new_v4();
            let user = db
                .create_user(
                    NewUser {
                        id,
                        tenant_id: tenant,
                        email: email.as_str().into(),
                        name,
                        password_hash: hash_password(&password),
                        tenant_admin,
                        must_change_password: one_time,
                        now,
                    },
                    system_event(
                        tenant,
                        None,
                        now,
                        "UserCreated",
                        "user",
                        id.to_string(),
                        email.as_str(),
                    ),
                )
                .await?;
            let mut out = json!({"id": user.id, "email": user.email, "name": user.name, "tenantAdmin": user.tenant_admin});
            report_password(&mut out, &password, one_time, json);
            print_out(&out, json, || {
                format!("created user {} ({})", user.email, user.id)
            });
        }
        AdminCommand::ResetPassword {
            store,
            email,
            password,
            json,
        } => {
            let email = Email::parse("--email", &email)?;
            let (password, one_time) = chosen_password(password)?;
            let db = open_store(&store.config(Overrides::default())?).await?;
            let (user, _) = db.user_credentials(email.as_str()).await?.ok_or_else(|| {
                anyhow::anyhow!("--email: no user has the email {}", email.as_str())
            })?;
            let now = clock.now();
            db.set_password(
                user.id,
                &hash_password(&password),
                one_time,
                now,
                system_event(
                    user.tenant_id,
                    None,
                    now,
                    "PasswordReset",
                    "user",
                    user.id.to_string(),
                    &user.email,
                ),
            )
            .await?;
            let mut out = json!({"id": user.id, "email": user.email});
            report_password(&mut out, &password, one_time, json);
            print_out(&out, json, || {
                format!("reset the password of {}", user.email)
            });
        }
        AdminCommand::CreateWorkspace {
            store,
            name,
            description,
            region,
            json,
        } => {
            let name = Name::parse("--name", &name)?;
            let description = Description::parse("--description", &description)?;
            let region = Region::parse("--region", &region)?;
            let db = open_store(&store.config(Overrides::default())?).await?;
            let tenant = default_tenant(&db).await?;
            let now = clock.now();
            let id = Uuid::new_v4();
            let ws = db
                .create_workspace(
                    NewWorkspace {
                        id,
                        tenant_id: tenant,
                        name: name.as_str().into(),
                        description: description.into_string(),
                        region: region.as_str().into(),
                        created_by: None,
                        now,
                    },
                    system_event(
                        tenant,
                        Some(id),
                        now,
                        "WorkspaceCreated",
                        "workspace",
                        id.to_string(),
                        name.as_str(),
                    ),
                )
                .await
                .map_err(|e| match e {
                    dwb_store::StoreError::Conflict(_) => {
                        anyhow::anyhow!(
                            "--name: a workspace named {:?} already exists",
                            name.as_str()
                        )
                    }
                    other => other.into(),
                })?;
            let out = json!({"id": ws.id, "name": ws.name, "description": ws.description, "region": ws.region});
            print_out(&out, json, || {
                format!("created workspace {} ({})", ws.name, ws.id)
            });
        }
        AdminCommand::RotateSigningKey { store, json } => {
            let cfg = store.config(Overrides::default())?;
            let db = open_store(&cfg).await?;
            let master = crate::keys::load_master_key(
                std::env::var("DWB_MASTER_KEY").ok().as_deref(),
                &cfg.data_dir,
            )?;
            let kid = crate::keys::add_signing_key(&db, &master, clock.now()).await?;
            let out = json!({"kid": kid});
            print_out(&out, json, || {
                format!("added signing key {kid}; running servers sign with it within 30 seconds")
            });
        }
        AdminCommand::Backup { store, to, json } => {
            let cfg = store.config(Overrides::default())?;
            let master = std::env::var("DWB_MASTER_KEY").ok();
            let m = crate::backup::backup(&cfg, &to, master.as_deref(), clock.now()).await?;
            let out = serde_json::to_value(&m)?;
            print_out(&out, json, || {
                let mut text = format!("backed up to {}: {}", to.display(), m.summary());
                if m.master_key == "environment" {
                    text.push_str("\nthe master key comes from DWB_MASTER_KEY: keep that value with the backup");
                }
                text
            });
        }
        AdminCommand::Restore {
            store,
            from,
            force,
            json,
        } => {
            let cfg = store.config(Overrides::default())?;
            let master = std::env::var("DWB_MASTER_KEY").ok();
            let r = crate::backup::restore(&cfg, &from, force, master.as_deref()).await?;
            let out = serde_json::to_value(&r)?;
            print_out(&out, json, || {
                let mut lines = vec![format!(
                    "restored the {} store of {} into {}",
                    r.manifest.store, r.manifest.created_at, r.database
                )];
                for t in &r.tables {
                    lines.push(format!(
                        "restored table {} at version {} ({} data files)",
                        t.name, t.version, t.data_files
                    ));
                }
                if let Some(k) = &r.master_key_file {
                    lines.push(format!("restored the master key to {}", k.display()));
                }
                lines.extend(r.notes.iter().map(|n| format!("note: {n}")));
                lines.join("\n")
            });
        }
        AdminCommand::ListWorkspaces { store, json } => {
            let db = open_store(&store.config(Overrides::default())?).await?;
            let tenant = default_tenant(&db).await?;
            let list = db.tenant_workspaces(tenant).await?;
            if json {
                let v: Vec<_> = list
                    .iter()
                    .map(|w| json!({"id": w.id, "name": w.name, "description": w.description, "region": w.region}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for w in &list {
                    println!("{}\t{}\t{}", w.id, w.region, w.name);
                }
            }
        }
    }
    Ok(())
}

pub async fn default_tenant(db: &SqlStore) -> anyhow::Result<Uuid> {
    match db.default_tenant().await? {
        Some(t) => Ok(t.id),
        None => anyhow::bail!("the store has no tenant yet: start `dwb serve` once on it first"),
    }
}

/// The given password (checked against the policy) or a new one-time password.
fn chosen_password(given: Option<String>) -> anyhow::Result<(String, bool)> {
    match given {
        Some(p) => {
            check_new_password("--password", &p)?;
            Ok((p, false))
        }
        None => Ok((one_time_password(), true)),
    }
}

fn report_password(out: &mut serde_json::Value, password: &str, one_time: bool, json: bool) {
    if one_time {
        if json {
            out["oneTimePassword"] = json!(password);
        } else {
            println!("one-time password (shown once, to be changed at first sign-in): {password}");
        }
    }
}

pub fn print_out(out: &serde_json::Value, json: bool, text: impl FnOnce() -> String) {
    if json {
        println!("{out}");
    } else {
        println!("{}", text());
    }
}
