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
use warden_model::{IntegrationSpec, IntegrationType, TestStatus, ValidationResults};
use warden_platform::{Change, CheckOutcome, Descriptor, Phase, Platform, PlatformError, SetupModel};
use warden_validation::{RunOptions, catalogue, validate};

#[derive(Clone, Copy)]
enum Behaviour {
    Pass,
    Warn,
    Fail,
    Error,
    Hang,
    Panic,
    SlowPass,
}

struct Scripted {
    behaviours: HashMap<&'static str, Behaviour>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(behaviours: &[(&'static str, Behaviour)]) -> Arc<Self> {
        Arc::new(Self {
            behaviours: behaviours.iter().copied().collect(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Platform for Scripted {
    fn descriptor(&self) -> &'static Descriptor {
        static SCRIPTED: Descriptor = Descriptor {
            integration_type: IntegrationType::Redshift,
            setup: SetupModel::PrivilegedOnce,
            delete_credential_fields: &[],
        };
        &SCRIPTED
    }

    async fn check(&self, test: &str, _spec: &IntegrationSpec, _phase: Phase) -> Result<CheckOutcome, PlatformError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let behaviour = self.behaviours.get(test).copied().unwrap_or(Behaviour::Pass);
        let out = match behaviour {
            Behaviour::Pass => Ok(CheckOutcome::Passed),
            Behaviour::SlowPass => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(CheckOutcome::Passed)
            }
            Behaviour::Warn => Ok(CheckOutcome::Warning("look at this".into())),
            Behaviour::Fail => {
                Ok(CheckOutcome::Failed("FATAL: password authentication failed for user \"warden\"".into()))
            }
            Behaviour::Error => Err(PlatformError::other("permission denied")),
            Behaviour::Hang => std::future::pending().await,
            Behaviour::Panic => panic!("the check fell over"),
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }

    fn system_account(
        &self,
        requested: &IntegrationSpec,
        _current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        Ok(requested.clone())
    }

    async fn apply(&self, _change: Change<'_>) -> Result<(), PlatformError> {
        Err(PlatformError::unsupported("the runner's tests make no changes"))
    }
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
    let results = validate(platform.clone(), redshift(true, true), Phase::Request, quick()).await;
    assert_eq!(results.status, TestStatus::Passed);
    let names: Vec<_> = results.validation_tests.iter().map(|t| t.name.as_str()).collect();
    let expected: Vec<_> = catalogue(IntegrationType::Redshift).iter().map(|d| d.name).collect();
    assert_eq!(names, expected);
    assert_eq!(platform.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_failed_connection_skips_the_tests_that_need_one() {
    let platform = Scripted::new(&[(CONNECT, Behaviour::Fail)]);
    let results = validate(platform.clone(), redshift(true, true), Phase::Request, quick()).await;
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
    let results = validate(Scripted::new(&[]), redshift(false, false), Phase::Request, quick()).await;
    let tests = by_name(&results);
    assert_eq!(tests[DATABASE], (TestStatus::Skipped, Some("Not run: it applies only when autoBootstrap is true.")));
    assert_eq!(results.status, TestStatus::Passed);
    let results = validate(Scripted::new(&[]), redshift(true, false), Phase::Request, quick()).await;
    assert_eq!(
        by_name(&results)[ROLE],
        (TestStatus::Skipped, Some("Not run: it applies only when impersonation is enabled."))
    );
}

#[tokio::test]
async fn an_installed_integration_skips_the_checks_made_before_an_automatic_setup() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::Fail), (ROLE, Behaviour::Fail)]);
    let results = validate(platform.clone(), redshift(true, true), Phase::Installed, quick()).await;
    let reason = "Not run: it checks the platform before an automatic setup, and this integration is set up.";
    assert_eq!(by_name(&results)[DATABASE], (TestStatus::Skipped, Some(reason)));
    assert_eq!(by_name(&results)[ROLE], (TestStatus::Skipped, Some(reason)));
    assert_eq!(results.status, TestStatus::Passed);
    assert_eq!(platform.calls.load(Ordering::SeqCst), 1, "only the connection test ran");
}

#[tokio::test]
async fn a_hanging_check_fails_with_a_timeout_and_the_others_still_report() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::Hang), (ROLE, Behaviour::Warn)]);
    let results = validate(platform, redshift(true, true), Phase::Request, quick()).await;
    let tests = by_name(&results);
    assert_eq!(tests[DATABASE].0, TestStatus::Failed);
    assert!(tests[DATABASE].1.unwrap().ends_with("The check did not finish within 0.2 s."), "{:?}", tests[DATABASE]);
    assert_eq!(tests[ROLE], (TestStatus::Warning, Some("look at this")));
    assert_eq!(results.status, TestStatus::Failed);
}

#[tokio::test]
async fn a_panicking_check_fails_alone() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::Panic)]);
    let results = validate(platform, redshift(true, true), Phase::Request, quick()).await;
    let tests = by_name(&results);
    assert_eq!(tests[DATABASE].0, TestStatus::Failed);
    assert!(tests[DATABASE].1.unwrap().contains("crashed inside Warden"));
    assert_eq!(tests[CONNECT].0, TestStatus::Passed);
    assert_eq!(tests[ROLE].0, TestStatus::Passed);
}

#[tokio::test]
async fn a_check_that_cannot_run_fails_with_the_platform_error_after_the_reference_text() {
    let results =
        validate(Scripted::new(&[(ROLE, Behaviour::Error)]), redshift(true, true), Phase::Request, quick()).await;
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
    let results = validate(platform.clone(), spec, Phase::Request, options).await;
    assert_eq!(results.status, TestStatus::Passed, "{results:?}");
    assert_eq!(platform.calls.load(Ordering::SeqCst), names.len());
    assert!(platform.max_in_flight.load(Ordering::SeqCst) <= 2, "more than 2 checks ran at once");
}

/// The catalogue has exactly the contract's tests, in its order (the list is copied from
/// API.md section 4 into `fixtures/contract_tests.txt`), with the rules and messages pinned
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

/// Issue 10, item 12: equal Synapse delimiters are a failed validation test with the seed's
/// message, answered from the config without asking the platform.
#[tokio::test]
async fn equal_synapse_delimiters_fail_the_delimiters_test() {
    let synapse = |array: &str| {
        Arc::new(
            IntegrationSpec::from_value(
                &json!({"type": "Azure Synapse Analytics", "autoBootstrap": false, "config": {
                    "host": "acme.sql.azuresynapse.net", "database": "analytics", "schema": "warden",
                    "authenticationType": "userPassword", "username": "warden", "password": "pw",
                    "metadataDelimiters": {"hashDelimiter": "|", "arrayDelimiter": array}}}),
                None,
            )
            .unwrap(),
        )
    };
    const DELIMITERS: &str = "Initial validation: delimiters test";
    let platform = Scripted::new(&[]);
    let results = validate(platform.clone(), synapse("|"), Phase::Request, quick()).await;
    assert_eq!(
        by_name(&results)[DELIMITERS],
        (TestStatus::Failed, Some("Hash delimiter and array delimiter must not have the same value."))
    );
    assert_eq!(results.status, TestStatus::Failed);
    let results = validate(platform.clone(), synapse(";"), Phase::Request, quick()).await;
    assert_eq!(by_name(&results)[DELIMITERS].0, TestStatus::Passed);
    let asked = platform.calls.load(Ordering::SeqCst);
    assert_eq!(
        asked, 4,
        "the connection and permission checks ran twice; the delimiters test never reached the platform"
    );
}

/// Issue 10, item 16: the S3 name test says API.md's message, with the name and the id filled in.
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
    assert_eq!(
        def.failure_message(&spec, "7"),
        "The integration name [lake] is already used by S3 integration with ID 7."
    );
}

/// Before a removal only the connection test runs: the checks made before an automatic
/// setup do not apply to one that is (partly) there.
#[tokio::test]
async fn a_removal_runs_only_the_connection_test() {
    let platform = Scripted::new(&[(DATABASE, Behaviour::Fail), (ROLE, Behaviour::Fail)]);
    let results = validate(platform.clone(), redshift(true, true), Phase::Removal, quick()).await;
    assert_eq!(results.status, TestStatus::Passed);
    assert_eq!(platform.calls.load(Ordering::SeqCst), 1);
}
