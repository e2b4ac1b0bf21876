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

/// The environment variable that holds the keys a rotation replaces (64 hex characters each,
/// comma-separated): secrets sealed under them still open until they are sealed again.
pub const PREVIOUS_KEYS_ENV: &str = "WARDEN_MASTER_KEY_PREVIOUS";
/// The file that holds the replaced key during a rotation of a key file.
pub const PREVIOUS_KEY_FILE: &str = "master.key.previous";

impl MasterKey {
    /// The keys a rotation replaces: from `WARDEN_MASTER_KEY_PREVIOUS`, else from
    /// `<data_dir>/master.key.previous` (one per line), else none.
    pub fn load_previous(data_dir: &Path) -> Result<Vec<Self>, StoreError> {
        let (text, source) = match std::env::var(PREVIOUS_KEYS_ENV) {
            Ok(text) => (text, PREVIOUS_KEYS_ENV.to_owned()),
            Err(_) => match std::fs::read_to_string(data_dir.join(PREVIOUS_KEY_FILE)) {
                Ok(text) => (text, data_dir.join(PREVIOUS_KEY_FILE).display().to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(StoreError::MasterKey(format!("cannot read {PREVIOUS_KEY_FILE}: {e}"))),
            },
        };
        text.split([',', '\n'])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| Self::from_hex(part).map_err(|e| StoreError::MasterKey(format!("{source}: {e}"))))
            .collect()
    }

    /// Whether the key comes from the environment (else from the data directory's file).
    pub fn from_environment() -> bool {
        std::env::var_os(MASTER_KEY_ENV).is_some()
    }

    /// Writes this key as `<data_dir>/<name>` (0600), replacing the file atomically: it is
    /// written beside it, synced, then renamed over it.
    pub fn write_file(&self, data_dir: &Path, name: &str) -> Result<(), StoreError> {
        let staged = data_dir.join(format!("{name}.staged"));
        let _ = std::fs::remove_file(&staged);
        let io = |e: std::io::Error| StoreError::MasterKey(format!("cannot write {name}: {e}"));
        write_private(&staged, self.to_hex().as_bytes()).map_err(io)?;
        std::fs::rename(&staged, data_dir.join(name)).map_err(io)
    }

    /// Whether two keys are the same.
    pub fn same_as(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

/// The key secrets are sealed with and the keys they may still be sealed with (a rotation's
/// old ones). When the keys live in files, a change of `master.key` is noticed before the
/// next seal and at a secret that no key opens, so a running server takes up a rotation that
/// `warden keys rotate-master` began.
#[derive(Debug)]
pub(crate) struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
    /// The data directory whose key files are followed, and what `master.key` looked like
    /// when it was read.
    files: Option<(std::path::PathBuf, Option<(std::time::SystemTime, u64)>)>,
}

fn stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

impl Keyring {
    pub(crate) fn new(current: MasterKey) -> Self {
        Self { current, previous: Vec::new(), files: None }
    }

    /// Also opens with `previous`; with `data_dir`, follows its key files.
    pub(crate) fn with(&mut self, previous: Vec<MasterKey>, data_dir: Option<&Path>) {
        self.previous = previous;
        self.files = data_dir.map(|dir| (dir.to_path_buf(), stamp(&dir.join(MASTER_KEY_FILE))));
    }

    /// Reads the key files again if `master.key` changed since they were read. Answers
    /// whether the keys changed.
    pub(crate) fn refresh(&mut self) -> Result<bool, StoreError> {
        let Some((dir, seen)) = &self.files else { return Ok(false) };
        let now = stamp(&dir.join(MASTER_KEY_FILE));
        if now == *seen {
            return Ok(false);
        }
        let text = std::fs::read_to_string(dir.join(MASTER_KEY_FILE))
            .map_err(|e| StoreError::MasterKey(format!("cannot read {MASTER_KEY_FILE}: {e}")))?;
        let current = MasterKey::from_hex(&text)?;
        let mut previous = MasterKey::load_previous(dir)?;
        if !current.same_as(&self.current) && !previous.iter().any(|k| k.same_as(&self.current)) {
            // Keep the key this process sealed with until now: what it wrote still opens.
            previous.push(self.current.clone());
        }
        let dir = dir.clone();
        *self = Self { current, previous, files: Some((dir, now)) };
        Ok(true)
    }

    pub(crate) fn seal(&self, secrets: &SecretMap) -> Result<Vec<u8>, StoreError> {
        self.current.seal(secrets)
    }

    /// Opens with the current key, else a previous one; answers whether the current one did.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<(SecretMap, bool), StoreError> {
        match self.current.open(sealed) {
            Ok(secrets) => Ok((secrets, true)),
            Err(StoreError::WrongMasterKey) => {
                for key in &self.previous {
                    match key.open(sealed) {
                        Ok(secrets) => return Ok((secrets, false)),
                        Err(StoreError::WrongMasterKey) => {}
                        Err(other) => return Err(other),
                    }
                }
                Err(StoreError::WrongMasterKey)
            }
            Err(other) => Err(other),
        }
    }
}
