//! The Snowflake adapter's checks through the validation runner against fakesnow (see
//! `fakesnow.rs`): the connection, the default warehouse (fakesnow has one,
//! `FAKESNOW_WAREHOUSE`) and, before an automatic setup, that its database does not exist,
//! each passing and failing for real; `protocol=http` only towards loopback.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use warden_model::{IntegrationSpec, TestStatus};
use warden_platform::{CheckContext, NoRecords, Phase, Platform as _};
use warden_snowflake::Snowflake;
use warden_snowflake::client::{Endpoint, Login, login};
use warden_validation::{RunOptions, validate};

fn fakesnow() -> Option<url::Url> {
    match std::env::var("WARDEN_TEST_FAKESNOW_URL") {
        Ok(url) => Some(url::Url::parse(&url).unwrap()),
        Err(_) => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs fakesnow (cargo xtask ci)");
            eprintln!("WARDEN_TEST_FAKESNOW_URL is not set: skipped");
            None
        }
    }
}

fn payload(url: &url::Url, auto: bool, warehouse: &str, database: &str) -> Value {
    let mut config = json!({"host": url.host_str().unwrap(), "port": url.port().unwrap(), "warehouse": warehouse,
        "database": database, "authenticationType": "userPassword", "username": "WARDEN_SYSTEM",
        "password": "S3CRET-pw", "connectArgs": "protocol=http", "privilegedConnectArgs": "protocol=http"});
    if auto {
        config["role"] = json!("ACCOUNTADMIN");
    }
    json!({"type": "Snowflake", "autoBootstrap": auto, "config": config})
}

async fn results(payload: &Value, phase: Phase) -> HashMap<String, (TestStatus, Option<String>)> {
    let spec = Arc::new(IntegrationSpec::from_value(payload, None).unwrap());
    let context = CheckContext { spec, phase, integration_id: None, session: None, registry: Arc::new(NoRecords) };
    let results = validate(Arc::new(Snowflake), context, RunOptions::default()).await.unwrap();
    results.validation_tests.into_iter().map(|t| (t.name, (t.status, t.message))).collect()
}

const CONNECT: &str = "Initial validation: basic connection test";
const WAREHOUSE: &str = "Initial validation: default warehouse access test";
const DATABASE: &str = "Validate automatic: database does not exist";
const ROLE: &str = "Initial validation: validate access to privileged role";

#[tokio::test]
async fn the_warehouse_check_passes_and_fails_for_real() {
    let Some(url) = fakesnow() else { return };
    let found = results(&payload(&url, false, "FAKESNOW_WAREHOUSE", "WARDEN_DB"), Phase::Installed).await;
    assert_eq!(found[CONNECT].0, TestStatus::Passed, "{found:?}");
    assert_eq!(found[WAREHOUSE].0, TestStatus::Passed, "{found:?}");
    let missing = results(&payload(&url, false, "NO_SUCH_WAREHOUSE", "WARDEN_DB"), Phase::Installed).await;
    let (status, message) = &missing[WAREHOUSE];
    assert_eq!(*status, TestStatus::Failed);
    assert!(message.as_deref().unwrap().starts_with("Unable to access default warehouse."), "{message:?}");
    assert!(message.as_deref().unwrap().ends_with("(warehouse NO_SUCH_WAREHOUSE is not visible to this user)"));
}

#[tokio::test]
async fn the_database_check_fails_once_the_database_exists() {
    let Some(url) = fakesnow() else { return };
    let database = format!("WARDEN_CHECK_{}", std::process::id());
    let auto = payload(&url, true, "FAKESNOW_WAREHOUSE", &database);
    let before = results(&auto, Phase::Request).await;
    assert_eq!(before[DATABASE].0, TestStatus::Passed);
    // fakesnow takes any USE ROLE; a role not granted is Snowflake's 003013, a failed check.
    assert_eq!(before[ROLE].0, TestStatus::Passed, "{before:?}");
    let endpoint = Endpoint { base_url: url.as_str().trim_end_matches('/').to_owned(), account: "X".into() };
    let session = login(&endpoint, &Login::password("ADMIN", "pw")).await.unwrap();
    session.query(&format!("CREATE DATABASE \"{database}\"")).await.unwrap();
    session.close().await;
    let (status, message) = &results(&auto, Phase::Request).await[DATABASE];
    assert_eq!(*status, TestStatus::Failed);
    assert!(message.as_deref().unwrap().ends_with(&format!("(database {database} exists)")), "{message:?}");
}

#[tokio::test]
async fn plain_http_is_refused_towards_a_remote_account() {
    let remote = json!({"type": "Snowflake", "autoBootstrap": false, "config": {"host": "acme.snowflakecomputing.com",
        "warehouse": "WH", "database": "WARDEN_DB", "authenticationType": "userPassword", "username": "U",
        "password": "pw", "connectArgs": "protocol=http"}});
    let spec = IntegrationSpec::from_value(&remote, None).unwrap();
    let problems = Snowflake.check_config(&spec);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "config.connectArgs");
    let refused = Snowflake.open(&spec, Phase::Installed).await.unwrap_err();
    assert!(refused.to_string().contains("only to a loopback address"), "{refused}");
}

/// Key-pair sign-in: the adapter signs a token with the configured key (fakesnow takes it
/// without checking the signature; the signature is checked in `key_pair`'s own tests).
#[tokio::test]
async fn a_key_pair_signs_in() {
    let Some(url) = fakesnow() else { return };
    let mut key_pair = payload(&url, false, "FAKESNOW_WAREHOUSE", "WARDEN_DB");
    let config = key_pair["config"].as_object_mut().unwrap();
    config.remove("password");
    config.insert("authenticationType".into(), json!("keyPair"));
    config.insert("privateKey".into(), json!(include_str!("fixtures/test_key_encrypted.p8")));
    config.insert("privateKeyPassword".into(), json!("fixture-passphrase"));
    let found = results(&key_pair, Phase::Installed).await;
    assert_eq!(found[CONNECT].0, TestStatus::Passed, "{found:?}");
    a_wrong_passphrase_fails_the_connection_test(&key_pair).await;
}

async fn a_wrong_passphrase_fails_the_connection_test(key_pair: &Value) {
    let mut wrong = key_pair.clone();
    wrong["config"]["privateKeyPassword"] = json!("not-the-passphrase");
    let found = results(&wrong, Phase::Installed).await;
    let (status, message) = &found[CONNECT];
    assert_eq!(*status, TestStatus::Failed);
    assert!(message.as_deref().unwrap().contains("does not open with privateKeyPassword"), "{message:?}");
    assert!(!message.as_deref().unwrap().contains("not-the-passphrase"), "{message:?}");
}
