//! High-entropy random tokens (session ids, CSRF tokens, later secrets and
//! API keys), their SHA-256 digests, constant-time comparison, and a
//! wrapper whose `Debug` never shows the value.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A value that must never be printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// 256 random bits from the OS CSPRNG, base64url, after `prefix`.
pub fn random_token(prefix: &str) -> Redacted {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Redacted(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Hex SHA-256 of a token: what the store keeps instead of the token.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hex SHA-256 of bytes.
pub fn digest_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_redacted() {
        let a = random_token("dwbs_");
        let b = random_token("dwbs_");
        assert!(a.expose().starts_with("dwbs_"));
        assert_eq!(a.expose().len(), 5 + 43);
        assert_ne!(a, b);
        assert_eq!(format!("{a:?} {a}"), "<redacted> <redacted>");
    }

    #[test]
    fn digest_is_stable_hex() {
        assert_eq!(digest("abc").len(), 64);
        assert_eq!(digest("abc"), digest("abc"));
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
