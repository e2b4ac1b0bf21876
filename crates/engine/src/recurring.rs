//! Recurring validation (API.md section 6): every `recheck_interval` (jittered by up to a
//! tenth either way, so several processes and many integrations do not all check at once)
//! each enabled integration is validated again, a bounded number at a time. A failing run
//! moves it to `recurringValidationError` with the failing tests in its status message; a
//! later passing run moves it back to `enabled`. Each `warden` process runs its own rounds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use warden_lifecycle::Operation;
use warden_model::{Status, TestStatus};

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
                let results = engine.validate_stored(&platform, &integration.spec, integration.id).await;
                let (operation, message) = if results.failed() {
                    let failing: Vec<String> = results
                        .validation_tests
                        .iter()
                        .filter(|t| t.status == TestStatus::Failed)
                        .map(|t| format!("{}: {}", t.name, t.message.as_deref().unwrap_or("failed")))
                        .collect();
                    let message = format!(
                        "Recurring validation failed: {}. Fix the cause (or PUT new credentials); the next passing run sets the integration back to enabled.",
                        failing.join("; ")
                    );
                    (Operation::RecurringCheckFailed, Some(message))
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
}

/// `interval` moved by a random amount of up to a tenth of it either way.
fn jittered(interval: Duration) -> Duration {
    let mut byte = [0u8; 2];
    let _ = getrandom::fill(&mut byte); // without randomness: no jitter
    let unit = f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX); // 0..=1
    interval.mul_f64(0.9 + 0.2 * unit)
}
