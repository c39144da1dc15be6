//! In-process caches: service accounts by client id (with their credential
//! digests and secret generation) and verified tokens. Every credential
//! change is appended to the store's change log; each node polls it and
//! drops the changed accounts, so a regenerate or delete made anywhere (another
//! node, the command line) takes effect everywhere within a second. When
//! the log cannot be read for a while (the store unreachable from this
//! node), cached accounts are no longer trusted: every lookup goes to the
//! store, so a revocation made meanwhile cannot be missed.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use dwb_core::jwt::Claims;
use dwb_store::{AccountSecrets, Store, StoreResult};
use uuid::Uuid;

use crate::bounded::Bounded;

const MAX_ENTRIES: usize = 100_000;

/// How long cached accounts are trusted after the last successful read of
/// the change log (polled every 250 ms).
pub const TRUSTED_FOR: std::time::Duration = std::time::Duration::from_secs(2);

pub struct AccountCache {
    /// `None` remembers that no such account exists.
    entries: Bounded<Uuid, Option<Arc<AccountSecrets>>, MAX_ENTRIES>,
    seen: AtomicI64,
    /// What `polled` counts from.
    born: std::time::Instant,
    /// When the change log was last read, in milliseconds since `born` plus
    /// one; 0 before the first read. An atomic, not a lock: every API call
    /// reads it.
    polled: AtomicU64,
    /// Counts invalidations. A store read that an invalidation overtook may
    /// hold the account as it was before the change, so it is not kept
    /// (it would otherwise serve a revoked secret until the next change).
    epoch: AtomicU64,
}

impl Default for AccountCache {
    fn default() -> Self {
        AccountCache {
            entries: Bounded::default(),
            seen: AtomicI64::default(),
            born: std::time::Instant::now(),
            polled: AtomicU64::default(),
            epoch: AtomicU64::default(),
        }
    }
}

impl AccountCache {
    pub async fn get(
        &self,
        store: &dyn Store,
        id: Uuid,
    ) -> StoreResult<Option<Arc<AccountSecrets>>> {
        if self.trusted() {
            if let Some(hit) = self.entries.get(&id) {
                return Ok(hit);
            }
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let loaded = store.account_secrets(id).await?.map(Arc::new);
        self.remember(id, loaded.clone(), epoch);
        Ok(loaded)
    }

    /// Keeps what a store read begun at `epoch` found, unless an
    /// invalidation happened since.
    fn remember(&self, id: Uuid, loaded: Option<Arc<AccountSecrets>>, epoch: u64) {
        let mut map = self.entries.write();
        // Checked under the lock that invalidations take to remove entries.
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        map.insert(id, loaded);
    }

    pub fn invalidate(&self, id: Uuid) {
        let mut map = self.entries.write();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.remove(&id);
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    /// Whether the change log was read recently enough for cached entries
    /// to be served.
    fn trusted(&self) -> bool {
        let polled = self.polled.load(Ordering::Acquire);
        polled != 0 && self.millis().saturating_sub(polled) < TRUSTED_FOR.as_millis() as u64
    }

    fn polled_now(&self) {
        self.polled.store(self.millis(), Ordering::Release);
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
            let mut map = self.entries.write();
            self.epoch.fetch_add(1, Ordering::SeqCst);
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
    /// By the token's last [`TAIL`] bytes (its signature's), holding
    /// the whole token, which a hit must equal: hashing the whole token
    /// (about 600 bytes) was most of a lookup's cost. Only verified
    /// tokens are held, and two of them do not share a signature.
    entries: Bounded<[u8; TAIL], HeldToken, MAX_ENTRIES>,
}

/// A verified token, whole, and its claims.
type HeldToken = (Box<str>, Arc<Claims>);

/// Bytes of a token's end that key [`TokenCache`] (shorter tokens are
/// padded with zeros).
const TAIL: usize = 32;

fn tail(token: &str) -> [u8; TAIL] {
    let b = token.as_bytes();
    let mut key = [0u8; TAIL];
    let n = b.len().min(TAIL);
    key[TAIL - n..].copy_from_slice(&b[b.len() - n..]);
    key
}

impl TokenCache {
    pub fn get(&self, token: &str) -> Option<Arc<Claims>> {
        self.entries.read(&tail(token), |(held, claims)| {
            (&**held == token).then(|| claims.clone())
        })
    }

    pub fn put(&self, token: &str, claims: Arc<Claims>) {
        self.entries.insert(tail(token), (token.into(), claims));
    }
}

/// Workspaces by id, kept a few seconds, so an API call costs no store round
/// trip for the workspace it names.
#[derive(Default)]
pub struct WorkspaceCache {
    entries: Bounded<Uuid, (std::time::Instant, Arc<dwb_store::Workspace>), MAX_ENTRIES>,
}

const WORKSPACE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl WorkspaceCache {
    pub async fn get(
        &self,
        store: &dyn Store,
        id: Uuid,
    ) -> StoreResult<Option<Arc<dwb_store::Workspace>>> {
        let fresh = self.entries.read(&id, |(at, ws)| {
            (at.elapsed() < WORKSPACE_TTL).then(|| ws.clone())
        });
        if fresh.is_some() {
            return Ok(fresh);
        }
        let Some(ws) = store.workspace(id).await? else {
            return Ok(None);
        };
        let ws = Arc::new(ws);
        self.entries
            .insert(id, (std::time::Instant::now(), ws.clone()));
        Ok(Some(ws))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dwb_core::access::{Access, Level};
    use dwb_core::clock::Timestamp;
    use dwb_store::ServiceAccount;

    fn account(id: Uuid, generation: i64) -> Arc<AccountSecrets> {
        let at = Timestamp(1_800_000_000_000);
        Arc::new(AccountSecrets {
            account: ServiceAccount {
                id,
                workspace_id: Uuid::nil(),
                tenant_id: Uuid::nil(),
                name: "reports".into(),
                contact_email: "ops@example.org".into(),
                access: Access::Workspace(Level::Reader),
                secret_generation: generation,
                secret_issued_at: at,
                secret_expires_at: at,
                created_by: "admin".into(),
                created_at: at,
                updated_at: at,
                last_used_at: None,
            },
            secret_digest: format!("digest of generation {generation}"),
            api_key_digest: "key digest".into(),
        })
    }

    fn cached(cache: &AccountCache, id: Uuid) -> Option<Option<Arc<AccountSecrets>>> {
        cache.entries.get(&id)
    }

    #[test]
    fn a_read_overtaken_by_an_invalidation_is_not_kept() {
        let cache = AccountCache::default();
        let id = Uuid::new_v4();
        // A lookup reads generation 1 from the store; before it is kept, the
        // secret is regenerated (this node's API or another node's change log).
        let began = cache.epoch.load(Ordering::SeqCst);
        cache.invalidate(id);
        cache.remember(id, Some(account(id, 1)), began);
        assert!(cached(&cache, id).is_none(), "the old generation was kept");
        // A read begun after the change is kept.
        let began = cache.epoch.load(Ordering::SeqCst);
        cache.remember(id, Some(account(id, 2)), began);
        let kept = cached(&cache, id)
            .flatten()
            .map(|a| a.account.secret_generation);
        assert_eq!(kept, Some(2));
    }

    #[test]
    fn cached_accounts_are_trusted_only_shortly_after_a_poll() {
        let mut cache = AccountCache::default();
        assert!(!cache.trusted(), "trusted before any poll");
        cache.polled_now();
        assert!(cache.trusted());
        // The last poll was 5 s ago.
        if let Some(earlier) =
            std::time::Instant::now().checked_sub(std::time::Duration::from_secs(5))
        {
            cache.born = earlier;
            cache.polled.store(1, Ordering::SeqCst);
            assert!(!cache.trusted(), "trusted 5 s after the last poll");
        }
    }

    #[test]
    fn a_read_of_a_missing_account_is_not_kept_past_its_creation() {
        let cache = AccountCache::default();
        let id = Uuid::new_v4();
        let began = cache.epoch.load(Ordering::SeqCst);
        cache.invalidate(id); // created meanwhile
        cache.remember(id, None, began);
        assert!(cached(&cache, id).is_none(), "'no such account' was kept");
    }

    #[test]
    fn a_held_token_is_found_only_by_itself() {
        let claims = |sub: &str| {
            Arc::new(Claims {
                iss: "i".into(),
                sub: sub.into(),
                aud: "a".into(),
                iat: 0,
                nbf: 0,
                exp: 1,
                jti: "j".into(),
                appid: sub.into(),
                tid: "t".into(),
                ws: "w".into(),
                gen: 1,
            })
        };
        let cache = TokenCache::default();
        let token = format!("{}.payload.{}", "h".repeat(40), "s".repeat(86));
        cache.put(&token, claims("one"));
        assert_eq!(cache.get(&token).unwrap().sub, "one");
        // Same signature, another payload: not the held token.
        let forged = token.replacen("payload", "pAyload", 1);
        assert!(cache.get(&forged).is_none());
        assert!(cache.get(&token[1..]).is_none());
        // Tokens shorter than the key's length are held whole.
        cache.put("short", claims("two"));
        assert_eq!(cache.get("short").unwrap().sub, "two");
        assert!(cache.get("hort").is_none());
        assert!(cache.get("").is_none());
        assert_eq!(cache.get(&token).unwrap().sub, "one");
    }
}
