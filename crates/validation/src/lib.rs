//! Warden's validation engine: [`validate`], the runner of a platform's tests (the
//! catalogue of API.md section 4 lives with the adapter contract, in `warden-platform`, and
//! is re-exported here).
//!
//! The runner opens the platform's session for the run when a test that needs a connection
//! applies, runs the connection test first, and when the connection fails skips (does not
//! fail) every test that needs one. The rest run concurrently (bounded), each under its own
//! timeout; a check that panics fails alone. A check that aborts ends the run with its error
//! code. The session is closed before the results are returned. Results come back in
//! catalogue order, aggregated by the model's rule.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use warden_model::{ErrorCode, TestResult, TestStatus, ValidationResults};
pub use warden_platform::{Applies, Needs, Phase, TestDef, TestId, catalogue};
use warden_platform::{CheckContext, CheckOutcome, Failure, Platform, PlatformError, Session};

/// How the runner runs.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// The longest one check (and opening the run's session) may take.
    pub per_test_timeout: Duration,
    /// How many checks run at once.
    pub concurrency: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { per_test_timeout: Duration::from_secs(10), concurrency: 4 }
    }
}

/// A run a check ended on purpose: the request fails with `code` instead of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aborted {
    /// The test that aborted.
    pub test: &'static str,
    /// What the request answers.
    pub code: ErrorCode,
}

fn result(def: &TestDef, status: TestStatus, message: Option<String>) -> TestResult {
    TestResult { name: def.name.to_owned(), status, message, result: None, duration_ms: None }
}

fn failed(def: &TestDef, detail: impl Into<String>) -> TestResult {
    result(def, TestStatus::Failed, Some(def.failure_message(&Failure::new(detail))))
}

/// One check's result, or the abort it asked for.
type Ran = Result<TestResult, Aborted>;

/// What a check's task ended with: its outcome, or `None` when it passed the timeout (the
/// check's future is dropped inside the task, so nothing of the run outlives it).
type Answer = Option<Result<CheckOutcome, PlatformError>>;

/// Milliseconds since `started`, rounded up (a check that ran took at least one).
fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros().div_ceil(1000)).unwrap_or(u64::MAX)
}

/// The result of a check from what its task answered.
fn judge(def: &TestDef, answer: Answer, timeout: Duration) -> Ran {
    Ok(match answer {
        Some(Ok(CheckOutcome::Passed)) => result(def, TestStatus::Passed, None),
        Some(Ok(CheckOutcome::PassedWith(detail))) => result(def, TestStatus::Passed, Some(detail)),
        Some(Ok(CheckOutcome::Warning(detail))) => result(def, TestStatus::Warning, Some(detail)),
        Some(Ok(CheckOutcome::Failed(failure))) => result(def, TestStatus::Failed, Some(def.failure_message(&failure))),
        Some(Ok(CheckOutcome::Abort(code))) => return Err(Aborted { test: def.name, code }),
        Some(Err(error)) => failed(def, error.to_string()),
        None => failed(def, format!("The check did not finish within {} s.", timeout.as_secs_f64())),
    })
}

/// Runs the checks at `indices` concurrently (at most `options.concurrency` at once), each
/// in its own task under the timeout so that a panic stays inside it, into `results`. An
/// abort stops the others and waits until they are gone.
async fn run_batch(
    platform: &Arc<dyn Platform>,
    context: &CheckContext,
    defs: &'static [TestDef],
    indices: Vec<usize>,
    results: &mut [Option<TestResult>],
    options: RunOptions,
) -> Result<(), Aborted> {
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut running = JoinSet::new();
    let mut index_of = HashMap::new();
    for i in indices {
        let (platform, context, permits, def) = (Arc::clone(platform), context.clone(), Arc::clone(&permits), defs[i]);
        let handle = running.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let started = Instant::now();
            let answer = tokio::time::timeout(options.per_test_timeout, platform.check(def.id, &context)).await;
            (i, answer.ok(), millis_since(started))
        });
        index_of.insert(handle.id(), i);
    }
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok((i, answer, took)) => match judge(&defs[i], answer, options.per_test_timeout) {
                Ok(outcome) => results[i] = Some(TestResult { duration_ms: Some(took), ..outcome }),
                Err(aborted) => {
                    running.shutdown().await;
                    return Err(aborted);
                }
            },
            Err(join_error) => {
                let Some(&i) = index_of.get(&join_error.id()) else { continue };
                tracing::error!(test = defs[i].name, error = %join_error, "validation check crashed");
                results[i] = Some(failed(&defs[i], "The check crashed inside Warden; the server log has the detail."));
            }
        }
    }
    Ok(())
}

/// Opens the run's session under the per-test timeout.
async fn open(platform: &Arc<dyn Platform>, context: &CheckContext, timeout: Duration) -> Result<Session, String> {
    match tokio::time::timeout(timeout, platform.open(&context.spec, context.phase)).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(PlatformError::Timeout(timeout).to_string()),
    }
}

/// Runs every test of the spec's platform against `platform`. `context` names the config,
/// the phase, the integration (once stored) and the registry; its session is the runner's
/// to open and close.
pub async fn validate(
    platform: Arc<dyn Platform>,
    mut context: CheckContext,
    options: RunOptions,
) -> Result<ValidationResults, Aborted> {
    let (spec, phase) = (Arc::clone(&context.spec), context.phase);
    let defs = catalogue(spec.integration_type());
    let mut results: Vec<Option<TestResult>> = vec![None; defs.len()];
    for (slot, def) in results.iter_mut().zip(defs) {
        if let Some(why) = def.not_applicable_because(&spec, phase) {
            *slot = Some(result(def, TestStatus::Skipped, Some(why.to_owned())));
        }
    }
    let wants_connection = results.iter().zip(defs).any(|(slot, def)| slot.is_none() && def.needs != Needs::Nothing);
    let mut connected = true;
    if wants_connection {
        match open(&platform, &context, options.per_test_timeout).await {
            Ok(session) => context.session = Some(Arc::new(session)),
            Err(why) => {
                connected = false;
                for (slot, def) in results.iter_mut().zip(defs) {
                    if slot.is_none() && def.needs == Needs::IsConnectionTest {
                        *slot = Some(failed(def, why.clone()));
                    }
                }
            }
        }
    }
    let outcome = run_checks(&platform, &context, defs, &mut results, connected, options).await;
    if let Some(session) = context.session.take() {
        // Every check task has ended (a timed-out check's future is dropped inside its
        // task; an abort waits for the others to go), so the runner holds the only reference.
        match Arc::try_unwrap(session) {
            Ok(session) => platform.close(session).await,
            Err(_) => tracing::warn!("a check still held the run's session; it is dropped when that check ends"),
        }
    }
    outcome?;
    let tests = results
        .into_iter()
        .zip(defs)
        .map(|(r, def)| r.unwrap_or_else(|| failed(def, "The check could not be run.")))
        .collect();
    Ok(ValidationResults::from_tests(tests))
}

/// Runs the connection test, then the rest, into `results`.
async fn run_checks(
    platform: &Arc<dyn Platform>,
    context: &CheckContext,
    defs: &'static [TestDef],
    results: &mut [Option<TestResult>],
    connected: bool,
    options: RunOptions,
) -> Result<(), Aborted> {
    let pending = |results: &[Option<TestResult>], wanted: &dyn Fn(&TestDef) -> bool| -> Vec<usize> {
        (0..defs.len()).filter(|i| results[*i].is_none() && wanted(&defs[*i])).collect()
    };
    let connection_tests = pending(results, &|def| def.needs == Needs::IsConnectionTest);
    run_batch(platform, context, defs, connection_tests.clone(), results, options).await?;
    let connected = connected
        && connection_tests.iter().all(|i| results[*i].as_ref().is_some_and(|r| r.status != TestStatus::Failed));
    if !connected {
        for (slot, def) in results.iter_mut().zip(defs) {
            if slot.is_none() && def.needs == Needs::Connection {
                *slot = Some(result(def, TestStatus::Skipped, Some("Not run: the connection test failed.".into())));
            }
        }
    }
    let rest = pending(results, &|_| true);
    run_batch(platform, context, defs, rest, results, options).await
}
