//! What every handler shares: the store, the clock, settings and in-memory guards.

use std::sync::Arc;

use dwb_core::Clock;
use dwb_store::Store;

use crate::http::metrics::Metrics;
use crate::throttle::Throttle;

/// Settings that handlers read, derived once from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL users and generated code see, without a trailing slash.
    pub public_url: String,
    /// Mark cookies `Secure` (the public URL is https).
    pub secure_cookies: bool,
    pub session_hours: i64,
    pub max_body_bytes: usize,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub throttle: Arc<Throttle>,
    pub metrics: Arc<Metrics>,
    /// An argon2id hash checked when an email is unknown, so that it costs
    /// the same time as a wrong password.
    pub dummy_hash: Arc<String>,
    pub opened: Arc<crate::portal::session::OpenedWorkspaces>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        Self {
            store,
            clock,
            settings: Arc::new(settings),
            throttle: Arc::new(Throttle::default()),
            metrics: Arc::new(Metrics::default()),
            dummy_hash: Arc::new(dwb_core::password::hash_password(
                "dwb dummy password for timing",
            )),
            opened: Arc::default(),
        }
    }
}
