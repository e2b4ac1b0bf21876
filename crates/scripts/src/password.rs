//! System-account passwords: 32 characters from the OS CSPRNG over letters and digits, with
//! at least one upper-case letter, one lower-case letter and one digit. That meets the
//! policy of every platform here (SCRIPTS.md: upper, lower, digit; no quote, backslash,
//! slash, `@` or space) and needs no escaping in any dialect.

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

use crate::ScriptError;
use warden_model::hex::encode as hex;

/// How a script writes a password it sets: as itself (scripts a person reads and runs), or
/// pre-hashed in a form the server stores as it is, so that the password never travels in
/// statement text (which servers keep in logs and system tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordForm {
    /// The password itself.
    Plain,
    /// `md5` + MD5(password + user), which Redshift (and PostgreSQL) accept in `PASSWORD`.
    Md5,
    /// A SCRAM-SHA-256 verifier (RFC 5802 / 7677, PostgreSQL's format).
    ScramSha256,
}

impl PasswordForm {
    /// The text that goes in the `PASSWORD '...'` literal for `user`.
    pub fn render(self, user: &str, password: &str) -> Result<String, ScriptError> {
        match self {
            Self::Plain => Ok(password.to_owned()),
            Self::Md5 => {
                let digest = md5::Md5::digest(format!("{password}{user}").as_bytes());
                Ok(format!("md5{}", hex(&digest)))
            }
            Self::ScramSha256 => {
                let mut salt = [0u8; 16];
                getrandom::fill(&mut salt).map_err(|e| ScriptError::Randomness(e.to_string()))?;
                Ok(scram_sha256_verifier(password, &salt, SCRAM_ITERATIONS))
            }
        }
    }
}

/// PostgreSQL's default SCRAM iteration count.
const SCRAM_ITERATIONS: u32 = 4096;

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as PostgreSQL stores it.
fn scram_sha256_verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    // PBKDF2-HMAC-SHA256 with one 32-byte block.
    let mut block = hmac_sha256(password.as_bytes(), &[salt, &1u32.to_be_bytes()].concat());
    let mut salted = block;
    for _ in 1..iterations {
        block = hmac_sha256(password.as_bytes(), &block);
        for (s, b) in salted.iter_mut().zip(block) {
            *s ^= b;
        }
    }
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac_sha256(&salted, b"Server Key");
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("SCRAM-SHA-256${iterations}:{}${}:{}", b64.encode(salt), b64.encode(stored_key), b64.encode(server_key))
}

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
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use super::{PasswordForm, generate_password, meets_policy, scram_sha256_verifier};

    #[test]
    fn md5_form_is_redshifts() {
        // Redshift's documented example (CREATE USER): password "ez" for user "user1".
        assert_eq!(PasswordForm::Md5.render("user1", "ez").unwrap(), "md5153c434b4b77c89e6b94f12c5393af5b");
        assert_eq!(PasswordForm::Plain.render("user1", "ez").unwrap(), "ez");
    }

    #[test]
    fn scram_verifier_matches_rfc_7677() {
        // RFC 7677's example: password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 rounds.
        let salt =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, "W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let verifier = scram_sha256_verifier("pencil", &salt, 4096);
        assert_eq!(
            verifier,
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        );
    }

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
