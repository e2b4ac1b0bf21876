//! RS256 JSON Web Tokens signed with an RSA private key, for the adapters that sign in with
//! one (Snowflake's key-pair sign-in and OAuth client assertions, Google's service-account
//! token exchange): the key read from its PKCS#8 PEM by `warden-scripts` (the same reading
//! that puts a public key in a script), signed with aws-lc-rs, which also generates keys
//! (ring cannot generate RSA keys, and the `rsa` crate carries RUSTSEC-2023-0071). Neither
//! the key, its passphrase nor a token is ever put in an error or a `Debug` output.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use warden_model::Secret;
use warden_platform::PlatformError;
use warden_scripts::RsaKey;

/// A private key read from its PEM.
pub struct PrivateKey {
    key: RsaKey,
    pair: KeyPair,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey([REDACTED])")
    }
}

impl PrivateKey {
    /// Reads a PKCS#8 PEM, decrypting it with `passphrase` when it is encrypted.
    pub fn from_pem(pem: &Secret<String>, passphrase: Option<&Secret<String>>) -> Result<Self, PlatformError> {
        let key = warden_scripts::rsa_key(pem, passphrase)
            .map_err(|e| PlatformError::new(warden_platform::ErrorKind::Unauthenticated, e.to_string()))?;
        let pair = KeyPair::from_pkcs8(key.pkcs8_der()).map_err(|_| {
            PlatformError::new(
                warden_platform::ErrorKind::Unauthenticated,
                "the private key is not a usable RSA key (2048 bits or more)",
            )
        })?;
        Ok(Self { key, pair })
    }

    /// The public key as DER `SubjectPublicKeyInfo` (what `RSA_PUBLIC_KEY` holds in Snowflake).
    pub fn public_key_der(&self) -> &[u8] {
        self.key.public_key_der()
    }

    /// `SHA256:<base64>`, the fingerprint Snowflake shows as `RSA_PUBLIC_KEY_FP`.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint()
    }

    /// A JWT of `header` and `claims`, signed RS256.
    pub fn sign_jwt(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<Secret<String>, PlatformError> {
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let signing_input = format!("{}.{}", url.encode(header.to_string()), url.encode(claims.to_string()));
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| PlatformError::other("a token could not be signed"))?;
        Ok(Secret::new(format!("{signing_input}.{}", url.encode(signature))))
    }
}

/// A new 2048-bit RSA private key as an unencrypted PKCS#8 PEM: the key of the service user
/// an automatic setup creates, which Warden stores (encrypted) and no one else has.
pub fn generate_pem() -> Result<Secret<String>, PlatformError> {
    let failed = |_| PlatformError::other("no RSA key could be generated for the system account");
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(failed)?;
    let der = pair.as_der().map_err(failed)?;
    let pem = pkcs8::der::pem::encode_string("PRIVATE KEY", pkcs8::der::pem::LineEnding::LF, der.as_ref())
        .map_err(|_| PlatformError::other("the system account's key could not be written as a PEM"))?;
    Ok(Secret::new(pem))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use base64::Engine as _;
    use serde_json::{Value, json};
    use warden_model::Secret;

    use super::PrivateKey;

    const KEY: &str = include_str!("../tests/fixtures/test_key.p8");
    const ENCRYPTED: &str = include_str!("../tests/fixtures/test_key_encrypted.p8");
    /// `openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | openssl base64`.
    const FINGERPRINT: &str = "SHA256:tBfdoelm9S92nY6ysenYmqlmhzu3Xr6lolmfOpzbhTw=";

    fn part(token: &str, at: usize) -> Vec<u8> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(at).unwrap()).unwrap()
    }

    /// A JWT carries its header and claims and verifies against the public key, whose
    /// fingerprint is the one openssl computes; a tampered signature does not.
    #[test]
    fn a_jwt_is_signed_by_the_key() {
        let key = PrivateKey::from_pem(&Secret::new(KEY.to_owned()), None).unwrap();
        assert_eq!(key.fingerprint(), FINGERPRINT);
        let token = key.sign_jwt(&json!({"alg": "RS256", "typ": "JWT"}), &json!({"iss": "me", "exp": 2})).unwrap();
        let token = token.expose();
        let header: Value = serde_json::from_slice(&part(token, 0)).unwrap();
        assert_eq!(header["alg"], "RS256");
        let claims: Value = serde_json::from_slice(&part(token, 1)).unwrap();
        assert_eq!(claims, json!({"iss": "me", "exp": 2}));
        let signed = token.rsplit_once('.').unwrap().0;
        verify(key.public_key_der(), signed, &part(token, 2)).unwrap();
        let mut tampered = part(token, 2);
        tampered[0] ^= 1;
        assert!(verify(key.public_key_der(), signed, &tampered).is_err());
    }

    /// Verifies `signature` over `signed` with the public key of a DER SubjectPublicKeyInfo
    /// (whose BIT STRING holds the PKCS#1 key the verifier reads: the last 270 bytes of a
    /// 2048-bit key's 294).
    fn verify(spki: &[u8], signed: &str, signature: &[u8]) -> Result<(), aws_lc_rs::error::Unspecified> {
        assert_eq!(spki.len(), 294, "a 2048-bit key");
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &spki[24..]).verify(signed.as_bytes(), signature)
    }

    /// A generated key reads back, is 2048 bits, and signs tokens its public key verifies;
    /// two generated keys differ.
    #[test]
    fn a_generated_key_reads_back_and_signs() {
        let pem = super::generate_pem().unwrap();
        assert!(pem.expose().starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let key = PrivateKey::from_pem(&pem, None).unwrap();
        let token = key.sign_jwt(&json!({"alg": "RS256"}), &json!({"sub": "DB_SYSTEM_ACCOUNT"})).unwrap();
        let (signed, signature) = token.expose().rsplit_once('.').unwrap();
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap();
        verify(key.public_key_der(), signed, &signature).unwrap();
        let other = PrivateKey::from_pem(&super::generate_pem().unwrap(), None).unwrap();
        assert_ne!(other.fingerprint(), key.fingerprint());
    }

    /// The PEM is read by `warden_scripts::rsa_key` (tested there); a key it refuses fails
    /// the sign-in as an authentication error, and the key never shows.
    #[test]
    fn a_key_that_does_not_open_is_an_authentication_error() {
        let encrypted = Secret::new(ENCRYPTED.to_owned());
        let opened = PrivateKey::from_pem(&encrypted, Some(&Secret::new("fixture-passphrase".to_owned()))).unwrap();
        assert_eq!(opened.fingerprint(), FINGERPRINT, "the same key as the clear one");
        let wrong = PrivateKey::from_pem(&encrypted, Some(&Secret::new("wrong".to_owned()))).unwrap_err();
        assert_eq!(wrong.kind(), Some(warden_platform::ErrorKind::Unauthenticated));
        assert_eq!(wrong.to_string(), "could not log in: the private key does not open with privateKeyPassword");
        assert!(!format!("{opened:?}").contains("BEGIN"), "the key never shows");
    }
}
