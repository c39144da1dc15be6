//! The master key (outside the database) and the token-signing keyring
//! (in the store, private halves sealed under the master key).

use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dwb_core::crypto::MasterKey;
use dwb_core::jwt::{TokenSigner, VerifyingKeys};
use dwb_core::Timestamp;
use dwb_store::{Store, StoredSigningKey};

pub const MASTER_KEY_FILE: &str = "master.key";

/// `DWB_MASTER_KEY` when set, else `<data_dir>/master.key`, created with mode 0600 on first use.
pub fn load_master_key(env_value: Option<&str>, data_dir: &Path) -> anyhow::Result<MasterKey> {
    if let Some(v) = env_value.filter(|v| !v.trim().is_empty()) {
        return MasterKey::parse(v).context("DWB_MASTER_KEY");
    }
    let path = data_dir.join(MASTER_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return MasterKey::parse(&text)
            .with_context(|| format!("the master key file {}", path.display()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let key = MasterKey::generate();
    write_private(&path, key.to_hex().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

/// Writes a new file only its owner can read (mode 0600 on Unix), synced to
/// disk; refuses to overwrite. For key material.
#[cfg(unix)]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Signs with the newest key; verifies with every key in the store.
pub struct Keyring {
    inner: RwLock<(Arc<TokenSigner>, VerifyingKeys)>,
}

fn unseal(master: &MasterKey, k: &StoredSigningKey) -> anyhow::Result<TokenSigner> {
    let raw = master.open(&k.private_key_sealed).with_context(|| {
        format!(
            "signing key {}: wrong DWB_MASTER_KEY or master.key for this store",
            k.kid
        )
    })?;
    let bytes: [u8; 32] = raw
        .try_into()
        .map_err(|_| anyhow::anyhow!("signing key {} is damaged", k.kid))?;
    Ok(TokenSigner::from_secret_bytes(bytes))
}

/// Adds a new signing key to the store; tokens signed by older keys stay valid.
pub async fn add_signing_key(
    store: &dyn Store,
    master: &MasterKey,
    now: Timestamp,
) -> anyhow::Result<String> {
    let signer = TokenSigner::generate();
    // The newest key signs: make it strictly the newest even when clocks tie.
    let latest = store
        .signing_keys()
        .await?
        .iter()
        .map(|k| k.created_at)
        .max();
    let created_at = match latest {
        Some(l) if l >= now => Timestamp(l.millis() + 1),
        _ => now,
    };
    store
        .add_signing_key(&StoredSigningKey {
            kid: signer.kid().to_string(),
            public_key: STANDARD.encode(signer.public_bytes()),
            private_key_sealed: master.seal(&signer.secret_bytes()),
            created_at,
        })
        .await?;
    Ok(signer.kid().to_string())
}

async fn read(
    store: &dyn Store,
    master: &MasterKey,
) -> anyhow::Result<Option<(Arc<TokenSigner>, VerifyingKeys)>> {
    let stored = store.signing_keys().await?;
    let Some(newest) = stored.last() else {
        return Ok(None);
    };
    let signer = Arc::new(unseal(master, newest)?);
    let mut keys = VerifyingKeys::default();
    for k in &stored {
        let public: [u8; 32] = STANDARD
            .decode(&k.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("signing key {} is damaged", k.kid))?;
        keys.insert(public)
            .map_err(|e| anyhow::anyhow!("signing key {}: {e}", k.kid))?;
    }
    Ok(Some((signer, keys)))
}

impl Keyring {
    /// Loads the keys, creating the first one on first start.
    pub async fn load(
        store: &dyn Store,
        master: &MasterKey,
        now: Timestamp,
    ) -> anyhow::Result<Self> {
        if let Some(loaded) = read(store, master).await? {
            return Ok(Self {
                inner: RwLock::new(loaded),
            });
        }
        // Two nodes starting at once may both add one; both keys are then valid.
        add_signing_key(store, master, now).await?;
        let loaded = read(store, master)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no signing key after creating one"))?;
        Ok(Self {
            inner: RwLock::new(loaded),
        })
    }

    /// Re-reads the keys (after a rotation on another node or by the command line).
    pub async fn reload(&self, store: &dyn Store, master: &MasterKey) -> anyhow::Result<()> {
        if let Some(loaded) = read(store, master).await? {
            *self.inner.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        }
        Ok(())
    }

    pub fn signer(&self) -> Arc<TokenSigner> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    pub fn verifying(&self) -> VerifyingKeys {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    pub fn with_verifying<T>(&self, f: impl FnOnce(&VerifyingKeys) -> T) -> T {
        f(&self.inner.read().unwrap_or_else(|p| p.into_inner()).1)
    }
}
