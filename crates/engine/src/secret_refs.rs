//! Where the engine reads a config's secret references before an adapter sees it: a change's
//! configs (every `Change` the worker asks for), and, for a validation whose references
//! cannot be read, `Unreadable`, the adapter that fails the connection test with the reason
//! (and every test that needs the platform) while the checks that need nothing still run.

use std::sync::Arc;

use async_trait::async_trait;
use warden_model::{IntegrationSpec, Problem};
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, DataSourceRequest, Descriptor, Needs, Phase, Platform, PlatformError,
    Session, TestId, catalogue,
};
use warden_secrets::{ResolveError, SecretResolver};

/// An adapter whose config's secret references could not be read.
pub(crate) struct Unreadable {
    inner: Arc<dyn Platform>,
    error: PlatformError,
}

impl Unreadable {
    pub(crate) fn new(inner: Arc<dyn Platform>, error: ResolveError) -> Self {
        Self { inner, error: error.into() }
    }
}

#[async_trait]
impl Platform for Unreadable {
    fn descriptor(&self) -> &'static Descriptor {
        self.inner.descriptor()
    }

    async fn open(&self, _spec: &IntegrationSpec, _phase: Phase) -> Result<Session, PlatformError> {
        Err(self.error.clone())
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        let needs = catalogue(self.integration_type()).iter().find(|def| def.id == test).map(|def| def.needs);
        match needs {
            Some(Needs::Nothing) => self.inner.check(test, context).await,
            _ => Err(self.error.clone()),
        }
    }

    async fn apply(&self, _change: Change<'_>) -> Result<Applied, PlatformError> {
        Err(self.error.clone())
    }

    fn check_config(&self, spec: &IntegrationSpec) -> Vec<Problem> {
        self.inner.check_config(spec)
    }

    fn check_data_source(&self, spec: &IntegrationSpec, request: &DataSourceRequest) -> Result<(), Problem> {
        self.inner.check_data_source(spec, request)
    }
}

/// A config of a change, read for it.
async fn read(secrets: &SecretResolver, spec: &IntegrationSpec) -> Result<IntegrationSpec, PlatformError> {
    Ok(secrets.resolve(spec).await?)
}

async fn read_optional(
    secrets: &SecretResolver,
    spec: Option<&IntegrationSpec>,
) -> Result<Option<IntegrationSpec>, PlatformError> {
    match spec {
        Some(spec) => Ok(Some(read(secrets, spec).await?)),
        None => Ok(None),
    }
}

/// Makes `change` on `platform` with every config it carries read. The config an edit
/// leaves is read if it can be (an edit may be what repairs a reference that no longer
/// reads); every other config must read, or the change fails with the reason before the
/// platform is asked anything.
pub(crate) async fn apply_resolved(
    secrets: &SecretResolver,
    platform: &Arc<dyn Platform>,
    change: Change<'_>,
) -> Result<Applied, PlatformError> {
    let privileged = read_optional(secrets, change.privileged()).await?;
    let privileged = privileged.as_ref();
    match change {
        Change::Create { spec, .. } => {
            let spec = read(secrets, spec).await?;
            platform.apply(Change::Create { spec: &spec, privileged }).await
        }
        Change::Edit { from, to, state, .. } => {
            let from = secrets.resolve(from).await.unwrap_or_else(|_| from.clone());
            let to = read(secrets, to).await?;
            platform.apply(Change::Edit { from: &from, to: &to, privileged, state }).await
        }
        Change::Delete { spec, state, .. } => {
            let spec = read(secrets, spec).await?;
            platform.apply(Change::Delete { spec: &spec, privileged, state }).await
        }
        Change::Migrate { spec, from, state, .. } => {
            let spec = read(secrets, spec).await?;
            platform.apply(Change::Migrate { spec: &spec, from, privileged, state }).await
        }
        Change::Cleanup { spec, state, .. } => {
            let spec = read(secrets, spec).await?;
            platform.apply(Change::Cleanup { spec: &spec, privileged, state }).await
        }
    }
}
