//! Warden's validation engine: the per-platform test [`catalogue`] as data, and [`validate`],
//! the runner. The runner runs the connection test first; when it fails, every test that
//! needs a connection is skipped, not failed. The rest run concurrently (bounded), each
//! under its own timeout; a check that panics fails alone. Results come back in catalogue
//! order, aggregated by the model's rule.

mod catalogue;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use warden_model::{IntegrationSpec, TestResult, TestStatus, ValidationResults};
pub use warden_platform::Phase;
use warden_platform::{CheckOutcome, Platform};

pub use catalogue::{Applies, Needs, TestDef, catalogue};

/// How the runner runs.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// The longest one check may take.
    pub per_test_timeout: Duration,
    /// How many checks run at once.
    pub concurrency: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { per_test_timeout: Duration::from_secs(30), concurrency: 4 }
    }
}

fn result(def: &TestDef, status: TestStatus, message: Option<String>) -> TestResult {
    TestResult { name: def.name.to_owned(), status, message, result: None }
}

/// Runs one check under the timeout, in its own task so that a panic stays inside it.
async fn run_one(
    platform: Arc<dyn Platform>,
    spec: Arc<IntegrationSpec>,
    phase: Phase,
    def: TestDef,
    timeout: Duration,
) -> TestResult {
    let task = tokio::spawn({
        let (platform, spec) = (Arc::clone(&platform), Arc::clone(&spec));
        async move {
            match def.answered_from_config(&spec) {
                Some(outcome) => Ok(outcome),
                None => platform.check(def.name, &spec, phase).await,
            }
        }
    });
    let abort = task.abort_handle();
    let with_detail = |detail: &str| def.failure_message(&spec, detail);
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(Ok(CheckOutcome::Passed))) => result(&def, TestStatus::Passed, None),
        Ok(Ok(Ok(CheckOutcome::Warning(detail)))) => result(&def, TestStatus::Warning, Some(detail)),
        Ok(Ok(Ok(CheckOutcome::Failed(detail)))) => result(&def, TestStatus::Failed, Some(with_detail(&detail))),
        Ok(Ok(Err(error))) => result(&def, TestStatus::Failed, Some(with_detail(&error.to_string()))),
        Ok(Err(join_error)) => {
            tracing::error!(test = def.name, error = %join_error, "validation check crashed");
            result(
                &def,
                TestStatus::Failed,
                Some(with_detail("The check crashed inside Warden; the server log has the detail.")),
            )
        }
        Err(_) => {
            abort.abort();
            let secs = timeout.as_secs_f64();
            result(&def, TestStatus::Failed, Some(with_detail(&format!("The check did not finish within {secs} s."))))
        }
    }
}

/// Runs every test of the spec's platform against `platform`.
pub async fn validate(
    platform: Arc<dyn Platform>,
    spec: Arc<IntegrationSpec>,
    phase: Phase,
    options: RunOptions,
) -> ValidationResults {
    let defs = catalogue(spec.integration_type());
    let mut results: Vec<Option<TestResult>> = vec![None; defs.len()];
    for (slot, def) in results.iter_mut().zip(defs) {
        if let Some(why) = def.not_applicable_because(&spec, phase) {
            *slot = Some(result(def, TestStatus::Skipped, Some(why.to_owned())));
        }
    }
    let mut connected = true;
    for (i, def) in defs.iter().enumerate() {
        if def.needs == Needs::IsConnectionTest && results[i].is_none() {
            let outcome =
                run_one(Arc::clone(&platform), Arc::clone(&spec), phase, *def, options.per_test_timeout).await;
            connected = outcome.status != TestStatus::Failed;
            results[i] = Some(outcome);
        }
    }
    if !connected {
        for (slot, def) in results.iter_mut().zip(defs) {
            if slot.is_none() && def.needs == Needs::Connection {
                *slot = Some(result(def, TestStatus::Skipped, Some("Not run: the connection test failed.".into())));
            }
        }
    }
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut running = JoinSet::new();
    for (i, def) in defs.iter().enumerate().filter(|(i, _)| results[*i].is_none()) {
        let (platform, spec, permits, def) = (Arc::clone(&platform), Arc::clone(&spec), Arc::clone(&permits), *def);
        running.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, run_one(platform, spec, phase, def, options.per_test_timeout).await)
        });
    }
    while let Some(joined) = running.join_next().await {
        if let Ok((i, outcome)) = joined {
            results[i] = Some(outcome);
        }
    }
    let tests = results
        .into_iter()
        .zip(defs)
        .map(|(r, def)| {
            r.unwrap_or_else(|| {
                result(def, TestStatus::Failed, Some(format!("{} The check could not be run.", def.message)))
            })
        })
        .collect();
    ValidationResults::from_tests(tests)
}
