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

/// True when `token`'s digest is `stored` (hex, as [`digest`] writes it),
/// compared in constant time. Checked on every API call and token grant:
/// the hex is written to the stack, not through `hex`'s per-character
/// iterator and a new `String` (a third of the check's cost).
pub fn digest_matches(token: &str, stored: &str) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::digest(token.as_bytes());
    let mut text = [0u8; 64];
    for (i, b) in d.iter().enumerate() {
        text[2 * i] = HEX[usize::from(b >> 4)];
        text[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    text.as_slice().ct_eq(stored.as_bytes()).into()
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

    #[test]
    fn a_digest_matches_its_token_only() {
        for token in ["", "abc", "dwb_key_Zm9vYmFy", &"x".repeat(1000)] {
            let stored = digest(token);
            assert!(digest_matches(token, &stored), "{token}");
            assert!(!digest_matches(&format!("{token}."), &stored));
            assert!(!digest_matches(token, &stored[..63]));
            assert!(!digest_matches(token, &stored.to_uppercase()));
        }
        // A known vector: SHA-256 of "abc".
        assert!(digest_matches(
            "abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        ));
    }
}
