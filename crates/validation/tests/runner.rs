//! The validation runner against a platform written for the tests, whose checks can be told
//! to pass, warn, fail, error, hang or panic. Timeouts are tiny so that a hanging check ends
//! the test quickly; nothing here asserts on elapsed time.

#![allow(clippy::unwrap_used)] // test helpers may panic: a panic is a failed test

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use warden_model::{ErrorCode, IntegrationId, IntegrationSpec, IntegrationType, Status, TestStatus, ValidationResults};
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, DataSource, Descriptor, ErrorKind, Failure, NoRecords, Phase,
    Platform, PlatformError, Registered, Registry, Session, SetupModel, TestId,
};
use warden_validation::{Aborted, RunOptions, catalogue, validate};

#[derive(Clone, Copy)]
enum Behaviour {
    Pass,
    Warn,
    Fail,
    Error,
    Hang,
    Panic,
    SlowPass,
    Abort,
    /// Fails with the id of the first other integration of the type in the registry.
    ComparesWithRegistry,
}

/// What the scripted session holds: a number the checks read back.
const SESSION_MARK: u32 = 42;

struct Scripted {
    behaviours: HashMap<&'static str, Behaviour>,
    open_fails: bool,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    calls: AtomicUsize,
    opened: AtomicUsize,
    closed: AtomicUsize,
    without_session: AtomicUsize,
}

impl Scripted {
    fn new(behaviours: &[(&'static str, Behaviour)]) -> Arc<Self> {
        Self::build(behaviours, false)
    }

    fn build(behaviours: &[(&'static str, Behaviour)], open_fails: bool) -> Arc<Self> {
        Arc::new(Self {
            behaviours: behaviours.iter().copied().collect(),
            open_fails,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            opened: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
            without_session: AtomicUsize::new(0),
        })
    }
}

/// The catalogue name of a test id.
fn name_of(test: TestId) -> &'static str {
    IntegrationType::ALL.iter().flat_map(|t| catalogue(*t)).find(|d| d.id == test).map(|d| d.name).unwrap()
}

#[async_trait]
impl Platform for Scripted {
    fn descriptor(&self) -> &'static Descriptor {
        static SCRIPTED: Descriptor = Descriptor::new(IntegrationType::Redshift, SetupModel::PrivilegedOnce, &[]);
        &SCRIPTED
    }

    async fn open(&self, _spec: &IntegrationSpec, _phase: Phase) -> Result<Session, PlatformError> {
        if self.open_fails {
            return Err(PlatformError::new(ErrorKind::Unauthenticated, "password authentication failed"));
        }
        self.opened.fetch_add(1, Ordering::SeqCst);
        Ok(Session::new(SESSION_MARK))
    }

    async fn close(&self, session: Session) {
        assert_eq!(session.into_inner::<u32>(), Some(SESSION_MARK));
        self.closed.fetch_add(1, Ordering::SeqCst);
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if context.session::<u32>().ok() != Some(&SESSION_MARK) {
            self.without_session.fetch_add(1, Ordering::SeqCst);
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let behaviour = self.behaviours.get(name_of(test)).copied().unwrap_or(Behaviour::Pass);
        let out = match behaviour {
            Behaviour::Pass => Ok(CheckOutcome::Passed),
            Behaviour::SlowPass => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(CheckOutcome::Passed)
            }
            Behaviour::Warn => Ok(CheckOutcome::Warning("look at this".into())),
            Behaviour::Fail => Ok(CheckOutcome::failed("FATAL: password authentication failed for user \"warden\"")),
            Behaviour::Error => Err(PlatformError::other("permission denied")),
            Behaviour::Hang => std::future::pending().await,
            Behaviour::Panic => panic!("the check fell over"),
            Behaviour::Abort => Ok(CheckOutcome::Abort(ErrorCode::MetastoreLookupFailed)),
            Behaviour::ComparesWithRegistry => Ok(match context.others().await?.first() {
                Some(other) => CheckOutcome::Failed(Failure::new("").with("name", "lake").with("id", other.id)),
                None => CheckOutcome::Passed,
            }),
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }

    async fn apply(&self, _change: Change<'_>) -> Result<Applied, PlatformError> {
        Err(PlatformError::unsupported("the runner's tests make no changes"))
    }
}

/// A run of `spec` in `phase` with no records, as the engine would start it.
async fn run(
    platform: Arc<Scripted>,
    spec: Arc<IntegrationSpec>,
    phase: Phase,
    options: RunOptions,
) -> Result<ValidationResults, Aborted> {
    let context = CheckContext { spec, phase, integration_id: None, session: None, registry: Arc::new(NoRecords) };
    validate(platform, context, options).await
}

/// A run that no check aborts.
async fn checked(platform: Arc<Scripted>, spec: Arc<IntegrationSpec>, phase: Phase) -> ValidationResults {
    run(platform, spec, phase, quick()).await.unwrap()
}

fn redshift(auto: bool, impersonation: bool) -> Arc<IntegrationSpec> {
    let mut config = json!({"host": "127.0.0.1", "database": "warden", "authenticationType": "userPassword",
        "username": "admin", "password": "pw", "impersonation": {"enabled": impersonation}});
    if auto {
        config["initialDatabase"] = json!("postgres");
    }
    Arc::new(
        IntegrationSpec::from_value(&json!({"type": "Redshift", "autoBootstrap": auto, "config": config}), None)
            .unwrap(),
    )
}

const CONNECT: &str = "Initial validation: basic connection test";
const DATABASE: &str = "Validate automatic: database does not exist";
const ROLE: &str = "Validate automatic: impersonation role does not exist";

fn quick() -> RunOptions {
    RunOptions { per_test_timeout: Duration::from_millis(200), concurrency: 4 }
}

fn by_name(results: &ValidationResults) -> HashMap<&str, (TestStatus, Option<&str>)> {
    results.validation_tests.iter().map(|t| (t.name.as_str(), (t.status, t.message.as_deref()))).collect()
}

#[tokio::test]
async fn all_checks_passing_gives_passed_in_catalogue_order() {
    let platform = Scripted::new(&[]);
    let results = checked(platform.clone(), redshift(true, true), Phase::Request).await;
    assert_eq!(results.status, TestStatus::Passed);
    let names: Vec<_> = results.validation_tests.iter().map(|t| t.name.as_str()).collect();
    let expected: Vec<_> = catalogue(IntegrationType::Redshift).iter().map(|d| d.name).collect();
    assert_eq!(names, expected);
    assert_eq!(platform.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_failed_connection_skips_the_tests_that_need_one() {
    let platform = Scripted::new(&[(CONNECT, Behaviour::Fail)]);
    let results = checked(platform.clone(), redshift(true, true), Phase::Request).await;
    let tests = by_name(&results);
    assert_eq!(results.status, TestStatus::Failed);
    assert_eq!(
        tests[CONNECT],
        (
            TestStatus::Failed,
            Some("Unable to connect to host. FATAL: password authentication failed for user \"warden\"")
        )
    );
    assert_eq!(tests[DATABASE], (TestStatus::Skipped, Some("Not run: the connection test failed.")));
    assert_eq!(tests[ROLE].0, TestStatus::Skipped);
    assert_eq!(platform.calls.load(Ordering::SeqCst), 1, "skipped checks must not run");
}

#[tokio::test]
async fn tests_that_do_not_apply_are_skipped_with_the_reason() {
    let results = checked(Scripted::new(&[]), redshift(false, false), Phase::Request).await;
    let tests = by_name(&results);
    assert_eq!(tests[DATABASE], (TestStatus::Skipped, Some("Not run: it applies only when autoBootstrap is true.")));
    assert_eq!(results.status, TestStatus::Passed);
    let results = checked(Scripted::new(&[]), redshift(true, false), Phase::Request).await;
    assert_eq!(
        by_name(&results)[ROLE],
        (TestStatus::Skipped, Some("Not run: it applies only when impersonation is enabled."))
    );
}

#[tokio::test]
async fn an_installed_integration_skips_the_checks_made_before_an_automatic_setup() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::Fail), (ROLE, Behaviour::Fail)]);
    let results = checked(platform.clone(), redshift(true, true), Phase::Installed).await;
    let reason = "Not run: it checks the platform before an automatic setup, and this integration is set up.";
    assert_eq!(by_name(&results)[DATABASE], (TestStatus::Skipped, Some(reason)));
    assert_eq!(by_name(&results)[ROLE], (TestStatus::Skipped, Some(reason)));
    assert_eq!(results.status, TestStatus::Passed);
    assert_eq!(platform.calls.load(Ordering::SeqCst), 1, "only the connection test ran");
}

#[tokio::test]
async fn a_hanging_check_fails_with_a_timeout_and_the_others_still_report() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::Hang), (ROLE, Behaviour::Warn)]);
    let results = checked(platform, redshift(true, true), Phase::Request).await;
    let tests = by_name(&results);
    assert_eq!(tests[DATABASE].0, TestStatus::Failed);
    assert!(tests[DATABASE].1.unwrap().ends_with("The check did not finish within 0.2 s."), "{:?}", tests[DATABASE]);
    assert_eq!(tests[ROLE], (TestStatus::Warning, Some("look at this")));
    assert_eq!(results.status, TestStatus::Failed);
}

#[tokio::test]
async fn a_panicking_check_fails_alone() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::Panic)]);
    let results = checked(platform, redshift(true, true), Phase::Request).await;
    let tests = by_name(&results);
    assert_eq!(tests[DATABASE].0, TestStatus::Failed);
    assert!(tests[DATABASE].1.unwrap().contains("crashed inside Warden"));
    assert_eq!(tests[CONNECT].0, TestStatus::Passed);
    assert_eq!(tests[ROLE].0, TestStatus::Passed);
}

#[tokio::test]
async fn a_check_that_cannot_run_fails_with_the_platform_error_after_the_reference_text() {
    let results = checked(Scripted::new(&[(ROLE, Behaviour::Error)]), redshift(true, true), Phase::Request).await;
    let expected = "Impersonation role already exists. If this role can be safely dropped please do so and try again. \
                    Alternatively, specify a different role name. the platform answered with an error: permission denied";
    assert_eq!(by_name(&results)[ROLE], (TestStatus::Failed, Some(expected)));
}

#[tokio::test]
async fn no_more_checks_run_at_once_than_the_concurrency_allows() {
    let names: Vec<&'static str> = catalogue(IntegrationType::GoogleBigQuery).iter().map(|d| d.name).collect();
    let behaviours: Vec<_> = names.iter().map(|n| (*n, Behaviour::SlowPass)).collect();
    let platform = Scripted::new(&behaviours);
    let spec = Arc::new(
        IntegrationSpec::from_value(
            &json!({"type": "Google BigQuery", "autoBootstrap": false, "config": {"role": "r", "datasetSuffix": "_s",
                "location": "US", "credential": json!({"type": "service_account", "project_id": "p1",
                "client_email": "w@p1.iam.gserviceaccount.com", "private_key": "k"}).to_string()}}),
            None,
        )
        .unwrap(),
    );
    let options = RunOptions { per_test_timeout: Duration::from_secs(5), concurrency: 2 };
    let results = run(platform.clone(), spec, Phase::Request, options).await.unwrap();
    assert_eq!(results.status, TestStatus::Passed, "{results:?}");
    assert_eq!(platform.calls.load(Ordering::SeqCst), names.len());
    assert!(platform.max_in_flight.load(Ordering::SeqCst) <= 2, "more than 2 checks ran at once");
}

/// Each test that ran reports how long it took; one that did not run reports no duration.
#[tokio::test]
async fn each_test_that_ran_reports_its_duration() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::SlowPass)]);
    let results = checked(platform, redshift(true, false), Phase::Request).await;
    let duration = |name: &str| results.validation_tests.iter().find(|t| t.name == name).unwrap().duration_ms;
    assert!(duration(DATABASE).is_some_and(|ms| ms >= 20.0), "{results:?}");
    assert!(duration(CONNECT).is_some(), "{results:?}");
    assert_eq!(duration(ROLE), None, "a skipped test did not run: {results:?}");
    let json = serde_json::to_value(&results).unwrap();
    assert!(
        json["validationTests"].as_array().unwrap().iter().any(|t| t["durationMs"].as_f64() >= Some(20.0)),
        "{json}"
    );
}

/// The catalogue has exactly the contract's tests, in its order (the list is copied from
/// the API reference §4 into `fixtures/contract_tests.txt`), with the rules and messages pinned
/// by a snapshot.
#[test]
fn the_catalogue_matches_the_contract() {
    let text = include_str!("fixtures/contract_tests.txt");
    let mut contract: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut current = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("# ")) {
        if let Some(name) = line.strip_prefix("## ") {
            current = Some(name);
            contract.entry(name).or_default();
        } else {
            contract.get_mut(current.unwrap()).unwrap().push(line);
        }
    }
    assert_eq!(contract.len(), IntegrationType::ALL.len(), "every type has a block");
    for t in IntegrationType::ALL {
        let names: Vec<&str> = catalogue(t).iter().map(|d| d.name).collect();
        assert_eq!(names, contract[t.wire_name()], "{t}: the catalogue differs from the contract");
    }
    let table: serde_json::Map<String, serde_json::Value> = IntegrationType::ALL
        .iter()
        .map(|t| {
            let tests: Vec<_> = catalogue(*t)
                .iter()
                .map(|d| json!({"name": d.name, "applies": format!("{:?}", d.applies), "needs": format!("{:?}", d.needs), "message": d.message}))
                .collect();
            (t.wire_name().to_owned(), json!(tests))
        })
        .collect();
    insta::assert_json_snapshot!(table);
}

/// Issue 10, item 16: the S3 name test says the API reference's message, with the name and the id filled in.
#[test]
fn the_s3_name_test_uses_the_contract_message() {
    let spec = IntegrationSpec::from_value(
        &json!({"type": "Native S3", "autoBootstrap": false, "config": {"name": "lake", "awsAccountId": "123456789012",
            "awsRegion": "us-east-1", "awsLocationRole": "arn:aws:iam::123456789012:role/grants",
            "awsLocationPath": "s3://acme-lake/raw", "authenticationType": "auto"}}),
        None,
    )
    .unwrap();
    let def = catalogue(IntegrationType::NativeS3)[1];
    assert_eq!(def.name, "The provided integration name is unique across Warden S3 integrations");
    let name = match &spec.config {
        warden_model::PlatformConfig::NativeS3(config) => config.name.clone(),
        _ => unreachable!("an S3 payload"),
    };
    assert_eq!(
        def.failure_message(&Failure::new("").with("name", name).with("id", 7)),
        "The integration name [lake] is already used by S3 integration with ID 7."
    );
    assert_eq!(
        def.failure_message(&Failure::new("").with("name", "lake")),
        "The integration name [lake] is already used by S3 integration with ID {id}.",
        "a value the check did not give stays visible as its placeholder"
    );
}

/// Before a removal only the connection test runs: the checks made before an automatic
/// setup do not apply to one that is (partly) there.
#[tokio::test]
async fn a_removal_runs_only_the_connection_test() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::Fail), (ROLE, Behaviour::Fail)]);
    let results = checked(platform.clone(), redshift(true, true), Phase::Removal).await;
    assert_eq!(results.status, TestStatus::Passed);
    assert_eq!(platform.calls.load(Ordering::SeqCst), 1);
}

/// The runner opens the adapter's session once per run, every check sees it, and it is
/// closed before the results come back (so no change finds a check's connection open).
#[tokio::test]
async fn the_session_is_opened_once_shared_and_closed_before_the_results_return() {
    let platform = Scripted::new(&[]);
    let results = checked(platform.clone(), redshift(true, true), Phase::Request).await;
    assert_eq!(results.status, TestStatus::Passed);
    assert_eq!(platform.calls.load(Ordering::SeqCst), 3);
    assert_eq!(platform.opened.load(Ordering::SeqCst), 1);
    assert_eq!(platform.without_session.load(Ordering::SeqCst), 0, "a check ran without the run's session");
    assert_eq!(platform.closed.load(Ordering::SeqCst), 1, "the session was not closed");
}

/// A session that cannot be opened fails the connection test with the platform's error (of
/// its kind) and skips the tests that need a connection; no check is asked.
#[tokio::test]
async fn a_session_that_cannot_open_fails_the_connection_test_with_its_error() {
    let platform = Scripted::build(&[], true);
    let results = checked(platform.clone(), redshift(true, true), Phase::Request).await;
    let tests = by_name(&results);
    assert_eq!(
        tests[CONNECT],
        (TestStatus::Failed, Some("Unable to connect to host. could not log in: password authentication failed"))
    );
    assert_eq!(tests[DATABASE], (TestStatus::Skipped, Some("Not run: the connection test failed.")));
    assert_eq!(platform.calls.load(Ordering::SeqCst), 0);
    assert_eq!(platform.closed.load(Ordering::SeqCst), 0);
}

/// A check that aborts ends the run with its error code instead of results, and the
/// session is still closed.
#[tokio::test]
async fn an_aborting_check_ends_the_run_with_its_error_code() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::Abort), (ROLE, Behaviour::SlowPass)]);
    let aborted = run(platform.clone(), redshift(true, true), Phase::Request, quick()).await.unwrap_err();
    assert_eq!(aborted, Aborted { test: DATABASE, code: ErrorCode::MetastoreLookupFailed });
    assert_eq!(platform.closed.load(Ordering::SeqCst), 1, "the session was not closed after the abort");
}

/// Records for the registry test: one S3 integration (id 7) besides the one checked (id 9).
struct OneOther;

#[async_trait]
impl Registry for OneOther {
    async fn integrations(&self, integration_type: IntegrationType) -> Result<Vec<Registered>, PlatformError> {
        assert_eq!(integration_type, IntegrationType::NativeS3);
        let mine = (*s3()).clone();
        Ok(vec![
            Registered { id: IntegrationId::new(7).unwrap(), status: Status::Enabled, spec: mine.clone() },
            Registered { id: IntegrationId::new(9).unwrap(), status: Status::Enabled, spec: mine },
        ])
    }

    async fn data_sources(&self, _integration_type: IntegrationType) -> Result<Vec<DataSource>, PlatformError> {
        Ok(Vec::new())
    }
}

fn s3() -> Arc<IntegrationSpec> {
    Arc::new(
        IntegrationSpec::from_value(
            &json!({"type": "Native S3", "autoBootstrap": false, "config": {"name": "lake",
                "awsAccountId": "123456789012", "awsRegion": "us-east-1",
                "awsLocationRole": "arn:aws:iam::123456789012:role/grants",
                "awsLocationPath": "s3://acme-lake/raw", "authenticationType": "auto"}}),
            None,
        )
        .unwrap(),
    )
}

/// A check reads Warden's records through the registry, without the integration being
/// checked, and its failure fills the message's values.
#[tokio::test]
async fn a_check_compares_with_the_registry_and_names_what_it_found() {
    const NAME: &str = "The provided integration name is unique across Warden S3 integrations";
    let platform = Scripted::new(&[(NAME, Behaviour::ComparesWithRegistry)]);
    let context = |id: u64| CheckContext {
        spec: s3(),
        phase: Phase::Installed,
        integration_id: IntegrationId::new(id),
        session: None,
        registry: Arc::new(OneOther),
    };
    let results = validate(platform.clone(), context(9), quick()).await.unwrap();
    assert_eq!(
        by_name(&results)[NAME],
        (TestStatus::Failed, Some("The integration name [lake] is already used by S3 integration with ID 7."))
    );
    let results = validate(platform.clone(), context(7), quick()).await.unwrap();
    assert_eq!(
        by_name(&results)[NAME].1,
        Some("The integration name [lake] is already used by S3 integration with ID 9."),
        "the integration checked is left out"
    );
}
