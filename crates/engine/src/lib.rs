//! Warden's use cases (the API reference §2): list, get, create, update, delete (with `dryRun`
//! and `forceDisable`), status, the callback-key rotation and data-source registration,
//! plus the worker that runs the jobs they queue and the recovery that follows a crash.
//!
//! The engine knows platforms only through the adapter contract (`warden-platform`): it
//! branches on an adapter's [`Descriptor`], never on the integration type.
//!
//! The engine owns the rules; the api crate only decodes requests and encodes answers.
//! Every status change goes through [`warden_lifecycle::decide`]. Privileged credentials of
//! an automatic setup live in this process's memory for one job and are never stored: a
//! job that needs them is claimed by the process that received them, and a job whose
//! process stopped is recovered (error status and a message saying what to do), never
//! re-run without them.

#[cfg(test)]
mod contract_tests;
mod data_sources;
mod delete;
mod error;
#[cfg(test)]
mod failure_points;
pub mod metrics;
mod recurring;
mod registry;
mod requests;
mod scripts;
mod secret_refs;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use warden_lifecycle::{Decision, Operation, Subject, decide};
use warden_model::{ErrorCode, IntegrationId, IntegrationSpec, IntegrationType, Problem, Secret, ValidationResults};
use warden_platform::{CheckContext, Descriptor, Phase, Platform};
pub use warden_secrets::SecretResolver;
use warden_store::{Job, JobOwner, Shown, Store, StoreError, StoredIntegration};
use warden_validation::Aborted;
pub use warden_validation::RunOptions;

pub use error::{EngineError, Rejection};

/// The adapters this build has, by integration type (the server crate registers them).
#[derive(Clone)]
pub struct Platforms {
    by_type: HashMap<IntegrationType, Arc<dyn Platform>>,
}

impl Default for Platforms {
    fn default() -> Self {
        Self::new()
    }
}

impl Platforms {
    /// No adapters.
    pub fn new() -> Self {
        Self { by_type: HashMap::new() }
    }

    /// Adds (or replaces) the adapter for its type.
    #[must_use]
    pub fn with(mut self, platform: Arc<dyn Platform>) -> Self {
        self.by_type.insert(platform.integration_type(), platform);
        self
    }

    /// The adapter for a type, if this build has one.
    pub fn get(&self, integration_type: IntegrationType) -> Option<Arc<dyn Platform>> {
        self.by_type.get(&integration_type).cloned()
    }

    /// The descriptors of every adapter this build has.
    pub fn descriptors(&self) -> impl Iterator<Item = &'static Descriptor> + '_ {
        self.by_type.values().map(|platform| platform.descriptor())
    }

    /// The descriptor of a type's adapter, if this build has one (without taking the
    /// adapter: the views ask for every integration they show).
    pub fn descriptor(&self, integration_type: IntegrationType) -> Option<&'static Descriptor> {
        self.by_type.get(&integration_type).map(|platform| platform.descriptor())
    }
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Validation timeouts and concurrency.
    pub validation: RunOptions,
    /// How long a claimed job stays this worker's without a renewal.
    pub lease: Duration,
    /// How often the worker looks for queued jobs when nothing woke it.
    pub poll_interval: Duration,
    /// How many jobs this process runs at once.
    pub max_running_jobs: usize,
    /// How long a graceful shutdown waits for running jobs before parking them.
    pub shutdown_grace: Duration,
    /// This process's name in job leases (unique per process).
    pub worker_id: String,
    /// How often enabled integrations are validated again (jittered by a tenth).
    pub recheck_interval: Duration,
    /// How many of them are validated at once.
    pub recheck_concurrency: usize,
    /// How many more times a recurring validation that failed only on transient faults
    /// (unreachable, timed out, throttled) is tried before the integration turns red.
    pub recheck_retries: u32,
    /// How long before the first of those tries; each next one waits twice as long.
    pub recheck_retry_delay: Duration,
    /// How long one change on a platform (a setup, an edit, a removal) may take before Warden
    /// stops waiting and gives the integration its error status.
    pub change_timeout: Duration,
    /// Reads the secrets configs keep outside Warden (`secretRef`), under the operator's
    /// allow-list; the default accepts none.
    pub secrets: Arc<SecretResolver>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            validation: RunOptions::default(),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            max_running_jobs: 8,
            shutdown_grace: Duration::from_secs(20),
            worker_id: format!("warden-{}-{}", std::process::id(), random_suffix()),
            recheck_interval: Duration::from_secs(3600),
            recheck_concurrency: 4,
            recheck_retries: 2,
            recheck_retry_delay: Duration::from_secs(5),
            change_timeout: Duration::from_secs(900),
            secrets: Arc::new(SecretResolver::default()),
        }
    }
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 4];
    // Without randomness the suffix is zeros; the process id still tells processes apart
    // on one machine.
    let _ = getrandom::fill(&mut bytes);
    warden_model::hex::encode(&bytes)
}

/// Who asked for a change, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// A request authenticated with API key `id` named `name`.
    pub fn api_key(id: i64, name: &str) -> Self {
        Self(format!("api-key:{id}:{name}"))
    }

    /// Warden itself (the worker, recovery).
    pub fn warden() -> Self {
        Self("warden".to_owned())
    }

    /// The name as logged.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a create, update or delete answered.
#[derive(Debug)]
pub enum Outcome {
    /// `dryRun=true`: the validation results; nothing was stored or changed.
    DryRun(ValidationResults),
    /// The change was accepted (and, unless the status says otherwise, runs in the
    /// background).
    Accepted(Box<Accepted>),
}

/// An accepted create, update or delete.
#[derive(Debug)]
pub struct Accepted {
    /// The integration as it is now.
    pub integration: StoredIntegration,
    /// The validation results the change was accepted on.
    pub validation_results: Option<ValidationResults>,
    /// For a new integration whose platform calls Warden back: its key, shown this once.
    pub callback_key: Option<CallbackKeyShown>,
    /// A note for the caller (a force-disable says what is left to do).
    pub message: Option<String>,
}

impl Outcome {
    fn accepted(
        integration: StoredIntegration,
        validation_results: Option<ValidationResults>,
        callback_key: Option<CallbackKeyShown>,
        message: Option<String>,
    ) -> Self {
        Self::Accepted(Box::new(Accepted { integration, validation_results, callback_key, message }))
    }
}

/// The key a platform calls Warden back with (Trino's access-control plugin) and the config
/// lines that carry it, shown once.
#[derive(Debug)]
pub struct CallbackKeyShown {
    /// The key.
    pub api_key: Secret<String>,
    /// The platform's config lines, with the key.
    pub config_lines: Secret<String>,
}

/// The engine.
pub struct Engine {
    store: Arc<Store>,
    platforms: Platforms,
    options: EngineOptions,
    /// Privileged credentials by job id, for the jobs this process runs.
    privileged: Mutex<HashMap<i64, Arc<IntegrationSpec>>>,
    /// Jobs this process claimed for itself at enqueue time.
    pinned: mpsc::UnboundedSender<Job>,
    pinned_jobs: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    /// Wakes the worker when a job is queued.
    wake: Notify,
    /// What `GET /metrics` shows of jobs and validation tests.
    metrics: metrics::EngineMetrics,
    /// Where the worker stops on purpose, as a process that dies there would (tests only).
    #[cfg(test)]
    fail_at: Mutex<Option<FailurePoint>>,
}

/// The points exist in every build so the worker names them; only tests arm them.
#[cfg(not(test))]
#[derive(Debug, Clone, Copy)]
pub(crate) enum FailurePoint {
    /// The job is claimed; nothing has run on the platform.
    BeforeChange,
    /// The change ran on the platform; its outcome is not recorded yet.
    AfterChange,
}

/// A named point in a job where a test can stop the worker, as a process that dies there
/// would stop (after meilisearch's `FailureLocation`).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailurePoint {
    /// The job is claimed; nothing has run on the platform.
    BeforeChange,
    /// The change ran on the platform; its outcome is not recorded yet.
    AfterChange,
}

impl Engine {
    /// An engine over `store` with these adapters.
    pub fn new(store: Arc<Store>, platforms: Platforms, options: EngineOptions) -> Arc<Self> {
        let (pinned, receiver) = mpsc::unbounded_channel();
        Arc::new(Self {
            store,
            platforms,
            options,
            privileged: Mutex::new(HashMap::new()),
            pinned,
            pinned_jobs: Mutex::new(Some(receiver)),
            wake: Notify::new(),
            metrics: metrics::EngineMetrics::default(),
            #[cfg(test)]
            fail_at: Mutex::new(None),
        })
    }

    /// The integration types this build has an adapter for.
    pub fn integration_types(&self) -> Vec<IntegrationType> {
        self.platforms.descriptors().map(|descriptor| descriptor.integration_type).collect()
    }

    /// What the engine counts, for `GET /metrics`.
    pub fn metrics(&self) -> &metrics::EngineMetrics {
        &self.metrics
    }

    /// The store (for the API's key checks and readiness).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The integrations `query` asks for as shown, oldest first (`GET /integrations`). Secrets
    /// are not decrypted to list.
    pub async fn list(&self, query: &warden_store::ListQuery) -> Result<Vec<Arc<Shown>>, EngineError> {
        Ok(self.store.list_shown(query).await?)
    }

    /// One integration as shown, whatever its status (GET's 404 wording).
    pub async fn get(&self, id: IntegrationId) -> Result<Arc<Shown>, EngineError> {
        self.store.shown(id).await?.ok_or_else(|| EngineError::code(ErrorCode::IntegrationNotFound { id }))
    }

    /// One integration, for the routes that change it or read its status (their 404 wording).
    pub(crate) async fn existing(&self, id: IntegrationId) -> Result<StoredIntegration, EngineError> {
        self.store.get_integration(id).await?.ok_or_else(|| EngineError::code(ErrorCode::NoIntegrationFound { id }))
    }

    /// An integration's status (`GET /integrations/{id}/status`), with that route's 404
    /// wording.
    pub async fn status(&self, id: IntegrationId) -> Result<Arc<Shown>, EngineError> {
        self.store.shown(id).await?.ok_or_else(|| EngineError::code(ErrorCode::NoIntegrationFound { id }))
    }

    /// What this build knows about a platform, if it has its adapter.
    pub fn descriptor(&self, integration_type: IntegrationType) -> Option<&'static Descriptor> {
        self.platforms.descriptor(integration_type)
    }

    fn platform(&self, integration_type: IntegrationType) -> Result<Arc<dyn Platform>, EngineError> {
        self.platforms
            .get(integration_type)
            .ok_or_else(|| EngineError::code(ErrorCode::PlatformNotSupported { integration_type }))
    }

    /// A request's config with its secret references read: a reference this server does not
    /// accept, or one that cannot be read, is a 400 naming its field.
    pub(crate) async fn resolve_request(&self, spec: IntegrationSpec) -> Result<IntegrationSpec, EngineError> {
        let refused = self.options.secrets.refusals(&spec);
        if !refused.is_empty() {
            return Err(EngineError::invalid(refused));
        }
        self.options.secrets.resolve(&spec).await.map_err(|error| {
            EngineError::invalid(vec![Problem { path: error.path.clone(), message: error.to_string() }])
        })
    }

    /// Validates `spec` in `phase` (for the integration `id`, once stored). A check that
    /// aborts the run ends it with its error code. The config's secret references are read
    /// first; one that cannot be read fails the connection test with the reason.
    async fn validate(
        &self,
        platform: &Arc<dyn Platform>,
        spec: &IntegrationSpec,
        phase: Phase,
        id: Option<IntegrationId>,
    ) -> Result<ValidationResults, Aborted> {
        let (spec, platform) = match self.options.secrets.resolve(spec).await {
            Ok(resolved) => (resolved, Arc::clone(platform)),
            Err(error) => {
                tracing::info!(field = %error.path, reference = %error.reference, "a secret reference could not be read");
                let unreadable: Arc<dyn Platform> = Arc::new(secret_refs::Unreadable::new(Arc::clone(platform), error));
                (spec.clone(), unreadable)
            }
        };
        let (spec, platform) = (&spec, &platform);
        let context = CheckContext {
            spec: Arc::new(spec.clone()),
            phase,
            integration_id: id,
            session: None,
            registry: Arc::new(registry::StoreRegistry::new(Arc::clone(&self.store))),
        };
        let results = warden_validation::validate(Arc::clone(platform), context, self.options.validation).await;
        if let Ok(results) = &results {
            let platform = spec.integration_type().wire_name();
            for test in &results.validation_tests {
                self.metrics.test(platform, &test.name, test.status.as_str());
            }
        }
        match &results {
            Ok(results) => tracing::debug!(
                integration_type = %spec.integration_type(),
                host = %spec.host(),
                status = ?results.status,
                tests = results.validation_tests.len(),
                "validation finished"
            ),
            Err(aborted) => tracing::info!(
                integration_type = %spec.integration_type(),
                host = %spec.host(),
                test = aborted.test,
                code = aborted.code.name(),
                "validation aborted"
            ),
        }
        results
    }

    /// Validates an integration where no request waits for the answer (after a setup, in
    /// recurring validation): an aborted run is a failed test whose message is the abort's.
    async fn validate_stored(
        &self,
        platform: &Arc<dyn Platform>,
        spec: &IntegrationSpec,
        id: IntegrationId,
    ) -> ValidationResults {
        self.validate(platform, spec, Phase::Installed, Some(id)).await.unwrap_or_else(|aborted| {
            ValidationResults::from_tests(vec![warden_model::TestResult {
                fault: Some(warden_model::Fault::Configuration),
                ..warden_model::TestResult::new(
                    aborted.test,
                    warden_model::TestStatus::Failed,
                    Some(aborted.code.message()),
                )
            }])
        })
    }

    /// The system-account form of an automatic setup's request (what is stored).
    fn stored_form(
        platform: &Arc<dyn Platform>,
        requested: &IntegrationSpec,
        current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, EngineError> {
        if !platform.descriptor().needs_privileged(requested) {
            return Ok(requested.clone());
        }
        platform
            .system_account(requested, current)
            .map_err(|error| EngineError::invalid(vec![Problem { path: "config".into(), message: error.to_string() }]))
    }

    /// The 409/400 for a host that already has an integration in use, if any (for a type
    /// whose integrations can overlap, one that overlaps: the answer names the other's host).
    async fn host_conflict(&self, spec: &IntegrationSpec, except: Option<IntegrationId>) -> Result<(), EngineError> {
        let host = spec.host();
        let on_host = self.store.in_use_on_host(spec.integration_type(), &host).await?;
        let mut candidates: Vec<(IntegrationId, warden_model::Status, String)> =
            on_host.into_iter().map(|(id, status)| (id, status, host.clone())).collect();
        if spec.has_overlaps() {
            let in_use = self.store.integrations_in_use(spec.integration_type()).await?;
            candidates.extend(
                in_use.into_iter().filter(|other| spec.overlaps(&other.spec)).map(|o| (o.id, o.status, o.spec.host())),
            );
        }
        for (id, status, host) in candidates {
            if Some(id) == except {
                continue;
            }
            if let Decision::Refuse(refusal) = decide(status, Operation::Create) {
                let subject = Subject { id, status, integration_type: spec.integration_type(), host: &host };
                if let Some(code) = refusal.error(&subject) {
                    return Err(EngineError::code(code));
                }
            }
        }
        Ok(())
    }

    /// Stops the job here when a test armed this point: an error that leaves the integration
    /// as a process dying here would.
    #[cfg(test)]
    fn failure_point(&self, point: FailurePoint) -> Result<(), EngineError> {
        let armed = *self.fail_at.lock().unwrap_or_else(PoisonError::into_inner);
        if armed == Some(point) {
            return Err(EngineError::Internal(format!("stopped on purpose at {point:?}")));
        }
        Ok(())
    }

    /// Without tests there are no failure points.
    #[cfg(not(test))]
    #[expect(clippy::unused_self, reason = "the test build's twin reads the armed point")]
    fn failure_point(&self, _point: FailurePoint) -> Result<(), EngineError> {
        Ok(())
    }

    /// Records the latest validation run of an integration (shown as `validationResults`);
    /// a failure to record it is logged, not raised: the run's outcome already took effect.
    ///
    /// When the outcome differs from the run recorded before (the aggregate, or any test's
    /// status), the audit log gets a `validated` entry with both outlines, so `GET /events`
    /// and the status page learn of it; a run that changes nothing writes no entry, so
    /// recurring validation of healthy integrations does not grow the log.
    async fn record_validation(&self, id: IntegrationId, results: &ValidationResults) {
        let value = match serde_json::to_value(results) {
            Ok(value) => value,
            Err(error) => {
                tracing::error!(integration = %id, %error, "could not encode validation results");
                return;
            }
        };
        // Read as shown (the read cache, no secret decrypted): only the results are compared.
        let previous = match self.store.shown(id).await {
            Ok(shown) => shown
                .and_then(|shown| shown.summary.validation_results.clone())
                .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok()),
            Err(error) => {
                tracing::warn!(integration = %id, %error, "could not read the previous validation run");
                None
            }
        };
        if let Err(error) = self.store.record_validation(id, &value).await {
            tracing::error!(integration = %id, %error, "could not record validation results");
            return;
        }
        let (before, after) = (previous.as_ref().map(validation_outline), validation_outline(&value));
        if before.as_ref() != Some(&after) {
            let recorded = self
                .store
                .record_audit(Actor::warden().as_str(), "validated", Some(id), before.as_ref(), Some(&after))
                .await;
            if let Err(error) = recorded {
                tracing::error!(integration = %id, %error, "could not write the audit log");
            }
        }
    }

    /// Records a `dryRun` request in the audit log: who checked what (redacted), and that
    /// nothing changed.
    async fn audit_dry_run(&self, actor: &Actor, action: &str, id: Option<IntegrationId>, spec: &IntegrationSpec) {
        let mut asked = spec.redacted();
        if let Value::Object(map) = &mut asked {
            map.insert("dryRun".into(), Value::Bool(true));
        }
        let recorded = self.store.record_audit(actor.as_str(), action, id, None, Some(&asked)).await;
        if let Err(error) = recorded {
            tracing::error!(%error, "could not write the audit log");
        }
    }

    /// How an integration is set up, as the lifecycle's messages need it.
    fn setup_of(&self, spec: &IntegrationSpec) -> warden_lifecycle::Setup {
        match self.platforms.get(spec.integration_type()) {
            Some(platform) if platform.descriptor().needs_privileged(spec) => {
                warden_lifecycle::Setup::WithPrivilegedCredentials
            }
            _ => warden_lifecycle::Setup::Otherwise,
        }
    }

    /// Queues a job for `integration`. With privileged credentials the job is this
    /// process's alone (claimed at once, the credentials kept in memory for it).
    async fn start_job(
        &self,
        integration: &StoredIntegration,
        kind: &str,
        input: Option<&IntegrationSpec>,
        privileged: Option<IntegrationSpec>,
    ) -> Result<(), EngineError> {
        match privileged {
            Some(privileged) => {
                let owner = JobOwner::Worker(&self.options.worker_id, self.options.lease);
                let id = self.store.enqueue_job(integration.id, kind, input, owner).await?;
                self.privileged.lock().unwrap_or_else(PoisonError::into_inner).insert(id, Arc::new(privileged));
                let job = warden_store::Job {
                    id,
                    integration_id: integration.id,
                    kind: kind.to_owned(),
                    attempts: 1,
                    input: input.cloned(),
                };
                if self.pinned.send(job).is_err() {
                    tracing::warn!(job = id, "the worker is not running; the job is recovered at the next start");
                }
            }
            None => {
                self.store.enqueue_job(integration.id, kind, input, JobOwner::Anyone).await?;
                self.wake.notify_one();
            }
        }
        Ok(())
    }

    /// Moves an integration on by `operation` through the state machine, re-reading it if
    /// someone changed it meanwhile. A refused move (a stale event) changes nothing.
    async fn settle(
        &self,
        integration: &StoredIntegration,
        operation: Operation,
        message: Option<&str>,
        spec: Option<&IntegrationSpec>,
    ) -> Result<StoredIntegration, EngineError> {
        let mut current = integration.clone();
        for _ in 0..3 {
            let next = match decide(current.status, operation) {
                Decision::MoveTo(next) => next,
                Decision::Stay => return Ok(current),
                Decision::Refuse(refusal) => {
                    tracing::info!(integration = %current.id, status = %current.status, ?operation, ?refusal, "dropped a stale status change");
                    return Ok(current);
                }
            };
            match self.store.update_integration(current.id, current.version, next, message, spec).await {
                Ok(moved) => {
                    self.audit(&Actor::warden(), &format!("{operation:?}"), current.id, Some(&current), Some(&moved))
                        .await;
                    return Ok(moved);
                }
                Err(StoreError::VersionConflict { .. }) => current = self.existing(current.id).await?,
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::VersionConflict { id: integration.id }.into())
    }

    /// Writes an audit entry; a failure to write it is logged, not raised, once the change
    /// itself is stored.
    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        id: IntegrationId,
        before: Option<&StoredIntegration>,
        after: Option<&StoredIntegration>,
    ) {
        let state = |i: &StoredIntegration| {
            let mut value = i.spec.redacted();
            if let Value::Object(map) = &mut value {
                map.insert("status".into(), Value::String(i.status.as_str().to_owned()));
                if let Some(message) = &i.status_message {
                    map.insert("message".into(), Value::String(message.clone()));
                }
            }
            value
        };
        let (before_state, after_state) = (before.map(state), after.map(state));
        let recorded = self
            .store
            .record_audit(actor.as_str(), action, Some(id), before_state.as_ref(), after_state.as_ref())
            .await;
        if let Err(error) = recorded {
            tracing::error!(integration = %id, %error, "could not write the audit log");
        }
    }
}

/// What the audit log keeps of a validation run: its aggregate status and each test's.
fn validation_outline(results: &Value) -> Value {
    let tests: serde_json::Map<String, Value> = results["validationTests"]
        .as_array()
        .map(|tests| {
            tests.iter().map(|t| (t["name"].as_str().unwrap_or("?").to_owned(), t["status"].clone())).collect()
        })
        .unwrap_or_default();
    serde_json::json!({"validation": {"status": results["status"], "tests": tests}})
}
