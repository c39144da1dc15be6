//! Service account credentials: the client id, the secret (shown once,
//! stored as a digest, expiring after two years) and the API key (stored as
//! a digest for look-up and sealed under the master key to be shown again).

use uuid::Uuid;

use crate::secret::{digest_matches, random_token, Redacted};
use crate::Timestamp;

pub const SECRET_PREFIX: &str = "dwbs_";
pub const API_KEY_PREFIX: &str = "dwbk_";
/// Two years.
pub const SECRET_LIFETIME_SECS: i64 = 2 * 365 * 24 * 3600;
/// The portal warns when fewer days than this remain.
pub const EXPIRY_WARNING_SECS: i64 = 30 * 24 * 3600;

/// Fresh credentials; the plain values exist only until they are shown.
#[derive(Debug)]
pub struct NewCredentials {
    pub client_id: Uuid,
    pub secret: Redacted,
    pub api_key: Redacted,
}

impl NewCredentials {
    pub fn generate() -> Self {
        Self {
            client_id: Uuid::new_v4(),
            secret: new_secret(),
            api_key: random_token(API_KEY_PREFIX),
        }
    }
}

pub fn new_secret() -> Redacted {
    random_token(SECRET_PREFIX)
}

/// When a secret issued at `issued` stops working.
pub fn secret_expiry(issued: Timestamp) -> Timestamp {
    issued.plus_secs(SECRET_LIFETIME_SECS)
}

/// True when `given` is the secret whose digest is `stored_digest`.
pub fn secret_matches(given: &str, stored_digest: &str) -> bool {
    digest_matches(given, stored_digest)
}

/// How a secret stands at `now`, for the portal and the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretState {
    Valid,
    /// Fewer than 30 days remain.
    ExpiresSoon,
    Expired,
}

pub fn secret_state(expires_at: Timestamp, now: Timestamp) -> SecretState {
    if now >= expires_at {
        SecretState::Expired
    } else if expires_at.millis() - now.millis() < EXPIRY_WARNING_SECS * 1000 {
        SecretState::ExpiresSoon
    } else {
        SecretState::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::digest;

    #[test]
    fn credentials_are_prefixed_and_distinct() {
        let a = NewCredentials::generate();
        let b = NewCredentials::generate();
        assert!(a.secret.expose().starts_with("dwbs_") && a.api_key.expose().starts_with("dwbk_"));
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.client_id, b.client_id);
        assert!(!format!("{a:?}").contains(a.secret.expose()));
        assert!(!format!("{a:?}").contains(a.api_key.expose()));
    }

    #[test]
    fn secrets_match_only_their_digest() {
        let s = new_secret();
        let d = digest(s.expose());
        assert!(secret_matches(s.expose(), &d));
        assert!(!secret_matches(new_secret().expose(), &d));
        assert!(!secret_matches("", &d));
    }

    #[test]
    fn secrets_expire_after_two_years_with_a_warning_before() {
        let issued = Timestamp(1_700_000_000_000);
        let exp = secret_expiry(issued);
        assert_eq!(exp.secs() - issued.secs(), 730 * 86400);
        assert_eq!(secret_state(exp, issued), SecretState::Valid);
        assert_eq!(
            secret_state(exp, exp.plus_secs(-29 * 86400)),
            SecretState::ExpiresSoon
        );
        assert_eq!(
            secret_state(exp, exp.plus_secs(-31 * 86400)),
            SecretState::Valid
        );
        assert_eq!(secret_state(exp, exp), SecretState::Expired);
    }
}
