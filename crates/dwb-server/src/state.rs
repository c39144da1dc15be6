//! What every handler shares: the store, the clock, settings, keys, caches
//! and in-memory guards.

use std::net::SocketAddr;
use std::sync::Arc;

use dwb_core::crypto::MasterKey;
use dwb_core::Clock;
use dwb_store::Store;

use crate::auth::cache::{AccountCache, TokenCache, WorkspaceCache};
use crate::auth::usage::Usage;
use crate::config::Config;
use crate::http::metrics::Metrics;
use crate::keys::Keyring;
use crate::throttle::Throttle;

/// Settings that handlers read, derived once from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL users and generated code see, without a trailing slash.
    public_url: String,
    /// The audience of every token dwb issues: its own API,
    /// `{public_url}/api/v2` (kept, not formatted on every call; both
    /// private so that they cannot disagree).
    audience: String,
    /// Mark cookies `Secure` (the public URL is https).
    pub secure_cookies: bool,
    pub session_hours: i64,
    pub max_body_bytes: usize,
    /// Lifetime of access tokens.
    pub token_lifetime_secs: i64,
    /// Resources a token may be requested for; empty accepts any as dwb's own API.
    pub allowed_audiences: Vec<String>,
    /// A running ingest job silent this long belongs to a stopped server.
    pub stopped_after_ms: i64,
    /// Data files no table version references are kept this long.
    pub keep_unreferenced_ms: i64,
}

impl Settings {
    /// Settings from the configuration and the address actually bound.
    pub fn new(cfg: &Config, bound: SocketAddr) -> Settings {
        let public_url = match &cfg.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        };
        Settings {
            secure_cookies: public_url.starts_with("https://"),
            audience: format!("{public_url}/api/v2"),
            public_url,
            session_hours: i64::try_from(cfg.session_hours).unwrap_or(12),
            max_body_bytes: cfg.max_body_bytes,
            token_lifetime_secs: i64::from(cfg.token_lifetime_secs),
            allowed_audiences: cfg.allowed_audiences.clone(),
            stopped_after_ms: i64::try_from(cfg.ingest_stopped_after_secs)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000),
            keep_unreferenced_ms: i64::try_from(cfg.lake_keep_unreferenced_secs)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000),
        }
    }

    /// The URL users and generated code see, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The token issuer: the public URL.
    pub fn issuer(&self) -> &str {
        &self.public_url
    }
    /// The audience of every token dwb issues: its own API.
    pub fn audience(&self) -> &str {
        &self.audience
    }
}

/// The shared state, behind one `Arc`: axum clones the state for every
/// middleware and handler of every request, and one reference count costs
/// one atomic operation where a struct of fourteen `Arc`s cost fourteen
/// (contended between cores, that was a tenth of the CPU under load).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub throttle: Arc<Throttle>,
    pub metrics: Arc<Metrics>,
    /// An argon2id hash checked when an email is unknown, so that it costs
    /// the same time as a wrong password.
    pub dummy_hash: Arc<String>,
    pub opened: Arc<crate::portal::session::OpenedWorkspaces>,
    pub master: Arc<MasterKey>,
    pub keyring: Arc<Keyring>,
    pub accounts: Arc<AccountCache>,
    pub tokens: Arc<TokenCache>,
    pub workspaces: Arc<WorkspaceCache>,
    pub versions: Arc<crate::versions::VersionCache>,
    pub usage: Arc<Usage>,
    pub lake: Arc<dwb_lake::Lake>,
}

impl AppState {
    /// The data set operations with this state's store, lake and clock.
    pub fn data(&self) -> crate::datasets::DataOps<'_> {
        crate::datasets::DataOps::new(
            self.store.as_ref(),
            &self.lake,
            &self.versions,
            self.clock.now(),
        )
    }

    /// Loads the signing keys (creating the first) and starts following credential changes.
    pub async fn build(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: Settings,
        master: MasterKey,
        lake: dwb_lake::Lake,
    ) -> anyhow::Result<Self> {
        let keyring = Keyring::load(store.as_ref(), &master, clock.now()).await?;
        let accounts = AccountCache::default();
        accounts.start(store.as_ref()).await?;
        Ok(Self(Arc::new(Shared {
            store,
            clock,
            settings: Arc::new(settings),
            throttle: Arc::new(Throttle::default()),
            metrics: Arc::new(Metrics::default()),
            dummy_hash: Arc::new(dwb_core::password::hash_password(
                "dwb dummy password for timing",
            )),
            opened: Arc::default(),
            master: Arc::new(master),
            keyring: Arc::new(keyring),
            accounts: Arc::new(accounts),
            tokens: Arc::default(),
            workspaces: Arc::default(),
            versions: Arc::default(),
            usage: Arc::default(),
            lake: Arc::new(lake),
        })))
    }

    /// Background work: follow credential changes (every 250 ms), re-read
    /// signing keys (every 30 s) and, in a task of its own, flush API usage
    /// (every second). Apart, because writing a large backlog of ledger
    /// events can take seconds: it must not hold up the change-log poll, or
    /// cached accounts stop being trusted (see `AccountCache`) and every
    /// call reads its account from the store.
    pub fn spawn_background(&self) {
        let s = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                s.usage.flush(s.store.as_ref()).await;
            }
        });
        let s = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
            let mut n: u64 = 0;
            loop {
                tick.tick().await;
                n += 1;
                if let Err(e) = s.accounts.poll(s.store.as_ref()).await {
                    tracing::warn!(error = %e, "cannot read credential changes");
                }
                if n.is_multiple_of(120) {
                    if let Err(e) = s.keyring.reload(s.store.as_ref(), &s.master).await {
                        tracing::warn!(error = %e, "cannot re-read signing keys");
                    }
                }
            }
        });
    }
}
