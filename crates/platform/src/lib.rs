//! The contract every platform adapter implements: run one validation check, derive the
//! system account an automatic setup creates, and apply a change (set up, edit, remove,
//! clean up after a failed setup) to the platform. Errors are typed; none carries a secret.

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

/// What kind of failure a platform error is, so that the engine and the adapters decide by
/// kind, never by the platform's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No connection could be made (DNS, refused, TLS, network).
    Unreachable,
    /// The platform refused the credentials.
    Unauthenticated,
    /// The credentials are valid but lack a privilege.
    Forbidden,
    /// The object asked for does not exist (a database, a role, a catalog).
    NotFound,
    /// The object to create exists already.
    AlreadyExists,
    /// The platform asked Warden to slow down.
    Throttled {
        /// How long it asked Warden to wait, when it said.
        retry_after: Option<std::time::Duration>,
    },
    /// The configuration asks for something the adapter does not support (yet).
    Unsupported,
    /// Anything else the platform answered with.
    Other,
}

/// Why a check could not run, or a change failed. None carries a secret: the detail is the
/// platform's own text about what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// The platform (or the way to it) failed, of this kind, with its own words.
    #[error("{}{detail}", kind_prefix(*.kind))]
    Failed {
        /// What kind of failure.
        kind: ErrorKind,
        /// The platform's own text.
        detail: String,
    },
    /// The adapter has no check of that name.
    #[error("this adapter has no check named {0:?}")]
    UnknownCheck(String),
    /// The change did not finish within the deadline Warden gives every change; Warden
    /// stopped waiting for it, so whatever it had done is still there.
    #[error("the platform did not finish within {} s, so Warden stopped waiting", .0.as_secs())]
    Timeout(std::time::Duration),
    /// A setup failed part way, and the adapter removed what that attempt had created (only
    /// that: objects that existed before are never touched); `rollback` says why removing
    /// them failed, when it did.
    #[error("{cause}{}", rollback.as_ref().map(|r| format!(" (and removing what it had created failed: {r})")).unwrap_or_default())]
    SetupFailed {
        /// Why the setup failed.
        cause: Box<PlatformError>,
        /// Why the rollback failed, if it did.
        rollback: Option<String>,
    },
}

fn kind_prefix(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unreachable => "could not connect: ",
        ErrorKind::Unauthenticated => "could not log in: ",
        ErrorKind::Forbidden => "not allowed: ",
        ErrorKind::NotFound => "not found: ",
        ErrorKind::AlreadyExists => "already exists: ",
        ErrorKind::Throttled { .. } => "throttled by the platform: ",
        ErrorKind::Unsupported => "not supported: ",
        ErrorKind::Other => "the platform answered with an error: ",
    }
}

impl PlatformError {
    /// A failure of `kind` with the platform's own `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self::Failed { kind, detail: detail.into() }
    }

    /// No connection could be made.
    pub fn unreachable(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unreachable, detail)
    }

    /// The platform answered with an error of no more specific kind.
    pub fn other(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, detail)
    }

    /// The adapter does not support what the config asks for.
    pub fn unsupported(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, detail)
    }

    /// The kind of failure (`None` for an unknown check; a timed-out change is `None` too).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Failed { kind, .. } => Some(*kind),
            Self::SetupFailed { cause, .. } => cause.kind(),
            Self::UnknownCheck(_) | Self::Timeout(_) => None,
        }
    }

    /// Why a change failed, without what its rollback did.
    pub fn cause(&self) -> &Self {
        match self {
            Self::SetupFailed { cause, .. } => cause,
            other => other,
        }
    }

    /// When a failed setup could not remove what it had created: why.
    pub fn rollback_failure(&self) -> Option<&str> {
        match self {
            Self::SetupFailed { rollback, .. } => rollback.as_deref(),
            Self::Timeout(_) => Some("the setup was stopped part way, so what it created is still there"),
            _ => None,
        }
    }
}

/// When a validation runs. It decides which checks apply and what a check connects with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Checking a request before anything is set up: for an automatic setup the config
    /// carries the privileged credentials and Warden's objects do not exist yet.
    Request,
    /// Checking an integration that is set up (after its setup, on edit, and in recurring
    /// validation), with the credentials it runs with.
    Installed,
    /// Checking before a removal (DELETE), which must also work when the setup is only partly
    /// there (a failed create, or a delete interrupted after it dropped Warden's database):
    /// an automatic setup's privileged credentials connect where the setup started (its
    /// initial database), never to an object the removal may already have taken away.
    Removal,
}

/// A change the engine asks an adapter to make on the platform. `privileged` holds the
/// one-time privileged credentials of an automatic setup (API.md 2.1): the adapter uses them
/// for this call only and must not keep them.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// Set the platform up for `spec` (the config as stored, with the system account).
    Create {
        /// What is stored.
        spec: &'a IntegrationSpec,
        /// The privileged credentials, for automatic setup.
        privileged: Option<&'a IntegrationSpec>,
    },
    /// Move the platform from `from` to `to`.
    Edit {
        /// The config in force.
        from: &'a IntegrationSpec,
        /// The config asked for.
        to: &'a IntegrationSpec,
        /// The privileged credentials, for automatic setup.
        privileged: Option<&'a IntegrationSpec>,
    },
    /// Remove what a successful setup created.
    Delete {
        /// The config in force.
        spec: &'a IntegrationSpec,
        /// The privileged credentials, for automatic setup.
        privileged: Option<&'a IntegrationSpec>,
    },
    /// Undo a setup that failed part way.
    Cleanup {
        /// The config that was being set up.
        spec: &'a IntegrationSpec,
        /// The privileged credentials, for automatic setup.
        privileged: Option<&'a IntegrationSpec>,
    },
}

impl Change<'_> {
    /// A short name for logs: `create`, `edit`, `delete`, `cleanup`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Edit { .. } => "edit",
            Self::Delete { .. } => "delete",
            Self::Cleanup { .. } => "cleanup",
        }
    }
}

/// How a platform is set up with `autoBootstrap: true`, which decides whose credentials a
/// change runs with and what a DELETE body may carry (API.md 2.1 and 2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupModel {
    /// Privileged credentials come with each request that changes the platform, are used
    /// for that one change and never stored (Snowflake, Redshift, Synapse). Warden stores
    /// the system account the setup creates.
    PrivilegedOnce,
    /// Warden's own stored identity makes the changes, so no request carries credentials
    /// (Databricks: the service principal).
    OwnIdentity,
    /// Only manual setup exists (BigQuery, Native S3).
    ManualOnly,
    /// There is nothing to set up on the platform (Trino).
    Nothing,
}

/// What the engine needs to know about a platform, as data.
#[derive(Debug)]
pub struct Descriptor {
    /// The integration type the adapter serves.
    pub integration_type: IntegrationType,
    /// How an automatic setup is made.
    pub setup: SetupModel,
    /// The config fields a DELETE body of an automatic integration may carry, besides its
    /// secret fields: the privileged account's non-secret credentials.
    pub delete_credential_fields: &'static [&'static str],
}

impl Descriptor {
    /// Whether changes to `spec` run with privileged credentials from the request.
    pub fn needs_privileged(&self, spec: &IntegrationSpec) -> bool {
        spec.auto_bootstrap && self.setup == SetupModel::PrivilegedOnce
    }
}

/// A data platform as the validation runner and the engine see it.
#[async_trait]
pub trait Platform: Send + Sync + 'static {
    /// What the engine needs to know about this platform.
    fn descriptor(&self) -> &'static Descriptor;

    /// Which integration type this adapter serves.
    fn integration_type(&self) -> IntegrationType {
        self.descriptor().integration_type
    }

    /// Runs the check named `test` (a name from the validation catalogue) for `spec` in
    /// `phase`. `Err` means the check could not run; the runner reports it as failed with
    /// the error.
    async fn check(&self, test: &str, spec: &IntegrationSpec, phase: Phase) -> Result<CheckOutcome, PlatformError>;

    /// For an automatic setup: the config Warden stores, which names the system account the
    /// setup creates and carries the secret Warden generated for it, in place of the
    /// privileged credentials of `requested`. On an edit, `current` is the stored config, whose
    /// system account (and secret) stays.
    fn system_account(
        &self,
        requested: &IntegrationSpec,
        current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError>;

    /// Makes `change` on the platform. Called for every create, edit and delete; an adapter
    /// whose manual setup needs nothing on the platform returns `Ok(())` for those. A failed
    /// `Create` removes what it created before it returns (and only that), and reports a
    /// failed removal as [`PlatformError::SetupFailed`]; `Cleanup` and `Delete` skip what is
    /// already gone.
    async fn apply(&self, change: Change<'_>) -> Result<(), PlatformError>;
}
