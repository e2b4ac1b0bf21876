//! The BigQuery adapter against bqemulator (PyPI `bqemulator`, a BigQuery emulator backed by
//! DuckDB), which `cargo xtask ci` starts through `xtask/bqemulator_server.py` (which resolves
//! bearer tokens to service accounts and refuses permissions by account name, as BigQuery's
//! IAM would) and names in `WARDEN_TEST_BIGQUERY_EMULATOR` (`host:port`; its request log in
//! `WARDEN_TEST_BIGQUERY_LOG`). Tokens come from the token endpoint STAND-IN of
//! `tests/src/google_token.rs` (included here), which verifies each assertion's signature and
//! claims. The twelve checks passing and failing for real, the throwaway objects gone
//! afterwards, the metadata dataset made, adopted and released.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

#[path = "../../../tests/src/google_token.rs"]
mod google_token;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;
use warden_bigquery::BigQuery;
use warden_model::{IntegrationSpec, TestStatus};
use warden_platform::{Change, CheckContext, NoRecords, Phase, Platform as _};
use warden_validation::{RunOptions, validate};

/// The emulator's `host:port`, set for this process; `None` outside CI when it is not running.
fn emulator() -> Option<String> {
    match std::env::var("WARDEN_TEST_BIGQUERY_EMULATOR") {
        Ok(host) => {
            warden_platform::reach::set_bigquery_emulator(&host);
            Some(host)
        }
        Err(_) => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs bqemulator (cargo xtask ci)");
            eprintln!("WARDEN_TEST_BIGQUERY_EMULATOR is not set: skipped");
            None
        }
    }
}

static NAMES: AtomicU32 = AtomicU32::new(0);

/// A project id no other test uses.
fn project() -> String {
    format!("warden-p{}-{}", std::process::id(), NAMES.fetch_add(1, Ordering::SeqCst))
}

fn payload(key_file: &str, location: &str) -> Value {
    json!({"type": "Google BigQuery", "autoBootstrap": false, "config": {"role": "wardenRole",
        "datasetSuffix": "_secure", "location": location, "credential": key_file}})
}

fn spec(key_file: &str, location: &str) -> IntegrationSpec {
    IntegrationSpec::from_value(&payload(key_file, location), None).unwrap()
}

type Results = HashMap<String, (TestStatus, Option<String>)>;

async fn run(spec: &IntegrationSpec, phase: Phase) -> Results {
    let context = CheckContext {
        spec: Arc::new(spec.clone()),
        phase,
        integration_id: None,
        session: None,
        registry: Arc::new(NoRecords),
    };
    let results = validate(Arc::new(BigQuery), context, RunOptions::default()).await.unwrap();
    results.validation_tests.into_iter().map(|t| (t.name, (t.status, t.message))).collect()
}

fn status(results: &Results, name: &str) -> TestStatus {
    results.get(name).unwrap_or_else(|| panic!("no test {name}: {results:?}")).0
}

fn message(results: &Results, name: &str) -> String {
    results[name].1.clone().unwrap_or_default()
}

/// A call to the emulator as `account` (a token of the form the stand-in issues).
async fn call(host: &str, account: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = format!("ya29.warden-test.{}.admin", url_safe.encode(account));
    let mut request =
        reqwest::Client::new().request(method, format!("http://{host}/bigquery/v2{path}")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// The datasets of `project`.
async fn datasets(host: &str, project: &str) -> Vec<Value> {
    let admin = format!("admin@{project}.iam.gserviceaccount.com");
    let (_, listed) = call(host, &admin, reqwest::Method::GET, &format!("/projects/{project}/datasets"), None).await;
    listed["datasets"].as_array().cloned().unwrap_or_default()
}

fn names(datasets: &[Value]) -> Vec<String> {
    datasets.iter().map(|d| d["datasetReference"]["datasetId"].as_str().unwrap().to_owned()).collect()
}

const MANUAL: [&str; 7] = [
    "Validate manual: [dataset - create]",
    "Validate manual: [dataset - delete]",
    "Validate manual: [table - create]",
    "Validate manual: [table - delete]",
    "Validate manual: [table - get]",
    "Validate manual: [table - insert]",
    "Validate manual: [table - update]",
];

/// All twelve pass for an account whose role allows everything; the throwaway dataset is
/// gone afterwards; the emulator received the token the endpoint issued, and one token
/// served the whole run (and the next).
#[tokio::test]
async fn an_account_that_may_do_everything_passes_all_twelve() {
    let Some(host) = emulator() else { return };
    let tokens = google_token::start().await;
    let project = project();
    let key = tokens.key_file(&project, &format!("warden-sa@{project}.iam.gserviceaccount.com"));
    let results = run(&spec(&key, "US"), Phase::Request).await;
    assert_eq!(results.len(), 12);
    for (name, (status, message)) in &results {
        assert_eq!(*status, TestStatus::Passed, "{name}: {message:?}");
    }
    assert!(names(&datasets(&host, &project).await).is_empty(), "the throwaway dataset is gone");
    let issued = tokens.issued();
    assert_eq!(issued.len(), 1, "one token for the whole run");
    let log = std::fs::read_to_string(std::env::var("WARDEN_TEST_BIGQUERY_LOG").unwrap()).unwrap();
    let digest: String = sha2::Sha256::digest(issued[0].as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert!(log.contains(&digest), "the emulator received the issued token");
    let again = run(&spec(&key, "US"), Phase::Request).await;
    assert_eq!(status(&again, "Basic validation: connection can be made to BigQuery"), TestStatus::Passed);
    assert_eq!(tokens.issued().len(), 1, "the token is cached until shortly before it expires");
}

/// A permission the role lacks fails its own check, with the permission named and the
/// platform's words; the others pass; nothing is left behind.
#[tokio::test]
async fn a_missing_permission_fails_its_check_and_leaves_nothing() {
    let Some(host) = emulator() else { return };
    let tokens = google_token::start().await;
    let project = project();
    let key = tokens.key_file(&project, &format!("warden-deny-tables-updatedata@{project}.iam.gserviceaccount.com"));
    let results = run(&spec(&key, "US"), Phase::Request).await;
    let insert = "Validate manual: [table - insert]";
    assert_eq!(status(&results, insert), TestStatus::Failed);
    let text = message(&results, insert);
    assert!(text.contains("bigquery.tables.updateData") && text.contains("Access Denied"), "{text}");
    for name in MANUAL.iter().filter(|n| **n != insert) {
        assert_eq!(status(&results, name), TestStatus::Passed, "{name}: {:?}", results[*name]);
    }
    assert!(names(&datasets(&host, &project).await).is_empty(), "the throwaway dataset is gone");
}

/// When the dataset cannot be made, every table check fails saying why it was not tried.
#[tokio::test]
async fn without_dataset_create_the_table_checks_are_not_tried() {
    let Some(_host) = emulator() else { return };
    let tokens = google_token::start().await;
    let project = project();
    let key = tokens.key_file(&project, &format!("warden-deny-datasets-create@{project}.iam.gserviceaccount.com"));
    let results = run(&spec(&key, "US"), Phase::Request).await;
    assert_eq!(status(&results, MANUAL[0]), TestStatus::Failed);
    assert!(message(&results, MANUAL[0]).contains("bigquery.datasets.create"));
    for name in &MANUAL[1..] {
        assert_eq!(status(&results, name), TestStatus::Failed, "{name}");
        assert!(message(&results, name).contains("(not tried: [dataset - create] failed)"), "{name}");
    }
}

/// A key whose private half is not the account's fails the connection (Google's
/// `invalid_grant`), and the checks that need it are skipped; an account of another project
/// fails the postfix check.
#[tokio::test]
async fn a_wrong_key_fails_the_connection_and_a_foreign_account_the_postfix() {
    let Some(_host) = emulator() else { return };
    let tokens = google_token::start().await;
    let project = project();
    let email = format!("warden-sa@{project}.iam.gserviceaccount.com");
    let _ = tokens.key_file(&project, &email);
    let stranger = warden_http::jwt::generate_pem().unwrap();
    let wrong = tokens.key_file_for(&project, &email, &stranger);
    let results = run(&spec(&wrong, "US"), Phase::Request).await;
    let connection = "Basic validation: connection can be made to BigQuery";
    assert_eq!(status(&results, connection), TestStatus::Failed);
    let text = message(&results, connection);
    assert!(text.contains("invalid_grant") && text.contains("Invalid JWT Signature"), "{text}");
    assert!(!text.contains("BEGIN") && !text.contains("ya29"), "no key or token in the message: {text}");
    assert_eq!(status(&results, MANUAL[0]), TestStatus::Skipped);

    let foreign = tokens.key_file(&project, "warden-sa@other-project.iam.gserviceaccount.com");
    let results = run(&spec(&foreign, "US"), Phase::Request).await;
    let postfix = "Basic validation: Warden service account postfix";
    assert_eq!(status(&results, postfix), TestStatus::Failed);
    assert!(message(&results, postfix).contains(&format!("@{project}.iam.gserviceaccount.com")));
    assert_eq!(status(&results, connection), TestStatus::Passed);
}

/// The metadata dataset: free when missing or made by the administrator in the location;
/// refused when another Warden's label is on it (before a create, not once installed) or it
/// is in another location.
#[tokio::test]
async fn the_metadata_dataset_check() {
    let Some(host) = emulator() else { return };
    let tokens = google_token::start().await;
    let project = project();
    let key = tokens.key_file(&project, &format!("warden-sa@{project}.iam.gserviceaccount.com"));
    let exists = "Initialize validation: [dataset - exists]";
    let admin = format!("admin@{project}.iam.gserviceaccount.com");
    let make = |labels: Value, location: &str| json!({"datasetReference": {"projectId": project, "datasetId": "warden"}, "location": location, "labels": labels});
    let path = format!("/projects/{project}/datasets");
    let (created, _) =
        call(&host, &admin, reqwest::Method::POST, &path, Some(make(json!({"team": "data"}), "US"))).await;
    assert_eq!(created, 200);
    assert_eq!(status(&run(&spec(&key, "US"), Phase::Request).await, exists), TestStatus::Passed, "adopted");
    let elsewhere = run(&spec(&key, "EU"), Phase::Request).await;
    assert_eq!(status(&elsewhere, exists), TestStatus::Failed);
    assert!(message(&elsewhere, exists).contains("is in location US"), "{}", message(&elsewhere, exists));

    call(&host, &admin, reqwest::Method::DELETE, &format!("{path}/warden"), None).await;
    call(&host, &admin, reqwest::Method::POST, &path, Some(make(json!({"managed-by": "warden"}), "US"))).await;
    let taken = run(&spec(&key, "US"), Phase::Request).await;
    assert_eq!(status(&taken, exists), TestStatus::Failed);
    assert!(
        message(&taken, exists).starts_with("An existing Warden instance exists. Delete this dataset to continue.")
    );
    assert_eq!(status(&run(&spec(&key, "US"), Phase::Installed).await, exists), TestStatus::Passed, "ours once set up");
}

/// A create makes the metadata dataset (labelled) and a delete removes it; a create over the
/// administrator's dataset adopts it, and a delete takes back only Warden's label.
#[tokio::test]
async fn create_makes_or_adopts_the_dataset_and_delete_releases_it() {
    let Some(host) = emulator() else { return };
    let tokens = google_token::start().await;
    let project = project();
    let key = tokens.key_file(&project, &format!("warden-sa@{project}.iam.gserviceaccount.com"));
    let spec = spec(&key, "US");
    let applied = BigQuery.apply(Change::Create { spec: &spec, privileged: None }).await.unwrap();
    assert_eq!(applied.state, Some(json!({"createdDataset": true})));
    let listed = datasets(&host, &project).await;
    assert_eq!(names(&listed), ["warden"]);
    let admin = format!("admin@{project}.iam.gserviceaccount.com");
    let path = format!("/projects/{project}/datasets/warden");
    let (_, made) = call(&host, &admin, reqwest::Method::GET, &path, None).await;
    assert_eq!(made["labels"], json!({"managed-by": "warden", "created-by": "warden"}));
    assert_eq!(made["location"], "US");
    BigQuery.apply(Change::Delete { spec: &spec, privileged: None, state: applied.state.as_ref() }).await.unwrap();
    assert!(datasets(&host, &project).await.is_empty(), "the dataset Warden made is gone");

    // A create whose state was never recorded (the process died right after it): the
    // dataset's own label says Warden made it, so a removal without the state takes it away.
    BigQuery.apply(Change::Create { spec: &spec, privileged: None }).await.unwrap();
    BigQuery.apply(Change::Cleanup { spec: &spec, privileged: None, state: None }).await.unwrap();
    assert!(datasets(&host, &project).await.is_empty(), "the dataset Warden made is gone without its state");

    let body = json!({"datasetReference": {"projectId": project, "datasetId": "warden"}, "location": "US",
        "labels": {"team": "data"}});
    call(&host, &admin, reqwest::Method::POST, &format!("/projects/{project}/datasets"), Some(body)).await;
    let table = json!({"tableReference": {"projectId": project, "datasetId": "warden", "tableId": "kept"}});
    call(&host, &admin, reqwest::Method::POST, &format!("{path}/tables"), Some(table)).await;
    let applied = BigQuery.apply(Change::Create { spec: &spec, privileged: None }).await.unwrap();
    assert_eq!(applied.state, Some(json!({"createdDataset": false})));
    let (_, adopted) = call(&host, &admin, reqwest::Method::GET, &path, None).await;
    assert_eq!(adopted["labels"], json!({"team": "data", "managed-by": "warden"}));
    BigQuery.apply(Change::Delete { spec: &spec, privileged: None, state: applied.state.as_ref() }).await.unwrap();
    let (found, released) = call(&host, &admin, reqwest::Method::GET, &path, None).await;
    assert_eq!(found, 200, "the administrator's dataset stays");
    assert_eq!(released["labels"], json!({"team": "data"}));
    let (kept, _) = call(&host, &admin, reqwest::Method::GET, &format!("{path}/tables/kept"), None).await;
    assert_eq!(kept, 200, "and its table");
}

/// Warden's records, as the registry shows them: one BigQuery data source reading with
/// `account`.
struct OneDataSource {
    account: String,
}

#[async_trait::async_trait]
impl warden_platform::Registry for OneDataSource {
    async fn integrations(
        &self,
        _integration_type: warden_model::IntegrationType,
    ) -> Result<Vec<warden_platform::Registered>, warden_platform::PlatformError> {
        Ok(Vec::new())
    }

    async fn data_sources(
        &self,
        integration_type: warden_model::IntegrationType,
    ) -> Result<Vec<warden_platform::DataSource>, warden_platform::PlatformError> {
        assert_eq!(integration_type, warden_model::IntegrationType::GoogleBigQuery);
        Ok(vec![warden_platform::DataSource {
            id: 7,
            integration_id: warden_model::IntegrationId::new(3).unwrap(),
            name: "sales".into(),
            location: "warden-p.sales".into(),
            state: Some(json!({warden_bigquery::DATA_SOURCE_ACCOUNT: self.account})),
        }])
    }
}

/// An account a data source reads with is refused for the integration; another is not.
#[tokio::test]
async fn an_account_used_by_a_data_source_is_refused() {
    let Some(_host) = emulator() else { return };
    let tokens = google_token::start().await;
    let project = project();
    let email = format!("warden-sa@{project}.iam.gserviceaccount.com");
    let key = tokens.key_file(&project, &email);
    let check = "Basic validation: verify service account not being used for data source connection credentials";
    for (account, expected) in
        [(email.clone(), TestStatus::Failed), ("reader@x.iam.gserviceaccount.com".into(), TestStatus::Passed)]
    {
        let context = CheckContext {
            spec: Arc::new(spec(&key, "US")),
            phase: Phase::Request,
            integration_id: None,
            session: None,
            registry: Arc::new(OneDataSource { account }),
        };
        let results = validate(Arc::new(BigQuery), context, RunOptions::default()).await.unwrap();
        let test = results.validation_tests.iter().find(|t| t.name == check).unwrap();
        assert_eq!(test.status, expected, "{test:?}");
        if expected == TestStatus::Failed {
            let text = test.message.as_deref().unwrap();
            assert!(text.starts_with("Native BigQuery doesn't support the reuse of service accounts"), "{text}");
            assert!(text.contains("data source sales (id 7)"), "{text}");
        }
    }
}
