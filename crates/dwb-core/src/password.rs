//! Passwords of people: argon2id hashes, a dummy hash so that an unknown
//! email costs the same time as a wrong password, and one-time passwords.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::Rng;

use crate::CoreError;

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 200;

/// Checks a new password against the policy; the field is named `field`.
pub fn check_new_password(field: &'static str, password: &str) -> Result<(), CoreError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(CoreError::new(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters long"),
        ));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(CoreError::new(
            field,
            format!("must be at most {MAX_PASSWORD_LEN} characters long"),
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    match Argon2::default().hash_password(password.as_bytes(), &salt) {
        Ok(h) => h.to_string(),
        // Hashing only fails for parameters out of range, which the defaults are not.
        Err(_) => String::new(),
    }
}

/// Verifies a password against a PHC string; a malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A random one-time password a person types once and then changes.
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn policy_names_the_field() {
        assert_eq!(
            check_new_password("new_password", "short")
                .unwrap_err()
                .field,
            "new_password"
        );
        assert!(check_new_password("p", "long enough pass").is_ok());
    }

    #[test]
    fn one_time_passwords_differ_and_pass_the_policy() {
        let a = one_time_password();
        assert_ne!(a, one_time_password());
        assert!(check_new_password("p", &a).is_ok());
    }
}
