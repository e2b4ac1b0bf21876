//! The RSA key of a key-pair login (Snowflake's "Key-pair authentication"): the private key
//! read from its PKCS#8 PEM (`BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY` opened with
//! its passphrase), and the public key derived from it as DER `SubjectPublicKeyInfo`, which
//! is what `RSA_PUBLIC_KEY` holds and what Snowflake's fingerprint is taken of. Parsing only
//! (RustCrypto's `pkcs8` and `pkcs1`); signing is the adapter's. No error carries the key or
//! its passphrase.

use base64::Engine as _;
use pkcs8::der::{Decode as _, Encode as _};
use pkcs8::{EncryptedPrivateKeyInfo, PrivateKeyInfo};
use sha2::{Digest as _, Sha256};
use warden_model::Secret;

use crate::ScriptError;

/// The OID of `rsaEncryption`.
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// An RSA key read from its PEM.
pub struct RsaKey {
    /// The PKCS#8 `PrivateKeyInfo`, DER.
    pkcs8: Secret<Vec<u8>>,
    /// The `SubjectPublicKeyInfo`, DER.
    public: Vec<u8>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey").field("fingerprint", &self.fingerprint()).finish_non_exhaustive()
    }
}

/// Reads a PKCS#8 PEM, decrypting it with `passphrase` when it is encrypted.
pub fn rsa_key(pem: &Secret<String>, passphrase: Option<&Secret<String>>) -> Result<RsaKey, ScriptError> {
    let bad = ScriptError::PrivateKey;
    let (label, der) = pkcs8::der::pem::decode_vec(pem.expose().trim().as_bytes())
        .map_err(|_| bad("is not a PEM (-----BEGIN PRIVATE KEY----- ... -----END PRIVATE KEY-----)"))?;
    let der = match label {
        "PRIVATE KEY" => der,
        "ENCRYPTED PRIVATE KEY" => {
            let passphrase = passphrase.ok_or(bad("is encrypted, and privateKeyPassword is not given"))?;
            let encrypted =
                EncryptedPrivateKeyInfo::from_der(&der).map_err(|_| bad("is not an encrypted PKCS#8 key"))?;
            let opened = encrypted
                .decrypt(passphrase.expose().as_bytes())
                .map_err(|_| bad("does not open with privateKeyPassword"))?;
            opened.as_bytes().to_vec()
        }
        "RSA PRIVATE KEY" => {
            return Err(bad(
                "is in PKCS#1 form (BEGIN RSA PRIVATE KEY): convert it with `openssl pkcs8 -topk8 -nocrypt`",
            ));
        }
        _ => return Err(bad("is not a PKCS#8 private key")),
    };
    let info = PrivateKeyInfo::from_der(&der).map_err(|_| bad("is not a PKCS#8 private key"))?;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return Err(bad("is not an RSA key (key-pair sign-in and signed tokens need one)"));
    }
    let private = pkcs1::RsaPrivateKey::from_der(info.private_key).map_err(|_| bad("is not a usable RSA key"))?;
    let public = pkcs1::RsaPublicKey { modulus: private.modulus, public_exponent: private.public_exponent }
        .to_der()
        .map_err(|_| bad("has a public key that does not encode"))?;
    let info = spki::SubjectPublicKeyInfoRef {
        algorithm: spki::AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
        },
        subject_public_key: pkcs8::der::asn1::BitStringRef::from_bytes(&public)
            .map_err(|_| bad("has a public key that does not encode"))?,
    };
    let public = info.to_der().map_err(|_| bad("has a public key that does not encode"))?;
    Ok(RsaKey { pkcs8: Secret::new(der), public })
}

impl RsaKey {
    /// The private key as PKCS#8 DER (what a signer reads).
    pub fn pkcs8_der(&self) -> &[u8] {
        self.pkcs8.expose()
    }

    /// The public key as DER `SubjectPublicKeyInfo`.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public
    }

    /// The public key as `RSA_PUBLIC_KEY` takes it: the base64 of its DER, on one line.
    pub fn public_key_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.public)
    }

    /// `SHA256:<base64>`, the fingerprint Snowflake shows as `RSA_PUBLIC_KEY_FP`.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&self.public)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use warden_model::Secret;

    use super::rsa_key;

    const KEY: &str = include_str!("../../snowflake/tests/fixtures/test_key.p8");
    const ENCRYPTED: &str = include_str!("../../snowflake/tests/fixtures/test_key_encrypted.p8");
    /// `openssl pkey -pubout -outform DER | base64 -w0`.
    const PUBLIC_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1jLapBfxpiFsuoDGjdb7LiI56DMwbWZ+Imgd4KJeLb8Uz8yoT1Us4blytAebzv3CsxL4TxsZI3NWKX1Cpq7ZRZiWIskvLj65R1uPXgizRd7ZuOJobxWCGg6C15ovEN+zB9Fq4wnatBxOK5HhSW4Togf+rPithePiL2imrI9bcgsN7oB1YjBvQAEp2lyXPqitQ3fSOmgv5k2R2PZxOnWbIkFwrdhuR3utdzPBqUqBS25D+DlpoR+FfKcXaBsOi5Y1Yy38AFV0rQkp4tXlbBgIaLienUmVHqDw1adfEQKzM5C6HKiTM/iBu/AB0lIXP9xr9CvXNFYcJswzegMlBrt0vQIDAQAB";
    /// `openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | openssl base64`.
    const FINGERPRINT: &str = "SHA256:tBfdoelm9S92nY6ysenYmqlmhzu3Xr6lolmfOpzbhTw=";

    #[test]
    fn the_public_key_is_the_one_openssl_derives() {
        let key = rsa_key(&Secret::new(KEY.to_owned()), None).unwrap();
        assert_eq!(key.fingerprint(), FINGERPRINT);
        assert_eq!(key.public_key_base64(), PUBLIC_KEY);
        assert_eq!(format!("{key:?}"), format!("RsaKey {{ fingerprint: {FINGERPRINT:?}, .. }}"));
    }

    #[test]
    fn an_encrypted_key_opens_with_its_passphrase_only() {
        let encrypted = Secret::new(ENCRYPTED.to_owned());
        let opened = rsa_key(&encrypted, Some(&Secret::new("fixture-passphrase".to_owned()))).unwrap();
        assert_eq!(opened.fingerprint(), FINGERPRINT, "the same key as the clear one");
        let wrong = rsa_key(&encrypted, Some(&Secret::new("wrong".to_owned()))).unwrap_err();
        assert_eq!(wrong.to_string(), "the private key does not open with privateKeyPassword");
        let missing = rsa_key(&encrypted, None).unwrap_err();
        assert!(missing.to_string().contains("privateKeyPassword is not given"), "{missing}");
        let garbage = rsa_key(&Secret::new("not a key".to_owned()), None).unwrap_err();
        assert!(garbage.to_string().contains("is not a PEM"), "{garbage}");
        assert!(!format!("{opened:?}").contains("BEGIN"), "the key never shows");
    }
}
