//! Secrets at rest: the master key (from `WARDEN_MASTER_KEY` or a 0600 key file in the data
//! directory) and AES-256-GCM sealing of an integration's secret map.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use aes_gcm::aead::{Aead, Generate, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use warden_model::{Secret, SecretMap};

use crate::error::StoreError;

const NONCE_LEN: usize = 12;
/// The environment variable that holds the master key (64 hex characters).
pub const MASTER_KEY_ENV: &str = "WARDEN_MASTER_KEY";
/// The key file created in the data directory when the variable is not set.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The 256-bit key that encrypts every stored secret. Debug shows nothing of it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    /// Reads 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, StoreError> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::MasterKey("it must be 64 hex characters (32 bytes)".into()));
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| StoreError::MasterKey("not hex".into()))?;
        }
        Ok(Self(key))
    }

    /// A new random key.
    pub fn generate() -> Result<Self, StoreError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| StoreError::MasterKey(format!("no randomness: {e}")))?;
        Ok(Self(key))
    }

    fn to_hex(&self) -> String {
        warden_model::hex::encode(&self.0)
    }

    /// The key from `WARDEN_MASTER_KEY`, else from `<data_dir>/master.key`, which is created
    /// (mode 0600) with a new random key on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, StoreError> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return Self::from_hex(&text).map_err(|e| StoreError::MasterKey(format!("{MASTER_KEY_ENV}: {e}")));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_hex(&text).map_err(|e| StoreError::MasterKey(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                write_private(&path, key.to_hex().as_bytes())
                    .map_err(|e| StoreError::MasterKey(format!("cannot create {}: {e}", path.display())))?;
                Ok(key)
            }
            Err(e) => Err(StoreError::MasterKey(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Seals a secret map: a fresh nonce followed by the ciphertext of its JSON.
    pub(crate) fn seal(&self, secrets: &SecretMap) -> Result<Vec<u8>, StoreError> {
        let plain: serde_json::Map<String, serde_json::Value> =
            secrets.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.expose().clone()))).collect();
        let plain = serde_json::to_vec(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| StoreError::MasterKey("bad length".into()))?;
        let nonce = Nonce::generate();
        let sealed =
            cipher.encrypt(&nonce, plain.as_slice()).map_err(|_| StoreError::Corrupt("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`MasterKey::seal`] wrote.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<SecretMap, StoreError> {
        if sealed.len() < NONCE_LEN {
            return Err(StoreError::Corrupt("sealed secrets are too short".into()));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| StoreError::Corrupt("bad nonce".into()))?;
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| StoreError::MasterKey("bad length".into()))?;
        let plain = cipher.decrypt(&nonce, body).map_err(|_| StoreError::WrongMasterKey)?;
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&plain).map_err(|_| StoreError::Corrupt("sealed secrets are not a map".into()))?;
        map.into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k, Secret::new(s))),
                _ => Err(StoreError::Corrupt("a sealed secret is not text".into())),
            })
            .collect()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
