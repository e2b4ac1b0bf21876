//! Key-pair sign-in, as Snowflake documents it ("Key-pair authentication"): a JWT signed
//! RS256 with the user's private key, whose issuer names the public key by its fingerprint:
//! `iss = ACCOUNT.USER.SHA256:<base64 SHA-256 of the public key's DER SubjectPublicKeyInfo>`,
//! `sub = ACCOUNT.USER`, valid one hour. The key is read, signs and is generated (the 2048-bit
//! key of the service user an automatic setup creates) by `warden_http::jwt`. Neither the
//! key, its passphrase nor the token is ever put in an error.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
pub use warden_http::jwt::{PrivateKey, generate_pem};
use warden_model::Secret;
use warden_platform::PlatformError;

/// How long a token is valid (Snowflake's maximum is one hour).
const VALIDITY_SECS: u64 = 3600;

/// A sign-in token for `user` of `account`, issued at `now` (Unix seconds).
pub fn token(key: &PrivateKey, account: &str, user: &str, now: u64) -> Result<Secret<String>, PlatformError> {
    let qualified = format!("{}.{}", account.to_ascii_uppercase(), user.to_ascii_uppercase());
    let claims = json!({
        "iss": format!("{qualified}.{}", key.fingerprint()),
        "sub": qualified,
        "iat": now,
        "exp": now + VALIDITY_SECS,
    });
    key.sign_jwt(&json!({"alg": "RS256", "typ": "JWT"}), &claims)
}

/// A sign-in token for `user` of `account`, valid from now.
pub fn token_now(key: &PrivateKey, account: &str, user: &str) -> Result<Secret<String>, PlatformError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    token(key, account, user, now)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use base64::Engine as _;
    use serde_json::Value;
    use warden_model::Secret;

    use super::PrivateKey;

    const KEY: &str = include_str!("../tests/fixtures/test_key.p8");
    /// `openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | openssl base64`.
    const FINGERPRINT: &str = "SHA256:tBfdoelm9S92nY6ysenYmqlmhzu3Xr6lolmfOpzbhTw=";

    /// The token carries the claims Snowflake documents (its signature is `warden_http::jwt`'s,
    /// tested there).
    #[test]
    fn the_token_names_the_key_fingerprint() {
        let key = PrivateKey::from_pem(&Secret::new(KEY.to_owned()), None).unwrap();
        let token = super::token(&key, "acme-prod", "warden_system", 1_700_000_000).unwrap();
        let claims = token.expose().split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["iss"], format!("ACME-PROD.WARDEN_SYSTEM.{FINGERPRINT}"));
        assert_eq!(claims["sub"], "ACME-PROD.WARDEN_SYSTEM");
        assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 3600);
    }
}
