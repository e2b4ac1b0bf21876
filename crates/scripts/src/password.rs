//! System-account passwords: 32 characters from the OS CSPRNG over letters and digits, with
//! at least one upper-case letter, one lower-case letter and one digit. That meets the
//! policy of every platform here (SCRIPTS.md: upper, lower, digit; no quote, backslash,
//! slash, `@` or space) and needs no escaping in any dialect.

use crate::ScriptError;

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGIT: &[u8] = b"23456789";
const LENGTH: usize = 32;

/// A new password.
pub fn generate_password() -> Result<String, ScriptError> {
    let all: Vec<u8> = [UPPER, LOWER, DIGIT].concat();
    loop {
        let mut bytes = [0u8; LENGTH];
        getrandom::fill(&mut bytes).map_err(|e| ScriptError::Randomness(e.to_string()))?;
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - (256 % all.len());
        if bytes.iter().any(|&b| usize::from(b) >= limit) {
            continue;
        }
        let password: String = bytes.iter().map(|&b| char::from(all[usize::from(b) % all.len()])).collect();
        if meets_policy(&password) {
            return Ok(password);
        }
    }
}

/// Whether a password has an upper-case letter, a lower-case letter and a digit and none of
/// the characters a platform refuses.
pub fn meets_policy(password: &str) -> bool {
    password.len() >= 12
        && password.chars().any(|c| c.is_ascii_uppercase())
        && password.chars().any(|c| c.is_ascii_lowercase())
        && password.chars().any(|c| c.is_ascii_digit())
        && !password.chars().any(|c| matches!(c, '\'' | '"' | '\\' | '/' | '@' | ' ') || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::{generate_password, meets_policy};

    #[test]
    fn generated_passwords_meet_the_policy_and_differ() {
        let a = generate_password().expect("randomness");
        let b = generate_password().expect("randomness");
        assert!(meets_policy(&a) && meets_policy(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(!meets_policy("alllowercase1"));
        assert!(!meets_policy("Has'Quote123"));
    }
}
