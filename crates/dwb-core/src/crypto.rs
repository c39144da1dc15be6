//! Sealing values under the master key (AES-256-GCM): the API keys that are
//! shown again and the private token-signing keys.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

/// 256 bits that never enter the database.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the master key must be 32 bytes, given as 64 hex digits or 44 base64 characters")]
    BadKey,
    #[error(
        "a sealed value could not be opened: it was sealed under another master key or is damaged"
    )]
    Open,
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// Parses 64 hex digits or standard base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let t = text.trim();
        let bytes = if t.len() == 64 {
            hex::decode(t).map_err(|_| SealError::BadKey)?
        } else {
            STANDARD.decode(t).map_err(|_| SealError::BadKey)?
        };
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self(arr))
    }

    /// The key as 64 hex digits, for the key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// base64(nonce ‖ ciphertext).
    pub fn seal(&self, plain: &[u8]) -> String {
        let cipher = Aes256Gcm::new((&self.0).into());
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption fails only for inputs larger than 64 GiB.
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(ct);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        let raw = STANDARD.decode(sealed).map_err(|_| SealError::Open)?;
        if raw.len() < 12 + 16 {
            return Err(SealError::Open);
        }
        let (nonce, ct) = raw.split_at(12);
        Aes256Gcm::new((&self.0).into())
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let k = MasterKey::generate();
        let s = k.seal(b"dwbk_value");
        assert!(!s.contains("dwbk_value"));
        assert_eq!(k.open(&s).unwrap(), b"dwbk_value");
        assert_ne!(k.seal(b"x"), k.seal(b"x"), "a new nonce each time");
        assert_eq!(MasterKey::generate().open(&s), Err(SealError::Open));
        assert_eq!(k.open("garbage"), Err(SealError::Open));
        let again = MasterKey::parse(&k.to_hex()).unwrap();
        assert_eq!(again.open(&s).unwrap(), b"dwbk_value");
        assert_eq!(MasterKey::parse("short").unwrap_err(), SealError::BadKey);
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
    }
}
