//! Warden's validation engine: [`validate`], the runner of a platform's tests (the
//! catalogue of the API reference §4 lives with the adapter contract, in `warden-platform`, and
//! is re-exported here).
//!
//! The runner opens the platform's session for the run when a test that needs a connection
//! applies, runs the connection test first, and when the connection fails skips (does not
//! fail) every test that needs one. The rest run concurrently (bounded), each under its own
//! timeout; a check that panics fails alone. A check that aborts ends the run with its error
//! code. The session is closed before the results are returned. Results come back in
//! catalogue order, aggregated by the model's rule.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use tokio::sync::Semaphore;
use warden_model::{ErrorCode, Fault, TestResult, TestStatus, ValidationResults};
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
    TestResult::new(def.name, status, message)
}

/// A failed test: the reference message with `failure`'s values and detail, the detail also
/// as the platform's own words (when there are any), and what kind of fault it is.
fn failed_with(def: &TestDef, failure: &Failure, fault: Fault) -> TestResult {
    let detail = failure.detail.trim();
    TestResult {
        platform_error: (!detail.is_empty()).then(|| detail.to_owned()),
        fault: Some(fault),
        ..result(def, TestStatus::Failed, Some(def.failure_message(failure)))
    }
}

/// A failed test whose detail is Warden's own words (a crash, a check that could not run).
fn failed(def: &TestDef, detail: impl Into<String>) -> TestResult {
    TestResult {
        fault: Some(Fault::Configuration),
        ..result(def, TestStatus::Failed, Some(def.failure_message(&Failure::new(detail))))
    }
}

/// A test failed by a platform error: the error is the platform's words, and its kind tells
/// whether the fault is transient.
fn failed_by(def: &TestDef, error: &PlatformError) -> TestResult {
    let fault = if error.is_transient() { Fault::Transient } else { Fault::Configuration };
    failed_with(def, &Failure::new(error.to_string()), fault)
}

/// One check's result, or the abort it asked for.
type Ran = Result<TestResult, Aborted>;

/// What a check's task ended with: its outcome, or `None` when it passed the timeout (the
/// check's future is dropped inside the task, so nothing of the run outlives it).
type Answer = Option<Result<CheckOutcome, PlatformError>>;

/// Milliseconds since `started`, to the microsecond.
fn millis_since(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The result of a check from what its task answered.
fn judge(def: &TestDef, answer: Answer, timeout: Duration) -> Ran {
    Ok(match answer {
        Some(Ok(CheckOutcome::Passed)) => result(def, TestStatus::Passed, None),
        Some(Ok(CheckOutcome::PassedWith(detail))) => result(def, TestStatus::Passed, Some(detail)),
        Some(Ok(CheckOutcome::Warning(detail))) => result(def, TestStatus::Warning, Some(detail)),
        Some(Ok(CheckOutcome::Failed(failure))) => failed_with(def, &failure, Fault::Configuration),
        Some(Ok(CheckOutcome::Abort(code))) => return Err(Aborted { test: def.name, code }),
        Some(Err(error)) => failed_by(def, &error),
        None => TestResult {
            fault: Some(Fault::Transient),
            ..failed(def, format!("The check did not finish within {} s.", timeout.as_secs_f64()))
        },
    })
}

/// Runs the checks at `indices` concurrently (at most `options.concurrency` at once), each
/// under the timeout, into `results`. They are interleaved on the run's own task rather than
/// spawned, so a run costs no hand-offs between threads; a check that panics is caught and
/// fails alone. An abort drops the others (a dropped check's future is cancelled at once).
async fn run_batch(
    platform: &Arc<dyn Platform>,
    context: &CheckContext,
    defs: &'static [TestDef],
    indices: Vec<usize>,
    results: &mut [Option<TestResult>],
    options: RunOptions,
) -> Result<(), Aborted> {
    let permits = Semaphore::new(options.concurrency.max(1));
    let mut running: FuturesUnordered<_> = indices
        .into_iter()
        .map(|i| {
            let (platform, permits, def) = (Arc::clone(platform), &permits, defs[i]);
            async move {
                let _permit = permits.acquire().await;
                let started = Instant::now();
                let check = tokio::time::timeout(options.per_test_timeout, platform.check(def.id, context));
                let answer = AssertUnwindSafe(check).catch_unwind().await;
                (i, answer, millis_since(started))
            }
        })
        .collect();
    while let Some((i, answer, took)) = running.next().await {
        match answer {
            Ok(answer) => match judge(&defs[i], answer.ok(), options.per_test_timeout) {
                Ok(outcome) => results[i] = Some(TestResult { duration_ms: Some(took), ..outcome }),
                Err(aborted) => return Err(aborted),
            },
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(test = defs[i].name, panic = %why, "validation check crashed");
                results[i] = Some(failed(&defs[i], "The check crashed inside Warden; the server log has the detail."));
            }
        }
    }
    Ok(())
}

/// Opens the run's session under the per-test timeout.
async fn open(
    platform: &Arc<dyn Platform>,
    context: &CheckContext,
    timeout: Duration,
) -> Result<Session, PlatformError> {
    match tokio::time::timeout(timeout, platform.open(&context.spec, context.phase)).await {
        Ok(result) => result,
        Err(_) => Err(PlatformError::Timeout(timeout)),
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
        let started = Instant::now();
        match open(&platform, &context, options.per_test_timeout).await {
            Ok(session) => context.session = Some(Arc::new(session)),
            Err(why) => {
                connected = false;
                let took = millis_since(started);
                for (slot, def) in results.iter_mut().zip(defs) {
                    if slot.is_none() && def.needs == Needs::IsConnectionTest {
                        *slot = Some(TestResult { duration_ms: Some(took), ..failed_by(def, &why) });
                    }
                }
            }
        }
    }
    let outcome = run_checks(&platform, &context, defs, &mut results, connected, options).await;
    if let Some(session) = context.session.take() {
        // Every check's future is gone (finished, timed out or dropped by an abort), so the
        // runner holds the only reference.
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
