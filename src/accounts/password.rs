//! Human passwords: the policy R-REG-2, used by every path that sets a password, and
//! argon2id hashing (OWASP minimum m=19 MiB, t=2, p=1), always off the async workers.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::secret::Secret;

/// Which rule of R-REG-2 a password breaks; the page explains each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Fewer than 8 characters.
    #[error("shorter than 8 characters")]
    TooShort,
    /// More than 40 characters.
    #[error("longer than 40 characters")]
    TooLong,
    /// Contains a space, tab or other whitespace.
    #[error("contains whitespace")]
    Whitespace,
    /// Contains `<` or `>`.
    #[error("contains < or >")]
    AngleBracket,
    /// Contains a control character.
    #[error("contains a control character")]
    Control,
    /// Fewer than two of: upper and lower case letters, digits, special characters.
    #[error("needs two of: upper and lower case letters, digits, special characters")]
    TooFewClasses,
}

impl PolicyViolation {
    /// The message-catalog key explaining this violation.
    pub fn message_key(self) -> &'static str {
        match self {
            PolicyViolation::TooShort => "password_too_short",
            PolicyViolation::TooLong => "password_too_long",
            PolicyViolation::Whitespace => "password_whitespace",
            PolicyViolation::AngleBracket => "password_angle_bracket",
            PolicyViolation::Control => "password_control",
            PolicyViolation::TooFewClasses => "password_classes",
        }
    }
}

fn is_upper(c: char) -> bool {
    c.is_ascii_uppercase() || matches!(c, 'Ä' | 'Ö' | 'Ü' | 'ẞ')
}

fn is_lower(c: char) -> bool {
    c.is_ascii_lowercase() || matches!(c, 'ä' | 'ö' | 'ü' | 'ß')
}

/// R-REG-2: 8–40 characters, no whitespace, no `<` or `>`, and at least two of three classes:
/// (1) upper and lower case letters, (2) digits, (3) special characters.
pub fn check_policy(password: &str) -> Result<(), PolicyViolation> {
    let len = password.chars().count();
    if len < 8 {
        return Err(PolicyViolation::TooShort);
    }
    if len > 40 {
        return Err(PolicyViolation::TooLong);
    }
    if password.chars().any(char::is_whitespace) {
        return Err(PolicyViolation::Whitespace);
    }
    if password.contains(['<', '>']) {
        return Err(PolicyViolation::AngleBracket);
    }
    if password.chars().any(char::is_control) {
        return Err(PolicyViolation::Control);
    }
    let letters = password.chars().any(is_upper) && password.chars().any(is_lower);
    let digits = password.chars().any(|c| c.is_ascii_digit());
    let special = password.chars().any(|c| !is_upper(c) && !is_lower(c) && !c.is_ascii_digit());
    if [letters, digits, special].iter().filter(|x| **x).count() < 2 {
        return Err(PolicyViolation::TooFewClasses);
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // Constant, valid parameters: OWASP's argon2id minimum.
    #[allow(clippy::expect_used)]
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id and a random salt.
pub async fn hash(password: Secret<String>) -> Result<Secret<String>, String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&crate::secret::random_bytes(16)).map_err(|e| e.to_string())?;
        hasher()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| Secret::new(h.to_string()))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A valid hash of a random password, verified when the account does not exist so that
/// both paths cost the same.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2VydmljZWtvbnRvZHVtbXk$7Ot3x/8JQoWdl2SiqAPBhc6dpVnWkxWkk4Gqzl0g8G0";

/// Verifies `password` against `stored` (or a dummy hash when there is no account).
pub async fn verify(password: Secret<String>, stored: Option<Secret<String>>) -> bool {
    let exists = stored.is_some();
    let stored = stored.map(|s| s.expose().clone()).unwrap_or_else(|| DUMMY_HASH.to_string());
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|h| hasher().verify_password(password.expose().as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false);
    ok && exists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_reg_2_password_policy_examples_and_near_misses() {
        for ok in [
            "ABab1234",
            "Aa12Bb34",
            "ABab§$%?",
            "A§B$a%b?",
            "7890?!+-",
            "7?8!9+0-",
            "ÄÖÜäöü12",
            "Straße99",
            "1234567890123456789012345678901234567aA1",
        ] {
            assert_eq!(check_policy(ok), Ok(()), "{ok} should pass");
        }
        for (bad, why) in [
            ("ABab123", PolicyViolation::TooShort),
            ("ABab12345678901234567890123456789012345678", PolicyViolation::TooLong),
            ("ABab 1234", PolicyViolation::Whitespace),
            ("ABab1234\t", PolicyViolation::Whitespace),
            ("ABab<1234", PolicyViolation::AngleBracket),
            ("ABab>1234", PolicyViolation::AngleBracket),
            ("abcdefgh", PolicyViolation::TooFewClasses),
            ("ABCDEFGH", PolicyViolation::TooFewClasses),
            ("12345678", PolicyViolation::TooFewClasses),
            ("§$%&/()=", PolicyViolation::TooFewClasses),
            ("ABCDEFG1", PolicyViolation::TooFewClasses),
            ("abcdefg1", PolicyViolation::TooFewClasses),
            ("ÄÖÜabcde", PolicyViolation::TooFewClasses),
            ("ÄÖÜABCD1", PolicyViolation::TooFewClasses),
        ] {
            assert_eq!(check_policy(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn r_reg_2_forty_characters_is_the_limit() {
        let forty = format!("Aa1{}", "x".repeat(37));
        assert_eq!(forty.chars().count(), 40);
        assert_eq!(check_policy(&forty), Ok(()));
        assert_eq!(check_policy(&format!("{forty}y")), Err(PolicyViolation::TooLong));
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_emails_cost_a_full_verification() {
        let h = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(h.algorithm.as_str(), "argon2id");
    }

    #[tokio::test]
    async fn r_reg_2_hashes_are_argon2id_and_verify() {
        let h = hash(Secret::new("ABab1234".into())).await.unwrap();
        assert!(h.expose().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(Secret::new("ABab1234".into()), Some(h.clone())).await);
        assert!(!verify(Secret::new("ABab1235".into()), Some(h)).await);
        assert!(!verify(Secret::new("anything".into()), None).await);
    }
}
