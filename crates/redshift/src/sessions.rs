//! The connection the checks of one validation run share. Connecting is the slow part of
//! a check (TLS and authentication), and a run's checks all go to one database with one
//! login: the connection test's connection is kept and the other checks take turns on it.
//! It is closed after [`IDLE`] without use, and at once before any change is applied, so
//! Warden never holds a session that would make a `DROP DATABASE` wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use sqlx::{Connection as _, PgConnection};
use tokio::sync::Mutex as AsyncMutex;
use warden_model::config::RedshiftConfig;

/// How long an unused connection is kept.
pub(crate) const IDLE: Duration = Duration::from_secs(1);

/// A shared connection.
pub(crate) type Shared = Arc<AsyncMutex<PgConnection>>;

struct Session {
    connection: Shared,
    last_used: Instant,
}

/// Open check connections by target (host, port, database, login).
#[derive(Default)]
pub(crate) struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("Sessions").field("open", &open).finish()
    }
}

/// The key of a connection target; the login's secrets enter it only as a digest.
pub(crate) fn key(config: &RedshiftConfig, database: &str) -> String {
    let login = format!("{:?}", config.authentication); // Secret's Debug shows [REDACTED]
    let secrets: String = match &config.authentication {
        warden_model::config::RedshiftAuthentication::UserPassword { password, .. } => password.expose().clone(),
        warden_model::config::RedshiftAuthentication::AccessKey { secret_key, .. } => secret_key.expose().clone(),
        warden_model::config::RedshiftAuthentication::Okta { okta } => okta.password.expose().clone(),
    };
    let digest: String = Sha256::digest(secrets.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}:{}/{database}/{login}/{}/{digest}",
        config.host.as_str(),
        config.port.get(),
        config.connect_args.as_deref().unwrap_or_default()
    )
}

impl Sessions {
    /// The open connection for `key`, if one was used within [`IDLE`].
    pub(crate) fn take(&self, key: &str) -> Option<Shared> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let session = open.get_mut(key).filter(|s| s.last_used.elapsed() < IDLE)?;
        session.last_used = Instant::now();
        Some(Arc::clone(&session.connection))
    }

    /// Keeps `connection` for `key` and schedules its closing once unused.
    pub(crate) fn keep(self: &Arc<Self>, key: String, connection: PgConnection) -> Shared {
        let shared = Arc::new(AsyncMutex::new(connection));
        let replaced = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Session { connection: Arc::clone(&shared), last_used: Instant::now() });
        drop(replaced);
        let sessions = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(IDLE).await;
                let expired = {
                    let mut open = sessions.open.lock().unwrap_or_else(PoisonError::into_inner);
                    match open.get(&key) {
                        Some(s) if s.last_used.elapsed() >= IDLE => open.remove(&key),
                        Some(_) => continue,
                        None => return,
                    }
                };
                if let Some(session) = expired {
                    close(session.connection).await;
                }
                return;
            }
        });
        shared
    }

    /// Closes every kept connection (before a change runs on the platform).
    pub(crate) async fn close_all(&self) {
        let all: Vec<Session> =
            self.open.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, s)| s).collect();
        for session in all {
            close(session.connection).await;
        }
    }
}

async fn close(connection: Shared) {
    // Wait for a check still using it; then, if nobody else holds it, say goodbye to the
    // server (otherwise the last holder's drop closes the socket).
    drop(connection.lock().await);
    if let Ok(mutex) = Arc::try_unwrap(connection) {
        let _ = mutex.into_inner().close().await;
    }
}
