//! What a check is given besides its test id: the config, the phase, the session the runner
//! opened for the run, and a read-only registry of Warden's own records.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use warden_model::{IntegrationId, IntegrationSpec, IntegrationType, Status};

use crate::{Phase, PlatformError};

/// What the checks of one validation run share: whatever the adapter's
/// [`Platform::open`](crate::Platform::open) made (a connection, a token), read back by the
/// adapter with [`CheckContext::session`].
pub struct Session(Option<Box<dyn Any + Send + Sync>>);

impl Session {
    /// A session holding `value`.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Self(Some(Box::new(value)))
    }

    /// No session (the adapter keeps nothing between checks).
    pub const fn none() -> Self {
        Self(None)
    }

    /// What the session holds, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref().and_then(|value| value.downcast_ref())
    }

    /// The value, to close it.
    pub fn into_inner<T: Any>(self) -> Option<T> {
        self.0.and_then(|value| value.downcast().ok()).map(|value: Box<T>| *value)
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Session(..)" } else { "Session(none)" })
    }
}

/// An integration Warden has, as a check sees it.
#[derive(Debug, Clone)]
pub struct Registered {
    /// Its id.
    pub id: IntegrationId,
    /// Its status.
    pub status: Status,
    /// Its config as stored (with secrets, which a check must not put in a message).
    pub spec: IntegrationSpec,
}

/// A data source Warden registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    /// Its id.
    pub id: i64,
    /// The integration it belongs to.
    pub integration_id: IntegrationId,
    /// Its name.
    pub name: String,
    /// Where its data lives.
    pub location: String,
    /// What the adapter stored with it.
    pub state: Option<Value>,
}

/// Warden's own records, read-only, for the checks that compare a request with what Warden
/// already has (S3's "no existing integration" and "name is unique", BigQuery's "service
/// account not used for data-source credentials").
#[async_trait]
pub trait Registry: Send + Sync {
    /// The integrations of `integration_type` that are in use (every status but `deleted`
    /// and `disabled`), oldest first.
    async fn integrations(&self, integration_type: IntegrationType) -> Result<Vec<Registered>, PlatformError>;

    /// The data sources registered under integrations of `integration_type`.
    async fn data_sources(&self, integration_type: IntegrationType) -> Result<Vec<DataSource>, PlatformError>;
}

/// A registry with no records (for the runner's own tests and for tools that validate a
/// config without a store).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRecords;

#[async_trait]
impl Registry for NoRecords {
    async fn integrations(&self, _integration_type: IntegrationType) -> Result<Vec<Registered>, PlatformError> {
        Ok(Vec::new())
    }

    async fn data_sources(&self, _integration_type: IntegrationType) -> Result<Vec<DataSource>, PlatformError> {
        Ok(Vec::new())
    }
}

/// Everything one check is given.
#[derive(Clone)]
pub struct CheckContext {
    /// The config being checked.
    pub spec: Arc<IntegrationSpec>,
    /// When the check runs.
    pub phase: Phase,
    /// The integration being checked, once it is stored (an edit, a removal, a recurring
    /// run): a check comparing with the registry leaves it out.
    pub integration_id: Option<IntegrationId>,
    /// The run's session; `None` when the run opened none (no test needed a connection, or
    /// opening failed and only tests that need no connection run).
    pub session: Option<Arc<Session>>,
    /// Warden's own records.
    pub registry: Arc<dyn Registry>,
}

impl CheckContext {
    /// The run's session as the adapter's type, or the error a check reports when it has
    /// none.
    pub fn session<T: Any>(&self) -> Result<&T, PlatformError> {
        self.session
            .as_deref()
            .and_then(Session::get)
            .ok_or_else(|| PlatformError::other("the check needs the run's connection, and the run has none"))
    }

    /// The integrations of the same type in use, without the one being checked.
    pub async fn others(&self) -> Result<Vec<Registered>, PlatformError> {
        let mut all = self.registry.integrations(self.spec.integration_type()).await?;
        all.retain(|registered| Some(registered.id) != self.integration_id);
        Ok(all)
    }
}

impl std::fmt::Debug for CheckContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckContext")
            .field("integration_type", &self.spec.integration_type())
            .field("phase", &self.phase)
            .field("integration_id", &self.integration_id)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}
