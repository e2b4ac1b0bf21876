//! The contract every platform adapter implements: run one validation check against the
//! platform. (Executing setup scripts and sessions join the contract with the script engine
//! and the first adapter.) Errors are typed; none carries a secret.

use async_trait::async_trait;
use warden_model::{IntegrationSpec, IntegrationType};

/// What a check found, when it could run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The check held.
    Passed,
    /// Worth a look, not blocking; the text is the platform's detail.
    Warning(String),
    /// The check did not hold; the text is what the platform said (appended to the
    /// reference message).
    Failed(String),
}

/// Why a check could not run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// No connection could be made.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The platform refused a request or query.
    #[error("the platform answered with an error: {0}")]
    Request(String),
    /// The adapter does not support this configuration (yet).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The adapter has no check of that name.
    #[error("this adapter has no check named {0:?}")]
    UnknownCheck(String),
}

/// A data platform as the validation runner sees it.
#[async_trait]
pub trait Platform: Send + Sync + 'static {
    /// Which integration type this adapter serves.
    fn integration_type(&self) -> IntegrationType;

    /// Runs the check named `test` (a name from the validation catalogue) for `spec`.
    /// `Err` means the check could not run; the runner reports it as failed with the error.
    async fn check(&self, test: &str, spec: &IntegrationSpec) -> Result<CheckOutcome, PlatformError>;
}
