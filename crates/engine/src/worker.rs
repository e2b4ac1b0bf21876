//! The worker: claims jobs (its own pinned ones, and queued ones any process may run), runs
//! each under a renewed lease, moves the integration on through the state machine, and
//! recovers what a stopped process left behind. On shutdown it lets running jobs finish
//! for a grace period, then parks the rest: their integrations get the error status and the
//! recovery message, so nothing stays in a transitional status.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use warden_lifecycle::{Operation, Setup, recovery_message};
use warden_model::{IntegrationSpec, Status};
use warden_platform::{Applied, Change, Platform, PlatformError};
use warden_store::{Job, StoredIntegration};

use crate::{Engine, EngineError, FailurePoint};

impl Engine {
    /// Recovery before serving: on a store only this process uses (SQLite), every running
    /// job belongs to a process that is gone, so its lease is expired now; then every job
    /// whose holder stopped is recovered, and every integration stranded in a transitional
    /// status gets its error status. Queued jobs are left for the worker.
    pub async fn recover_on_start(&self) -> Result<(), EngineError> {
        if self.store.is_embedded() {
            let expired = self.store.expire_all_leases().await?;
            if expired > 0 {
                tracing::warn!(jobs = expired, "jobs were running when Warden last stopped");
            }
            // No request is in flight yet and no other process shares the store: whatever
            // is transitional without a job is stranded now.
            return self.recover_stranded(Duration::ZERO).await;
        }
        self.recover_stranded(self.options.lease).await
    }

    /// Recovers the integrations left transitional without a job for longer than
    /// `settle_time` (a request in flight changes the status a moment before it queues
    /// the job).
    async fn recover_stranded(&self, settle_time: Duration) -> Result<(), EngineError> {
        for integration in self.store.stranded_integrations(settle_time).await? {
            self.recover(&integration).await?;
        }
        Ok(())
    }

    /// Gives an integration interrupted in a transitional status its error status and the
    /// message saying what happened and what to do.
    async fn recover(&self, integration: &StoredIntegration) -> Result<(), EngineError> {
        if let Some(message) = recovery_message(integration.status, integration.id, self.setup_of(&integration.spec)) {
            tracing::warn!(integration = %integration.id, status = %integration.status, "recovering an interrupted operation");
            self.settle(integration, Operation::RecoverAfterCrash, Some(&message), None).await?;
        }
        Ok(())
    }

    /// Runs jobs until `shutdown` turns true, then finishes or parks the running ones.
    pub async fn run_worker(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(mut pinned) = self.pinned_jobs.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            tracing::error!("the worker is already running");
            return;
        };
        let mut running = JoinSet::new();
        let mut in_flight: HashMap<tokio::task::Id, Job> = HashMap::new();
        let mut sweep = tokio::time::interval(self.options.lease);
        loop {
            while running.len() < self.options.max_running_jobs.max(1) {
                match self.store.claim_job(&self.options.worker_id, self.options.lease).await {
                    Ok(Some(job)) => {
                        tracing::debug!(job = job.id, integration = %job.integration_id, attempts = job.attempts, "claimed a job");
                        spawn(&self, &mut running, &mut in_flight, job);
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::error!(%error, "could not claim a job");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = shutdown.changed() => break,
                Some(job) = pinned.recv() => spawn(&self, &mut running, &mut in_flight, job),
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.options.poll_interval) => {}
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    finished(&mut in_flight, done);
                }
                _ = sweep.tick() => {
                    if let Err(error) = self.recover_stranded(self.options.lease).await {
                        tracing::error!(%error, "could not look for stranded integrations");
                    }
                }
            }
        }
        self.park(running, in_flight, pinned).await;
    }

    async fn park(
        &self,
        mut running: JoinSet<()>,
        mut in_flight: HashMap<tokio::task::Id, Job>,
        mut pinned: tokio::sync::mpsc::UnboundedReceiver<Job>,
    ) {
        tracing::info!(jobs = running.len(), "waiting for running jobs before stopping");
        let grace = tokio::time::sleep(self.options.shutdown_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                done = running.join_next_with_id() => match done {
                    Some(done) => finished(&mut in_flight, done),
                    None => break,
                },
                () = &mut grace => {
                    running.abort_all();
                    while let Some(done) = running.join_next_with_id().await {
                        finished(&mut in_flight, done);
                    }
                    break;
                }
            }
        }
        pinned.close();
        let mut interrupted: Vec<Job> = in_flight.into_values().collect();
        while let Ok(job) = pinned.try_recv() {
            interrupted.push(job);
        }
        for job in interrupted {
            tracing::warn!(job = job.id, integration = %job.integration_id, "parking a job interrupted by the shutdown");
            self.forget_privileged(job.id);
            match self.existing(job.integration_id).await {
                Ok(integration) => {
                    if let Err(error) = self.recover(&integration).await {
                        tracing::error!(%error, "could not park an interrupted job");
                    }
                }
                Err(error) => tracing::error!(%error, "could not park an interrupted job"),
            }
            if let Err(error) = self.store.complete_job(job.id, &self.options.worker_id).await {
                tracing::error!(%error, "could not close an interrupted job");
            }
        }
    }

    fn forget_privileged(&self, job: i64) -> Option<Arc<IntegrationSpec>> {
        self.privileged.lock().unwrap_or_else(PoisonError::into_inner).remove(&job)
    }

    /// Runs one claimed job to its end under a renewed lease.
    async fn run_job(self: Arc<Self>, job: Job) {
        let renewer = tokio::spawn({
            let engine = Arc::clone(&self);
            let job_id = job.id;
            async move {
                let every = engine.options.lease / 3;
                loop {
                    tokio::time::sleep(every).await;
                    match engine.store.renew_lease(job_id, &engine.options.worker_id, engine.options.lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!(job = job_id, "lost the lease of a running job");
                            return;
                        }
                        Err(error) => tracing::warn!(job = job_id, %error, "could not renew a job's lease"),
                    }
                }
            }
        });
        let _stop_renewing = AbortOnDrop(renewer);
        let privileged = self.forget_privileged(job.id);
        let started = std::time::Instant::now();
        let executed = self.execute(&job, privileged.as_deref()).await;
        if let Err(error) = &executed {
            tracing::error!(job = job.id, integration = %job.integration_id, %error, "a job failed inside Warden");
        }
        if let Ok(Some(shown)) = self.store.shown(job.integration_id).await {
            let outcome = if executed.is_ok() { shown.summary.status.as_str() } else { "failed" };
            let labels = crate::metrics::JobLabels {
                platform: shown.summary.integration_type.wire_name().to_owned(),
                operation: job.kind.clone(),
                outcome: outcome.to_owned(),
            };
            self.metrics.job(&labels, started.elapsed().as_secs_f64());
        }
        match self.store.complete_job(job.id, &self.options.worker_id).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job = job.id, "a job finished after its lease was taken over"),
            Err(error) => tracing::error!(job = job.id, %error, "could not mark a job done"),
        }
    }

    async fn execute(&self, job: &Job, privileged: Option<&IntegrationSpec>) -> Result<(), EngineError> {
        let Some(integration) = self.store.get_integration(job.integration_id).await? else {
            return Ok(());
        };
        let Some(platform) = self.platforms.get(integration.spec.integration_type()) else {
            let message = "This version of Warden has no adapter for this platform.";
            self.settle(&integration, Operation::Failed, Some(message), None).await?;
            return Ok(());
        };
        let needs_privileged = platform.descriptor().needs_privileged(&integration.spec);
        if job.attempts > 1 || (needs_privileged && privileged.is_none()) {
            // The process that held this job stopped (or its credentials are gone with it).
            return self.recover(&integration).await;
        }
        if !integration.status.is_transitional() {
            tracing::info!(job = job.id, status = %integration.status, "skipping a job whose integration moved on");
            return Ok(());
        }
        tracing::info!(job = job.id, integration = %integration.id, kind = %job.kind, "running a job");
        match job.kind.as_str() {
            "create" => self.run_create(&platform, &integration, privileged).await,
            "edit" => match &job.input {
                Some(to) => self.run_edit(&platform, &integration, to, privileged).await,
                None => {
                    let message = "The edit job lost its new configuration; send the PUT again.";
                    self.settle(&integration, Operation::Failed, Some(message), None).await.map(drop)
                }
            },
            "delete" => self.run_delete(&platform, &integration, privileged, false).await,
            "migrate" => self.run_migrate(&platform, &integration).await,
            "cleanup" => self.run_delete(&platform, &integration, privileged, true).await,
            other => {
                tracing::error!(job = job.id, kind = other, "unknown job kind");
                self.recover(&integration).await
            }
        }
    }

    /// Makes a change on the platform under the change deadline: a platform that hangs
    /// leaves the integration in its error status, never in a transitional one.
    async fn apply(&self, platform: &Arc<dyn Platform>, change: Change<'_>) -> Result<Applied, PlatformError> {
        let limit = self.options.change_timeout;
        match tokio::time::timeout(limit, crate::secret_refs::apply_resolved(&self.options.secrets, platform, change))
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::warn!(change = change.name(), limit_secs = limit.as_secs(), "a change passed its deadline");
                Err(PlatformError::Timeout(limit))
            }
        }
    }

    async fn run_create(
        &self,
        platform: &Arc<dyn Platform>,
        integration: &StoredIntegration,
        privileged: Option<&IntegrationSpec>,
    ) -> Result<(), EngineError> {
        let (id, spec) = (integration.id, &integration.spec);
        // What is left of the failed attempt: `Ok` when nothing is (a failed setup rolls back
        // what this attempt created itself; only it knows which objects those are), `Err`
        // with the reason when removing it failed.
        self.failure_point(FailurePoint::BeforeChange)?;
        let applied = self.apply(platform, Change::Create { spec, privileged }).await;
        // What the setup made is remembered before anything else can stop the job.
        let state = match &applied {
            Ok(Applied { state: Some(state) }) => {
                self.store.set_platform_state(id, Some(state)).await?;
                Some(state)
            }
            _ => integration.platform_state.as_ref(),
        };
        self.failure_point(FailurePoint::AfterChange)?;
        let (failure, left) = match &applied {
            Ok(_) if privileged.is_none() => (None, Ok(())),
            Ok(_) => {
                let results = self.validate_stored(platform, spec, id).await;
                self.record_validation(id, &results).await;
                if results.failed() {
                    let failed: Vec<&str> = results
                        .validation_tests
                        .iter()
                        .filter(|t| t.status == warden_model::TestStatus::Failed)
                        .map(|t| t.name.as_str())
                        .collect();
                    let failure = format!("The setup ran, but validation failed afterwards ({}).", failed.join(", "));
                    // The setup ran to its end, so every object it names is this attempt's.
                    let cleanup = Change::Cleanup { spec, privileged, state };
                    let left = self.apply(platform, cleanup).await.map(drop).map_err(|e| e.to_string());
                    (Some(failure), left)
                } else {
                    (None, Ok(()))
                }
            }
            Err(error) => {
                let left = match error.rollback_failure() {
                    Some(reason) => Err(reason.to_owned()),
                    None => Ok(()),
                };
                (Some(format!("The setup on the platform failed: {}.", error.cause())), left)
            }
        };
        let Some(failure) = failure else {
            self.store.set_objects_version(id, platform.descriptor().objects_version).await?;
            self.settle(integration, Operation::Succeeded, None, None).await?;
            return Ok(());
        };
        let message = match (privileged, left) {
            (None, _) => format!("{failure} Fix the cause and send PUT /integrations/{id} to try again."),
            (Some(_), Ok(())) => format!(
                "{failure} Warden removed what it had created, and nothing else. Fix the cause and send PUT /integrations/{id} with the privileged credentials to try again."
            ),
            (Some(_), Err(reason)) => format!(
                "{failure} Removing what it had created failed as well ({reason}): send DELETE /integrations/{id} with the privileged credentials, or generate the cleanup script (POST /integrations/{id}/scripts/cleanup), which removes only what Warden creates, and run it; then send PUT /integrations/{id} with the privileged credentials to try again."
            ),
        };
        self.settle(integration, Operation::Failed, Some(&message), None).await?;
        Ok(())
    }

    async fn run_edit(
        &self,
        platform: &Arc<dyn Platform>,
        integration: &StoredIntegration,
        to: &IntegrationSpec,
        privileged: Option<&IntegrationSpec>,
    ) -> Result<(), EngineError> {
        self.failure_point(FailurePoint::BeforeChange)?;
        // Objects set up by an earlier version are brought up to date first (a PUT is how an
        // automatic setup gives the credentials a migration needs).
        let state = match self.bring_objects_up_to_date(platform, integration, privileged).await {
            Ok(state) => state,
            Err(error) => {
                let message = format!(
                    "Updating its platform objects for this version of Warden failed: {error}. The previous configuration and objects are still in force; fix the cause and send the PUT again."
                );
                return self.settle(integration, Operation::Failed, Some(&message), None).await.map(drop);
            }
        };
        let state = state.as_ref();
        let applied = self.apply(platform, Change::Edit { from: &integration.spec, to, privileged, state }).await;
        if let Ok(Applied { state: Some(state) }) = &applied {
            self.store.set_platform_state(integration.id, Some(state)).await?;
        }
        self.failure_point(FailurePoint::AfterChange)?;
        match applied {
            Ok(_) => self.settle(integration, Operation::Succeeded, None, Some(to)).await.map(drop),
            Err(error) => {
                let message = format!(
                    "The edit failed on the platform: {error}. The previous configuration is still in force; fix the cause and send the PUT again."
                );
                self.settle(integration, Operation::Failed, Some(&message), None).await.map(drop)
            }
        }
    }

    /// Removes an integration from the platform: its delete script, or for one whose create
    /// failed (`after_failed_create`) the cleanup, which removes whatever part exists.
    async fn run_delete(
        &self,
        platform: &Arc<dyn Platform>,
        integration: &StoredIntegration,
        privileged: Option<&IntegrationSpec>,
        after_failed_create: bool,
    ) -> Result<(), EngineError> {
        let (spec, state) = (&integration.spec, integration.platform_state.as_ref());
        let change = if after_failed_create {
            Change::Cleanup { spec, privileged, state }
        } else {
            Change::Delete { spec, privileged, state }
        };
        self.failure_point(FailurePoint::BeforeChange)?;
        let applied = self.apply(platform, change).await;
        self.failure_point(FailurePoint::AfterChange)?;
        match applied {
            Ok(_) => {
                // What the platform had of the integration is gone, and so is its state. Its
                // data sources go with it: marked deleted (they still answer, in that state,
                // until a DELETE of each removes it); a removal that fails leaves them as they
                // were, with the integration.
                self.store.set_platform_state(integration.id, None).await?;
                if platform.descriptor().data_sources {
                    let marked = self.store.mark_data_sources_deleted(integration.id, None).await?;
                    tracing::info!(integration = %integration.id, data_sources = marked, "data sources marked deleted with their integration");
                }
                self.settle(integration, Operation::Succeeded, None, None).await?;
                self.store.revoke_integration_keys(integration.id, None).await?;
                Ok(())
            }
            Err(error) => {
                let id = integration.id;
                let again = if self.setup_of(spec) == Setup::WithPrivilegedCredentials {
                    "send DELETE /integrations/{id} again with the privileged credentials (it skips what is already gone)"
                } else {
                    "send DELETE /integrations/{id} again"
                };
                let message = format!(
                    "The removal failed on the platform: {error}. The integration is left as it was; fix the cause and {}, or run the delete script (POST /integrations/{id}/scripts/delete) by hand.",
                    again.replace("{id}", &id.to_string())
                );
                self.settle(integration, Operation::Failed, Some(&message), None).await.map(drop)
            }
        }
    }
}

impl Engine {
    /// Migrates what an earlier version of the adapter created for `integration`, when it
    /// is older than the adapter's, and records the new version (and state). Returns the
    /// platform state in force afterwards.
    async fn bring_objects_up_to_date(
        &self,
        platform: &Arc<dyn Platform>,
        integration: &StoredIntegration,
        privileged: Option<&IntegrationSpec>,
    ) -> Result<Option<serde_json::Value>, PlatformError> {
        let (from, to) = (integration.objects_version, platform.descriptor().objects_version);
        if from >= to {
            return Ok(integration.platform_state.clone());
        }
        let state = integration.platform_state.as_ref();
        let spec = &integration.spec;
        let applied = self.apply(platform, Change::Migrate { spec, from, privileged, state }).await?;
        let recorded = async {
            if let Some(state) = &applied.state {
                self.store.set_platform_state(integration.id, Some(state)).await?;
            }
            self.store.set_objects_version(integration.id, to).await
        };
        recorded
            .await
            .map_err(|e| PlatformError::other(format!("the migration ran, but Warden could not record it: {e}")))?;
        tracing::info!(integration = %integration.id, from, to, "platform objects migrated");
        Ok(applied.state.or_else(|| integration.platform_state.clone()))
    }

    /// The `migrate` job: brings an integration's platform objects up to date, then back to
    /// `enabled`; on failure `migrateError`, with the objects it had still in force.
    async fn run_migrate(
        &self,
        platform: &Arc<dyn Platform>,
        integration: &StoredIntegration,
    ) -> Result<(), EngineError> {
        self.failure_point(FailurePoint::BeforeChange)?;
        let migrated = self.bring_objects_up_to_date(platform, integration, None).await.map(drop);
        self.failure_point(FailurePoint::AfterChange)?;
        match migrated {
            Ok(()) => self.settle(integration, Operation::Succeeded, None, None).await.map(drop),
            Err(error) => {
                let id = integration.id;
                let message = format!(
                    "Updating its platform objects for this version of Warden failed: {error}. It keeps working with its previous objects. Fix the cause, then send PUT /integrations/{id} with its current configuration (the edit migrates first), or restart Warden (the migration runs again at start)."
                );
                self.settle(integration, Operation::Failed, Some(&message), None).await.map(drop)
            }
        }
    }

    /// At start: every integration in use whose platform objects an earlier version of its
    /// adapter made is migrated. One set up with privileged credentials cannot be (Warden
    /// never stores them): it gets `migrateError` with the request that migrates it.
    /// Returns how many integrations were outdated.
    pub async fn migrate_outdated(&self) -> Result<usize, EngineError> {
        let mut outdated = 0;
        let mut candidates = Vec::new();
        for descriptor in self.platforms.descriptors() {
            let found = self
                .store
                .integrations_with_objects_below(descriptor.integration_type, descriptor.objects_version)
                .await?;
            candidates.extend(found.into_iter().map(|integration| (descriptor, integration)));
        }
        for (descriptor, integration) in candidates {
            if !matches!(integration.status, Status::Enabled | Status::RecurringValidationError | Status::MigrateError)
            {
                continue; // one in an operation or its error is migrated at a later start, once working again
            }
            outdated += 1;
            let waits_for_credentials = descriptor.needs_privileged(&integration.spec);
            if waits_for_credentials && integration.status == Status::MigrateError {
                continue; // told already
            }
            let migrating = self.settle(&integration, Operation::Migrate, None, None).await?;
            if migrating.status != Status::Migrating {
                continue; // someone changed it meanwhile
            }
            if waits_for_credentials {
                let id = integration.id;
                let message = format!(
                    "This version of Warden changes the objects it creates on the platform (version {} to {}), and updating them needs the privileged credentials, which Warden never stores. It keeps working with its current objects; send PUT /integrations/{id} with its configuration and the privileged credentials to update them.",
                    integration.objects_version, descriptor.objects_version
                );
                self.settle(&migrating, Operation::Failed, Some(&message), None).await?;
            } else {
                self.start_job(&migrating, "migrate", None, None).await?;
            }
        }
        if outdated > 0 {
            tracing::info!(integrations = outdated, "integrations set up by an earlier version are being migrated");
        }
        Ok(outdated)
    }
}

fn spawn(engine: &Arc<Engine>, running: &mut JoinSet<()>, in_flight: &mut HashMap<tokio::task::Id, Job>, job: Job) {
    let handle = running.spawn(Arc::clone(engine).run_job(job.clone()));
    in_flight.insert(handle.id(), job);
}

fn finished(
    in_flight: &mut HashMap<tokio::task::Id, Job>,
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    match done {
        Ok((id, ())) => {
            in_flight.remove(&id);
        }
        Err(error) if error.is_panic() => {
            // A panicking job is treated like a stopped process: the sweep recovers its
            // integration once the lease expires.
            tracing::error!(%error, "a job panicked");
            in_flight.remove(&error.id());
        }
        Err(_cancelled) => {} // aborted at shutdown: stays in flight, to be parked
    }
}

/// Aborts a task when dropped (the lease renewer of a job).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
