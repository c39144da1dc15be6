//! Time-limited signed URLs (upload and read links): HMAC-SHA256 over method, path and expiry with a key derived from the master key.

use dwb_core::crypto::MasterKey;
use dwb_core::Timestamp;
use sha2::{Digest, Sha256};

const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a signed URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `expires` or `sig`, or not in their format.
    Missing,
    /// The signature does not match this method, path and expiry.
    Tampered,
    /// The link's time is over.
    Expired,
}

impl Refused {
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "this link needs its expires and sig parameters",
            Self::Tampered => {
                "the link's signature does not match: it was changed or is for another resource"
            }
            Self::Expired => "the link has expired; ask for a new one",
        }
    }
}

/// Signs and checks URLs with a key used for nothing else.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<redacted>)")
    }
}

impl Signer {
    pub fn new(master: &MasterKey) -> Self {
        Self {
            key: hmac_sha256(master.to_hex().as_bytes(), b"dwb signed urls v1"),
        }
    }

    fn mac(&self, method: &str, path: &str, expires: i64) -> [u8; 32] {
        let message = format!("{}\n{path}\n{expires}", method.to_ascii_uppercase());
        hmac_sha256(&self.key, message.as_bytes())
    }

    /// The query string `expires=…&sig=…` for `method` on `path` until `expires` (Unix seconds).
    pub fn query(&self, method: &str, path: &str, expires: i64) -> String {
        format!(
            "expires={expires}&sig={}",
            hex::encode(self.mac(method, path, expires))
        )
    }

    /// Checks the `expires` and `sig` of a request for `method` on `path` at `now`.
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        expires: Option<&str>,
        sig: Option<&str>,
        now: Timestamp,
    ) -> Result<(), Refused> {
        let expires: i64 = expires
            .and_then(|e| e.parse().ok())
            .ok_or(Refused::Missing)?;
        let sig = sig
            .and_then(|s| hex::decode(s).ok())
            .ok_or(Refused::Missing)?;
        if !constant_time_eq(&sig, &self.mac(method, path, expires)) {
            return Err(Refused::Tampered);
        }
        if now.millis() / 1000 >= expires {
            return Err(Refused::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    fn parts(q: &str) -> (String, String) {
        let (e, s) = q.split_once('&').unwrap();
        (
            e.trim_start_matches("expires=").into(),
            s.trim_start_matches("sig=").into(),
        )
    }

    #[test]
    fn a_signed_url_holds_until_it_expires() {
        let s = Signer::new(&MasterKey::generate());
        let now = Timestamp(1_000_000_000);
        let (e, sig) = parts(&s.query("PUT", "/upload/a", 1_000_060));
        let check = |m: &str, p: &str, e: &str, sig: &str, at: Timestamp| {
            s.verify(m, p, Some(e), Some(sig), at)
        };
        assert_eq!(check("PUT", "/upload/a", &e, &sig, now), Ok(()));
        assert_eq!(check("put", "/upload/a", &e, &sig, now), Ok(()));
        assert_eq!(
            check("PUT", "/upload/a", &e, &sig, Timestamp(1_000_060_000)),
            Err(Refused::Expired)
        );
        assert_eq!(
            check("PUT", "/upload/b", &e, &sig, now),
            Err(Refused::Tampered)
        );
        assert_eq!(
            check("GET", "/upload/a", &e, &sig, now),
            Err(Refused::Tampered)
        );
        assert_eq!(
            check("PUT", "/upload/a", "1000061", &sig, now),
            Err(Refused::Tampered)
        );
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            check("PUT", "/upload/a", &e, &flipped, now),
            Err(Refused::Tampered)
        );
        assert_eq!(
            s.verify("PUT", "/upload/a", None, Some(&sig), now),
            Err(Refused::Missing)
        );
        assert_eq!(
            s.verify("PUT", "/upload/a", Some(&e), Some("zz"), now),
            Err(Refused::Missing)
        );
        // Another master key signs differently.
        let other = Signer::new(&MasterKey::generate());
        assert_eq!(
            other.verify("PUT", "/upload/a", Some(&e), Some(&sig), now),
            Err(Refused::Tampered)
        );
    }

    mod hostile {
        use super::*;
        use proptest::prelude::*;

        fn signer() -> Signer {
            Signer::new(&MasterKey::generate())
        }

        const NOW: Timestamp = Timestamp(1_000_000_000);

        fn path() -> impl Strategy<Value = String> {
            prop_oneof![
                "/upload/[0-9a-f-]{1,36}",
                "/lake/[0-9a-f-]{1,36}/.{0,30}",
                ".{0,60}",
                Just("/lake/a/../b".to_string()),
            ]
        }

        proptest! {
            #[test]
            fn arbitrary_parameters_never_pass(
                method in ".{0,8}", p in path(), e in proptest::option::of(".{0,24}"), sig in proptest::option::of(".{0,80}"),
            ) {
                prop_assert!(signer().verify(&method, &p, e.as_deref(), sig.as_deref(), NOW).is_err());
            }

            #[test]
            fn a_link_holds_only_for_its_own_method_path_and_expiry(
                p in path(), other in path(), expires in any::<i64>(), other_expires in any::<i64>(), get in any::<bool>(),
            ) {
                let s = signer();
                let method = if get { "GET" } else { "PUT" };
                let (e, sig) = parts(&s.query(method, &p, expires));
                let ok = s.verify(method, &p, Some(&e), Some(&sig), NOW);
                prop_assert_eq!(ok, if NOW.millis() / 1000 >= expires { Err(Refused::Expired) } else { Ok(()) });
                if other != p {
                    prop_assert_eq!(s.verify(method, &other, Some(&e), Some(&sig), NOW), Err(Refused::Tampered));
                }
                if other_expires != expires {
                    prop_assert_eq!(
                        s.verify(method, &p, Some(&other_expires.to_string()), Some(&sig), NOW),
                        Err(Refused::Tampered)
                    );
                }
                let other_method = if get { "PUT" } else { "GET" };
                prop_assert_eq!(s.verify(other_method, &p, Some(&e), Some(&sig), NOW), Err(Refused::Tampered));
            }

            #[test]
            fn a_changed_signature_is_refused(
                p in path(), at in 0usize..64, to in "[0-9a-zA-Z]", cut in any::<bool>(),
            ) {
                let s = signer();
                let (e, sig) = parts(&s.query("PUT", &p, i64::MAX));
                let mut changed = sig.clone();
                if cut {
                    changed.truncate(at);
                } else {
                    changed.replace_range(at..=at, &to);
                }
                let same_bytes = hex::decode(&changed).ok() == hex::decode(&sig).ok();
                let result = s.verify("PUT", &p, Some(&e), Some(&changed), NOW);
                if same_bytes {
                    // Only a change of letter case keeps the signature.
                    prop_assert_eq!(result, Ok(()));
                } else {
                    prop_assert!(result.is_err());
                }
            }
        }
    }

    #[test]
    fn comparison_needs_equal_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
