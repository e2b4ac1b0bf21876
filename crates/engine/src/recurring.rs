//! Recurring validation (the API reference §6): every `recheck_interval` (jittered by up to a
//! tenth either way, so several processes and many integrations do not all check at once)
//! each enabled integration is validated again, a bounded number at a time. A run that fails
//! only on transient faults (the platform unreachable, too slow, throttling) is tried again,
//! up to `recheck_retries` more times with a doubling delay, so a blip does not turn an
//! integration red. A run that still fails moves it to `recurringValidationError`, its status
//! message saying whether the fault was transient or one to fix and naming the failing tests;
//! a later passing run moves it back to `enabled`. Each `warden` process runs its own rounds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use warden_lifecycle::Operation;
use warden_model::{Status, TestStatus, ValidationResults};

use crate::{Engine, EngineError};

impl Engine {
    /// Runs validation rounds until `shutdown` turns true.
    pub async fn run_rechecks(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let wait = jittered(self.options.recheck_interval);
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(wait) => {}
            }
            if let Err(error) = Arc::clone(&self).recheck_all().await {
                tracing::error!(%error, "a recurring validation round failed");
            }
        }
    }

    /// One round: validates every enabled integration (and every one in
    /// `recurringValidationError`) and moves its status by the result.
    pub async fn recheck_all(self: Arc<Self>) -> Result<(), EngineError> {
        let due: Vec<_> = self
            .store
            .list_integrations(false)
            .await?
            .into_iter()
            .filter(|i| matches!(i.status, Status::Enabled | Status::RecurringValidationError))
            .collect();
        tracing::debug!(integrations = due.len(), "recurring validation round");
        let permits = Arc::new(Semaphore::new(self.options.recheck_concurrency.max(1)));
        let mut running = JoinSet::new();
        for integration in due {
            let Some(platform) = self.platforms.get(integration.spec.integration_type()) else { continue };
            let (engine, permits) = (Arc::clone(&self), Arc::clone(&permits));
            running.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let (results, tries) = engine.validate_with_retries(&platform, &integration).await;
                let (operation, message) = if results.failed() {
                    (Operation::RecurringCheckFailed, Some(failure_message(&results, tries)))
                } else {
                    (Operation::RecurringCheckPassed, None)
                };
                // The integration may have changed while it was checked; settle re-reads and
                // drops the result when an edit or delete started meanwhile.
                match engine.settle(&integration, operation, message.as_deref(), None).await {
                    // Still checked as it stands: the run is its latest validation.
                    Ok(after) if matches!(after.status, Status::Enabled | Status::RecurringValidationError) => {
                        engine.record_validation(integration.id, &results).await;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::error!(integration = %integration.id, %error, "could not record a recurring validation");
                    }
                }
            });
        }
        while running.join_next().await.is_some() {}
        Ok(())
    }

    /// Validates a stored integration, and again while a run fails only on transient faults
    /// (at most `recheck_retries` more times, waiting `recheck_retry_delay`, then twice as
    /// long each time). Answers the last run and how many runs it took.
    async fn validate_with_retries(
        &self,
        platform: &Arc<dyn warden_platform::Platform>,
        integration: &warden_store::StoredIntegration,
    ) -> (ValidationResults, u32) {
        let mut delay = self.options.recheck_retry_delay;
        let mut tries = 1;
        loop {
            let results = self.validate_stored(platform, &integration.spec, integration.id).await;
            if tries > self.options.recheck_retries || !results.failed_transiently() {
                return (results, tries);
            }
            tracing::info!(integration = %integration.id, tries, "a recurring validation failed on a transient fault; trying again");
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
            tries += 1;
        }
    }
}

/// The status message of a failed recurring validation: which kind of fault it was, what to
/// do, and each failing test with its message.
fn failure_message(results: &ValidationResults, tries: u32) -> String {
    let failing: Vec<String> = results
        .validation_tests
        .iter()
        .filter(|t| t.status == TestStatus::Failed)
        .map(|t| format!("{}: {}", t.name, t.message.as_deref().unwrap_or("failed")))
        .collect();
    let kind = if results.failed_transiently() {
        let times = if tries == 1 { "once".to_owned() } else { format!("{tries} times in a row") };
        format!(
            "a transient fault: the platform could not be reached, did not answer in time or throttled Warden, {times}. Check the platform and the network between it and Warden"
        )
    } else {
        "a configuration error: the platform refused or a check did not hold. Fix the cause (or PUT new credentials)"
            .to_owned()
    };
    format!(
        "Recurring validation failed with {kind}; the next passing run sets the integration back to enabled. {}.",
        failing.join("; ")
    )
}

/// `interval` moved by a random amount of up to a tenth of it either way.
fn jittered(interval: Duration) -> Duration {
    let mut byte = [0u8; 2];
    let _ = getrandom::fill(&mut byte); // without randomness: no jitter
    let unit = f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX); // 0..=1
    interval.mul_f64(0.9 + 0.2 * unit)
}
