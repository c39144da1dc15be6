//! Access tokens: compact JWTs signed with Ed25519 (`alg: EdDSA`, `kid` in
//! the header), their claims, and the public keys as a JWK set.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Timestamp;

/// Longest token accepted, so that garbage costs nothing to refuse.
pub const MAX_TOKEN_LEN: usize = 4096;

/// What a dwb access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The client id of the service account.
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The client id again, as Azure AD tokens carry it.
    pub appid: String,
    pub tid: String,
    /// The service account's workspace.
    pub ws: String,
    /// The secret generation the token was issued under; a regenerated
    /// secret makes every older token invalid.
    pub gen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token was signed with an unknown key")]
    UnknownKey(String),
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued for another audience")]
    WrongAudience,
}

/// A private signing key with its key id.
pub struct TokenSigner {
    kid: String,
    key: SigningKey,
    header_b64: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The key id of a public key: the first 16 hex digits of its SHA-256.
pub fn key_id(public: &[u8; 32]) -> String {
    crate::secret::digest_bytes(public)[..16].to_string()
}

impl TokenSigner {
    pub fn generate() -> Self {
        Self::from_secret_bytes(SigningKey::generate(&mut rand::rngs::OsRng).to_bytes())
    }

    pub fn from_secret_bytes(bytes: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&bytes);
        let kid = key_id(&key.verifying_key().to_bytes());
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
        Self {
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
            kid,
            key,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
    pub fn public_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{}.{payload}", self.header_b64);
        let sig = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }
}

/// The public keys tokens are checked against, by key id.
#[derive(Debug, Clone, Default)]
pub struct VerifyingKeys(HashMap<String, VerifyingKey>);

impl VerifyingKeys {
    pub fn insert(&mut self, public: [u8; 32]) -> Result<(), TokenError> {
        let key = VerifyingKey::from_bytes(&public).map_err(|_| TokenError::Malformed)?;
        self.0.insert(key_id(&public), key);
        Ok(())
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.0.contains_key(kid)
    }

    /// The JWK set published at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys: Vec<_> = self
            .0
            .iter()
            .map(|(kid, k)| {
                json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
                       "x": URL_SAFE_NO_PAD.encode(k.to_bytes())})
            })
            .collect();
        keys.sort_by(|a, b| a["kid"].as_str().cmp(&b["kid"].as_str()));
        json!({ "keys": keys })
    }

    /// Checks the form and signature of `token` and returns its claims;
    /// time and audience are checked by `check_claims`.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(h)
                .map_err(|_| TokenError::Malformed)?,
        )
        .map_err(|_| TokenError::Malformed)?;
        if header.get("alg").and_then(|v| v.as_str()) != Some("EdDSA") {
            return Err(TokenError::Malformed);
        }
        let kid = header
            .get("kid")
            .and_then(|v| v.as_str())
            .ok_or(TokenError::Malformed)?;
        let key = self
            .0
            .get(kid)
            .ok_or_else(|| TokenError::UnknownKey(kid.to_string()))?;
        let sig_bytes: [u8; 64] = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?
            .try_into()
            .map_err(|_| TokenError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        key.verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&sig_bytes))
            .map_err(|_| TokenError::BadSignature)?;
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(p)
                .map_err(|_| TokenError::Malformed)?,
        )
        .map_err(|_| TokenError::Malformed)
    }
}

/// Checks expiry, start and audience at `now`.
pub fn check_claims(claims: &Claims, now: Timestamp, audience: &str) -> Result<(), TokenError> {
    if now.secs() >= claims.exp {
        return Err(TokenError::Expired);
    }
    if now.secs() + 60 < claims.nbf {
        return Err(TokenError::NotYetValid);
    }
    if claims.aud != audience {
        return Err(TokenError::WrongAudience);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "http://dwb".into(),
            sub: "c".into(),
            aud: "api".into(),
            iat: 0,
            nbf: 0,
            exp,
            jti: "j".into(),
            appid: "c".into(),
            tid: "t".into(),
            ws: "w".into(),
            gen: 1,
        }
    }

    #[test]
    fn sign_then_verify() {
        let signer = TokenSigner::generate();
        let mut keys = VerifyingKeys::default();
        keys.insert(signer.public_bytes()).unwrap();
        let t = signer.sign(&claims(100));
        assert_eq!(keys.verify(&t).unwrap(), claims(100));
        assert!(check_claims(&claims(100), Timestamp(99_000), "api").is_ok());
        assert_eq!(
            check_claims(&claims(100), Timestamp(100_000), "api"),
            Err(TokenError::Expired)
        );
        assert_eq!(
            check_claims(&claims(100), Timestamp(0), "other"),
            Err(TokenError::WrongAudience)
        );
        let jwks = keys.jwks();
        assert_eq!(jwks["keys"][0]["kid"], signer.kid());
        assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    }

    #[test]
    fn tampering_and_unknown_keys_are_refused() {
        let signer = TokenSigner::generate();
        let mut keys = VerifyingKeys::default();
        keys.insert(signer.public_bytes()).unwrap();
        let t = signer.sign(&claims(100));
        let (hp, _) = t.rsplit_once('.').unwrap();
        let (h, _) = hp.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(999)).unwrap());
        let forged = format!("{h}.{forged_payload}.{}", t.rsplit('.').next().unwrap());
        assert_eq!(keys.verify(&forged), Err(TokenError::BadSignature));
        let other = TokenSigner::generate().sign(&claims(100));
        assert!(matches!(
            keys.verify(&other),
            Err(TokenError::UnknownKey(_))
        ));
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"x".repeat(5000)] {
            assert!(keys.verify(bad).is_err(), "{bad}");
        }
        let reloaded = TokenSigner::from_secret_bytes(signer.secret_bytes());
        assert_eq!(reloaded.kid(), signer.kid());
        assert!(keys.verify(&reloaded.sign(&claims(5))).is_ok());
    }

    mod hostile {
        use super::*;
        use proptest::prelude::*;

        fn keys_and_token() -> (VerifyingKeys, String) {
            let signer = TokenSigner::from_secret_bytes([7; 32]);
            let mut keys = VerifyingKeys::default();
            keys.insert(signer.public_bytes()).unwrap();
            (keys, signer.sign(&claims(100)))
        }

        /// A change to a token: replace, insert or delete one byte, or cut it.
        #[derive(Debug, Clone)]
        enum Mutation {
            Replace(usize, u8),
            Insert(usize, u8),
            Delete(usize),
            Truncate(usize),
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            prop_oneof![
                (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
                (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
                any::<usize>().prop_map(Mutation::Delete),
                any::<usize>().prop_map(Mutation::Truncate),
            ]
        }

        fn apply(token: &str, muts: &[Mutation]) -> Vec<u8> {
            let mut t = token.as_bytes().to_vec();
            for m in muts {
                let n = t.len().max(1);
                match *m {
                    Mutation::Replace(i, b) if !t.is_empty() => t[i % n] = b,
                    Mutation::Insert(i, b) => t.insert(i % (t.len() + 1), b),
                    Mutation::Delete(i) if !t.is_empty() => {
                        t.remove(i % n);
                    }
                    Mutation::Truncate(i) => t.truncate(i % n),
                    _ => {}
                }
            }
            t
        }

        proptest! {
            #[test]
            fn arbitrary_text_never_verifies(s in ".{0,300}") {
                let (keys, _) = keys_and_token();
                prop_assert!(keys.verify(&s).is_err());
            }

            #[test]
            fn three_arbitrary_parts_never_verify(
                h in "[A-Za-z0-9_=+/-]{0,80}", p in "[A-Za-z0-9_=+/-]{0,200}", s in "[A-Za-z0-9_=+/-]{0,100}",
            ) {
                let (keys, _) = keys_and_token();
                let token = [h, p, s].join(".");
                prop_assert!(keys.verify(&token).is_err());
            }

            #[test]
            fn a_changed_token_never_verifies(muts in proptest::collection::vec(mutation(), 1..4)) {
                let (keys, token) = keys_and_token();
                let changed = apply(&token, &muts);
                // Not UTF-8 cannot even reach `verify`; the rest must be refused.
                if let Ok(text) = String::from_utf8(changed) {
                    let result = keys.verify(&text);
                    if text == token {
                        prop_assert_eq!(result, Ok(claims(100)));
                    } else {
                        prop_assert!(result.is_err(), "{text} verified");
                    }
                }
            }

            #[test]
            fn a_header_with_any_json_never_verifies(header in any::<Vec<(String, String)>>(), alg in "EdDSA|none|HS256|") {
                let (keys, token) = keys_and_token();
                let mut h: serde_json::Map<String, serde_json::Value> =
                    header.into_iter().map(|(k, v)| (k, json!(v))).collect();
                h.insert("alg".into(), json!(alg));
                let rest = token.split_once('.').unwrap().1;
                let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap()));
                prop_assert!(keys.verify(&forged).is_err());
            }

            #[test]
            fn claims_never_panic_the_time_checks(exp in any::<i64>(), nbf in any::<i64>(), now in any::<i64>()) {
                let mut c = claims(exp);
                c.nbf = nbf;
                let _ = check_claims(&c, Timestamp(now), "api");
            }
        }
    }
}
