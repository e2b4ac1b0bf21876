//! The worker's failure points for the real adapters: a wrapper around each shipped adapter
//! that kills its own process (SIGABRT, no cleanup, as a crash would) just before or just
//! after the platform makes a change, when `WARDEN_TEST_DIE_AT` says so:
//! `<change>:<before|after>`, with the change's name (`create`, `edit`, `delete`, ...).
//! "before" is the engine's `BeforeChange` point seen from the platform (the job is
//! claimed, nothing has run there), "after" its `AfterChange` point (the change ran to its
//! end; its outcome is not recorded). Everything else is the adapter's own. Only the
//! `warden-failpoints` binary registers it; `tests/failpoints.rs` drives it against each
//! platform's server or emulator.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use warden_engine::Platforms;
use warden_model::{IntegrationSpec, IntegrationType, Problem};
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, DataSourceRequest, Descriptor, Phase, Platform, PlatformError,
    Session, TestId,
};

/// The environment variable that arms a point.
pub const DIE_AT_ENV: &str = "WARDEN_TEST_DIE_AT";

/// A shipped adapter that dies where [`DIE_AT_ENV`] says.
pub struct Dying {
    inner: Arc<dyn Platform>,
}

/// The shipped adapters, each wrapped.
pub fn platforms() -> Platforms {
    let shipped = warden_server::shipped_platforms();
    IntegrationType::ALL
        .into_iter()
        .filter_map(|t| shipped.get(t))
        .fold(Platforms::new(), |platforms, inner| platforms.with(Arc::new(Dying { inner })))
}

/// Dies when `change` at `moment` is the armed point.
fn die_if_armed(change: &str, moment: &str) {
    let Ok(armed) = std::env::var(DIE_AT_ENV) else { return };
    if armed == format!("{change}:{moment}") {
        eprintln!("warden-failpoints: dying {moment} the {change}, as armed");
        std::process::abort();
    }
}

#[async_trait]
impl Platform for Dying {
    fn descriptor(&self) -> &'static Descriptor {
        self.inner.descriptor()
    }

    async fn open(&self, spec: &IntegrationSpec, phase: Phase) -> Result<Session, PlatformError> {
        self.inner.open(spec, phase).await
    }

    async fn close(&self, session: Session) {
        self.inner.close(session).await;
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        self.inner.check(test, context).await
    }

    fn system_account(
        &self,
        requested: &IntegrationSpec,
        current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        self.inner.system_account(requested, current)
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        let name = change.name();
        die_if_armed(name, "before");
        let applied = self.inner.apply(change).await;
        if applied.is_ok() {
            die_if_armed(name, "after");
        }
        applied
    }

    fn check_config(&self, spec: &IntegrationSpec) -> Vec<Problem> {
        self.inner.check_config(spec)
    }

    fn check_data_source(&self, spec: &IntegrationSpec, request: &DataSourceRequest) -> Result<(), Problem> {
        self.inner.check_data_source(spec, request)
    }

    async fn register_data_source(
        &self,
        spec: &IntegrationSpec,
        state: Option<&Value>,
        request: &DataSourceRequest,
    ) -> Result<Applied, PlatformError> {
        self.inner.register_data_source(spec, state, request).await
    }
}
