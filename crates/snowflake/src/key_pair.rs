//! Key-pair sign-in, as Snowflake documents it ("Key-pair authentication"): a JWT signed
//! RS256 with the user's private key, whose issuer names the public key by its fingerprint:
//! `iss = ACCOUNT.USER.SHA256:<base64 SHA-256 of the public key's DER SubjectPublicKeyInfo>`,
//! `sub = ACCOUNT.USER`, valid one hour. The key is a PKCS#8 PEM (`BEGIN PRIVATE KEY`), or an
//! encrypted one (`BEGIN ENCRYPTED PRIVATE KEY`, PBES2) opened with `privateKeyPassword`.
//! RustCrypto's `pkcs8` reads (and decrypts) the PEM; `ring` signs. Neither the key, its
//! passphrase nor the token is ever put in an error.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use pkcs8::der::{Decode as _, Encode as _};
use pkcs8::{EncryptedPrivateKeyInfo, PrivateKeyInfo};
use ring::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use warden_model::Secret;
use warden_platform::PlatformError;

/// How long a token is valid (Snowflake's maximum is one hour).
const VALIDITY_SECS: u64 = 3600;

/// The OID of `rsaEncryption`.
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

fn bad_key(why: &str) -> PlatformError {
    PlatformError::new(warden_platform::ErrorKind::Unauthenticated, format!("the private key {why}"))
}

/// A private key read from its PEM.
pub struct PrivateKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey([REDACTED])")
    }
}

impl PrivateKey {
    /// Reads a PKCS#8 PEM, decrypting it with `passphrase` when it is encrypted.
    pub fn from_pem(pem: &Secret<String>, passphrase: Option<&Secret<String>>) -> Result<Self, PlatformError> {
        let (label, der) = pkcs8::der::pem::decode_vec(pem.expose().trim().as_bytes())
            .map_err(|_| bad_key("is not a PEM (-----BEGIN PRIVATE KEY----- ... -----END PRIVATE KEY-----)"))?;
        let der = match label {
            "PRIVATE KEY" => der,
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase =
                    passphrase.ok_or_else(|| bad_key("is encrypted, and privateKeyPassword is not given"))?;
                let encrypted =
                    EncryptedPrivateKeyInfo::from_der(&der).map_err(|_| bad_key("is not an encrypted PKCS#8 key"))?;
                let opened = encrypted
                    .decrypt(passphrase.expose().as_bytes())
                    .map_err(|_| bad_key("does not open with privateKeyPassword"))?;
                opened.as_bytes().to_vec()
            }
            "RSA PRIVATE KEY" => {
                return Err(bad_key(
                    "is in PKCS#1 form (BEGIN RSA PRIVATE KEY): convert it with `openssl pkcs8 -topk8 -nocrypt`",
                ));
            }
            _ => return Err(bad_key("is not a PKCS#8 private key")),
        };
        let info = PrivateKeyInfo::from_der(&der).map_err(|_| bad_key("is not a PKCS#8 private key"))?;
        if info.algorithm.oid != RSA_ENCRYPTION {
            return Err(bad_key("is not an RSA key, which Snowflake's key-pair sign-in needs"));
        }
        let pair = RsaKeyPair::from_pkcs8(&der).map_err(|_| bad_key("is not a usable RSA key (2048 bits or more)"))?;
        Ok(Self { pair })
    }

    /// The public key as DER `SubjectPublicKeyInfo` (what `RSA_PUBLIC_KEY` holds in Snowflake).
    pub fn public_key_der(&self) -> Result<Vec<u8>, PlatformError> {
        let pkcs1 = self.pair.public_key().as_ref();
        let info = spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
            },
            subject_public_key: pkcs8::der::asn1::BitStringRef::from_bytes(pkcs1)
                .map_err(|_| bad_key("has a public key that does not encode"))?,
        };
        info.to_der().map_err(|_| bad_key("has a public key that does not encode"))
    }

    /// `SHA256:<base64>`, the fingerprint Snowflake shows as `RSA_PUBLIC_KEY_FP`.
    pub fn fingerprint(&self) -> Result<String, PlatformError> {
        let digest = Sha256::digest(self.public_key_der()?);
        Ok(format!("SHA256:{}", base64::engine::general_purpose::STANDARD.encode(digest)))
    }

    /// A sign-in token for `user` of `account`, issued at `now` (Unix seconds).
    pub fn token(&self, account: &str, user: &str, now: u64) -> Result<Secret<String>, PlatformError> {
        let qualified = format!("{}.{}", account.to_ascii_uppercase(), user.to_ascii_uppercase());
        let claims = json!({
            "iss": format!("{qualified}.{}", self.fingerprint()?),
            "sub": qualified,
            "iat": now,
            "exp": now + VALIDITY_SECS,
        });
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let signing_input = format!(
            "{}.{}",
            url.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string()),
            url.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| PlatformError::other("the sign-in token could not be signed"))?;
        Ok(Secret::new(format!("{signing_input}.{}", url.encode(signature))))
    }
}

/// A sign-in token for `user` of `account`, valid from now.
pub fn token_now(key: &PrivateKey, account: &str, user: &str) -> Result<Secret<String>, PlatformError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    key.token(account, user, now)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use base64::Engine as _;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use serde_json::Value;
    use warden_model::Secret;

    use super::PrivateKey;

    const KEY: &str = include_str!("../tests/fixtures/test_key.p8");
    const ENCRYPTED: &str = include_str!("../tests/fixtures/test_key_encrypted.p8");
    /// `openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | openssl base64`.
    const FINGERPRINT: &str = "SHA256:tBfdoelm9S92nY6ysenYmqlmhzu3Xr6lolmfOpzbhTw=";

    fn part(token: &str, at: usize) -> Vec<u8> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(at).unwrap()).unwrap()
    }

    /// The token carries the claims Snowflake documents and verifies against the public
    /// key, whose fingerprint is the one openssl computes.
    #[test]
    fn the_token_is_signed_by_the_key_and_names_its_fingerprint() {
        let key = PrivateKey::from_pem(&Secret::new(KEY.to_owned()), None).unwrap();
        assert_eq!(key.fingerprint().unwrap(), FINGERPRINT);
        let token = key.token("acme-prod", "warden_system", 1_700_000_000).unwrap();
        let token = token.expose();
        let header: Value = serde_json::from_slice(&part(token, 0)).unwrap();
        assert_eq!(header["alg"], "RS256");
        let claims: Value = serde_json::from_slice(&part(token, 1)).unwrap();
        assert_eq!(claims["iss"], format!("ACME-PROD.WARDEN_SYSTEM.{FINGERPRINT}"));
        assert_eq!(claims["sub"], "ACME-PROD.WARDEN_SYSTEM");
        assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 3600);
        let signed = token.rsplit_once('.').unwrap().0;
        // The public key from its SubjectPublicKeyInfo: the BIT STRING's contents are the
        // PKCS#1 key ring verifies with.
        let spki = key.public_key_der().unwrap();
        let pkcs1 = &spki[spki.len() - key.pair.public().as_ref().len()..];
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pkcs1).verify(signed.as_bytes(), &part(token, 2)).unwrap();
        let mut tampered = part(token, 2);
        tampered[0] ^= 1;
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pkcs1).verify(signed.as_bytes(), &tampered).is_err()
        );
    }

    #[test]
    fn an_encrypted_key_opens_with_its_passphrase_only() {
        let encrypted = Secret::new(ENCRYPTED.to_owned());
        let opened = PrivateKey::from_pem(&encrypted, Some(&Secret::new("fixture-passphrase".to_owned()))).unwrap();
        assert_eq!(opened.fingerprint().unwrap(), FINGERPRINT, "the same key as the clear one");
        let wrong = PrivateKey::from_pem(&encrypted, Some(&Secret::new("wrong".to_owned()))).unwrap_err();
        assert_eq!(wrong.to_string(), "could not log in: the private key does not open with privateKeyPassword");
        let missing = PrivateKey::from_pem(&encrypted, None).unwrap_err();
        assert!(missing.to_string().contains("privateKeyPassword is not given"), "{missing}");
        let garbage = PrivateKey::from_pem(&Secret::new("not a key".to_owned()), None).unwrap_err();
        assert!(garbage.to_string().contains("is not a PEM"), "{garbage}");
        assert!(!format!("{opened:?}").contains("BEGIN"), "the key never shows");
    }
}
