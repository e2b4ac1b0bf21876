//! The contract every platform adapter implements, and the only thing the engine knows about
//! a platform:
//!
//! - a [`Descriptor`] (data): the integration type, how an automatic setup is made
//!   ([`SetupModel`]), what a DELETE body may carry, which fields an edit may not change,
//!   whether the platform calls Warden back with a key, whether it has data sources;
//! - checks by typed [`TestId`] (the [`catalogue`] of the API reference §4), each given a
//!   [`CheckContext`]: the config, the phase, the [`Session`] the runner opened for the run,
//!   and a read-only [`Registry`] of Warden's own records. A check passes, warns, fails (with
//!   values for its message) or aborts the request with an error code;
//! - changes ([`Change`]) that return what they made ([`Applied`]: platform state Warden
//!   stores with the integration and hands back to later changes);
//! - data-source registration, for the platforms that have data sources.
//!
//! Errors are typed ([`PlatformError`], [`ErrorKind`]); none carries a secret.

pub mod catalogue;
mod context;
mod error;
mod idle;
pub mod reach;

use async_trait::async_trait;
use serde_json::Value;
use warden_model::{ErrorCode, IntegrationSpec, IntegrationType, Problem};

pub use catalogue::{Applies, Needs, TestDef, TestId, catalogue};
pub use context::{CheckContext, DataSource, NoRecords, Registered, Registry, Session};
pub use error::{ErrorKind, PlatformError};
pub use idle::{IdleCache, Reusable};

/// What a check found, when it could run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The check held.
    Passed,
    /// The check held, and the platform said something worth showing with it (S3's `Found
    /// user ID [...], ARN [...] using STS.`).
    PassedWith(String),
    /// Worth a look, not blocking; the text is the platform's detail.
    Warning(String),
    /// The check did not hold.
    Failed(Failure),
    /// The request cannot go on at all (not a failed test but a failed request): the engine
    /// answers with this error code instead of validation results (Databricks' 422
    /// `Processing Error: Error trying to get the current metastore info.`).
    Abort(ErrorCode),
}

impl CheckOutcome {
    /// A failure with the platform's own `detail` and no values.
    pub fn failed(detail: impl Into<String>) -> Self {
        Self::Failed(Failure::new(detail))
    }
}

/// What a failed check reports: the platform's own text (appended to the reference message)
/// and the values the reference message names (`{id}` in `... used by S3 integration with ID
/// {id}.`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    /// The platform's own text.
    pub detail: String,
    /// Values for the message's `{placeholders}`, by name.
    pub values: Vec<(&'static str, String)>,
}

impl Failure {
    /// A failure with this detail.
    pub fn new(detail: impl Into<String>) -> Self {
        Self { detail: detail.into(), values: Vec::new() }
    }

    /// The same failure with `{name}` in the message standing for `value`.
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl std::fmt::Display) -> Self {
        self.values.push((name, value.to_string()));
        self
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
/// one-time privileged credentials of an automatic setup (the API reference §2.1) for a platform whose
/// setup model is [`SetupModel::PrivilegedOnce`]: the adapter uses them for this call only and
/// must not keep them. `state` is what the adapter's last change returned ([`Applied`]),
/// as Warden stored it.
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
        /// The platform state stored with the integration.
        state: Option<&'a Value>,
    },
    /// Remove what a successful setup created.
    Delete {
        /// The config in force.
        spec: &'a IntegrationSpec,
        /// The privileged credentials, for automatic setup.
        privileged: Option<&'a IntegrationSpec>,
        /// The platform state stored with the integration.
        state: Option<&'a Value>,
    },
    /// Bring what an earlier version of the adapter created (`from`, a
    /// [`Descriptor::objects_version`]) up to what this version creates, for the config in
    /// force. Only asked of an adapter whose `objects_version` is above `from`.
    Migrate {
        /// The config in force.
        spec: &'a IntegrationSpec,
        /// The objects version the integration was set up (or last migrated) with.
        from: u32,
        /// The privileged credentials, for automatic setup.
        privileged: Option<&'a IntegrationSpec>,
        /// The platform state stored with the integration.
        state: Option<&'a Value>,
    },
    /// Undo a setup that failed part way.
    Cleanup {
        /// The config that was being set up.
        spec: &'a IntegrationSpec,
        /// The privileged credentials, for automatic setup.
        privileged: Option<&'a IntegrationSpec>,
        /// The platform state stored with the integration, if the failed setup left any.
        state: Option<&'a Value>,
    },
}

impl Change<'_> {
    /// A short name for logs: `create`, `edit`, `delete`, `migrate`, `cleanup`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Edit { .. } => "edit",
            Self::Delete { .. } => "delete",
            Self::Migrate { .. } => "migrate",
            Self::Cleanup { .. } => "cleanup",
        }
    }

    /// The config the change is about (the new one, for an edit).
    pub const fn spec(&self) -> &IntegrationSpec {
        match self {
            Self::Create { spec, .. }
            | Self::Delete { spec, .. }
            | Self::Migrate { spec, .. }
            | Self::Cleanup { spec, .. } => spec,
            Self::Edit { to, .. } => to,
        }
    }

    /// The privileged credentials the change runs with, if any.
    pub const fn privileged(&self) -> Option<&IntegrationSpec> {
        match self {
            Self::Create { privileged, .. }
            | Self::Edit { privileged, .. }
            | Self::Delete { privileged, .. }
            | Self::Migrate { privileged, .. }
            | Self::Cleanup { privileged, .. } => *privileged,
        }
    }
}

/// What a change made that Warden must remember: platform state (the id of an object the
/// platform named, which a later change needs to find it again). Never a secret: secrets
/// belong in the config, where they are encrypted and redacted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The state to store with the integration; `None` keeps what is stored (and a removal
    /// clears it).
    pub state: Option<Value>,
}

impl Applied {
    /// Nothing to remember.
    pub const NOTHING: Self = Self { state: None };

    /// Remember `state`.
    pub const fn with_state(state: Value) -> Self {
        Self { state: Some(state) }
    }
}

/// How a platform is set up with `autoBootstrap: true`, which decides whose credentials a
/// change runs with and what a DELETE body may carry (the API reference §2.1 and 2.4).
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

/// A platform that calls Warden back with an API key Warden issues when the integration is
/// created (Trino's access-control plugin). The key is shown once, in the create's answer,
/// inside the config lines the platform's administrator pastes; it is Warden's, not the
/// platform's, so no change makes it.
#[derive(Debug)]
pub struct CallbackKey {
    /// The config lines that carry `key` for a Warden reachable at `public_url`.
    pub config_lines: fn(public_url: &str, key: &str) -> String,
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
    /// Whether PUT may change the integration at all.
    pub editable: bool,
    /// Whether the platform calls Warden back with a key issued at create.
    pub callback_key: Option<CallbackKey>,
    /// Whether the platform has data sources (the API reference §7).
    pub data_sources: bool,
    /// The version of what the adapter creates on the platform (1 to begin with). A new
    /// Warden that changes those objects bumps it and handles [`Change::Migrate`] from the
    /// versions before: at start, the engine migrates every enabled integration set up with
    /// an older one (status `migrating`, then `enabled` or `migrateError`). Removals must
    /// remove what any earlier version made (they skip what is not there).
    pub objects_version: u32,
}

impl Descriptor {
    /// A descriptor with the defaults most platforms have: editable, no callback key, no
    /// data sources, objects version 1.
    pub const fn new(
        integration_type: IntegrationType,
        setup: SetupModel,
        delete_credential_fields: &'static [&'static str],
    ) -> Self {
        Self {
            integration_type,
            setup,
            delete_credential_fields,
            editable: true,
            callback_key: None,
            data_sources: false,
            objects_version: 1,
        }
    }

    /// Whether changes to `spec` run with privileged credentials from the request.
    pub fn needs_privileged(&self, spec: &IntegrationSpec) -> bool {
        spec.auto_bootstrap && self.setup == SetupModel::PrivilegedOnce
    }
}

/// A data source to register under an integration (the API reference §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceRequest {
    /// Its name, unique within the integration.
    pub name: String,
    /// Where its data lives on the platform (an S3 prefix).
    pub location: String,
}

/// The config an adapter's [`Platform::system_account`] built, read back under the payload
/// rules, so that a name they refuse (a system account longer than the platform allows, say)
/// is refused before the setup, not by the platform half way through it.
pub fn read_back(stored: &IntegrationSpec) -> Result<IntegrationSpec, PlatformError> {
    IntegrationSpec::from_value(&stored.redacted(), Some(&stored.secrets())).map_err(|problems| {
        let first = problems.first().map(|p| format!("{}: {}", p.path, p.message)).unwrap_or_default();
        PlatformError::unsupported(format!("the system account's config does not read back ({first})"))
    })
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

    /// Opens what the checks of one validation run share (a connection, a token), for
    /// `spec` in `phase`. The runner calls it once per run, before the connection test, when
    /// a test that needs a connection applies; an `Err` fails the connection test with the
    /// error and skips the tests that need a connection. The runner closes it with
    /// [`Platform::close`] before the run's results are returned, so no change ever finds a
    /// check's session still open. The default opens nothing.
    async fn open(&self, _spec: &IntegrationSpec, _phase: Phase) -> Result<Session, PlatformError> {
        Ok(Session::none())
    }

    /// Closes a session [`Platform::open`] opened. The default drops it.
    async fn close(&self, session: Session) {
        drop(session);
    }

    /// Runs one check of the catalogue. `Err` means the check could not run; the runner
    /// reports it as failed with the error.
    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError>;

    /// For an automatic setup: the config Warden stores, which names the system account the
    /// setup creates and carries the secret Warden generated for it, in place of the
    /// privileged credentials of `requested`. On an edit, `current` is the stored config, whose
    /// system account (and secret) stays. Called only when the descriptor's setup model is
    /// [`SetupModel::PrivilegedOnce`]; the default stores the request as it is.
    fn system_account(
        &self,
        requested: &IntegrationSpec,
        _current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        Ok(requested.clone())
    }

    /// Makes `change` on the platform. Called for every create, edit and delete; an adapter
    /// whose manual setup needs nothing on the platform returns [`Applied::NOTHING`]. A failed
    /// `Create` removes what it created before it returns (and only that), and reports a
    /// failed removal as [`PlatformError::SetupFailed`]; `Cleanup` and `Delete` skip what is
    /// already gone.
    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError>;

    /// The adapter's own rules about a request's config, beyond the payload schema (how it
    /// may reach the platform, say): each problem names its field and is answered as a 400
    /// before anything is validated or stored. The default has none.
    fn check_config(&self, _spec: &IntegrationSpec) -> Vec<Problem> {
        Vec::new()
    }

    /// Whether `request` may be registered under the integration `spec`, before anything is
    /// asked of the platform: a problem names the request's field (`location`) and says
    /// what is wrong. Only called when the descriptor says the platform has data sources.
    fn check_data_source(&self, _spec: &IntegrationSpec, _request: &DataSourceRequest) -> Result<(), Problem> {
        Ok(())
    }

    /// Registers a data source on the platform; the state it returns is stored with the data
    /// source. The default refuses: the platform has none.
    async fn register_data_source(
        &self,
        _spec: &IntegrationSpec,
        _state: Option<&Value>,
        _request: &DataSourceRequest,
    ) -> Result<Applied, PlatformError> {
        Err(PlatformError::unsupported("this platform has no data sources"))
    }
}
