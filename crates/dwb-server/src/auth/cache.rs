//! In-process caches: service accounts by client id (with their credential
//! digests and secret generation) and verified tokens. Every credential
//! change is appended to the store's change log; each node polls it and
//! drops the changed accounts, so a regenerate or delete made anywhere (another
//! node, the command line) takes effect everywhere within a second. When
//! the log cannot be read for a while (the store unreachable from this
//! node), cached accounts are no longer trusted: every lookup goes to the
//! store, so a revocation made meanwhile cannot be missed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use dwb_core::jwt::Claims;
use dwb_store::{AccountSecrets, Store, StoreResult};
use uuid::Uuid;

const MAX_ENTRIES: usize = 100_000;

/// How long cached accounts are trusted after the last successful read of
/// the change log (polled every 250 ms).
pub const TRUSTED_FOR: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Default)]
pub struct AccountCache {
    /// `None` remembers that no such account exists.
    entries: RwLock<HashMap<Uuid, Option<Arc<AccountSecrets>>>>,
    seen: AtomicI64,
    /// When the change log was last read; `None` before the first read.
    polled: RwLock<Option<std::time::Instant>>,
}

impl AccountCache {
    pub async fn get(
        &self,
        store: &dyn Store,
        id: Uuid,
    ) -> StoreResult<Option<Arc<AccountSecrets>>> {
        if self.trusted() {
            if let Some(hit) = self
                .entries
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&id)
            {
                return Ok(hit.clone());
            }
        }
        let loaded = store.account_secrets(id).await?.map(Arc::new);
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(id, loaded.clone());
        Ok(loaded)
    }

    pub fn invalidate(&self, id: Uuid) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Whether the change log was read recently enough for cached entries
    /// to be served.
    fn trusted(&self) -> bool {
        self.polled
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < TRUSTED_FOR)
    }

    fn polled_now(&self) {
        *self.polled.write().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
    }

    /// Starts following the change log from its current end.
    pub async fn start(&self, store: &dyn Store) -> StoreResult<()> {
        self.seen
            .store(store.last_credential_change().await?, Ordering::SeqCst);
        self.polled_now();
        Ok(())
    }

    /// Drops accounts changed since the last poll.
    pub async fn poll(&self, store: &dyn Store) -> StoreResult<()> {
        let changes = store
            .credential_changes_since(self.seen.load(Ordering::SeqCst))
            .await?;
        if let Some((last, _)) = changes.last() {
            let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
            for (_, id) in &changes {
                map.remove(id);
            }
            self.seen.store(*last, Ordering::SeqCst);
        }
        self.polled_now();
        Ok(())
    }
}

/// Tokens whose signature was already checked, so a call costs no signature check.
#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<String, Arc<Claims>>>,
}

impl TokenCache {
    pub fn get(&self, token: &str) -> Option<Arc<Claims>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    pub fn put(&self, token: &str, claims: Arc<Claims>) {
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(token.to_string(), claims);
    }
}

/// Workspaces by id, kept a few seconds, so an API call costs no store round
/// trip for the workspace it names.
#[derive(Default)]
pub struct WorkspaceCache {
    entries: RwLock<HashMap<Uuid, (std::time::Instant, Arc<dwb_store::Workspace>)>>,
}

const WORKSPACE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl WorkspaceCache {
    pub async fn get(
        &self,
        store: &dyn Store,
        id: Uuid,
    ) -> StoreResult<Option<Arc<dwb_store::Workspace>>> {
        if let Some((at, ws)) = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            if at.elapsed() < WORKSPACE_TTL {
                return Ok(Some(ws.clone()));
            }
        }
        let Some(ws) = store.workspace(id).await? else {
            return Ok(None);
        };
        let ws = Arc::new(ws);
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(id, (std::time::Instant::now(), ws.clone()));
        Ok(Some(ws))
    }
}
