//! The Synapse adapter against the TDS stand-in of `tests/src/tds.rs` and its catalogue
//! (`tests/src/tds_catalogue.rs`), both included here and written from MS-TDS (no TDS server
//! runs here): the four checks passing and failing for real, an automatic create whose
//! objects the catalogue then holds, an edit, a delete that removes them, a setup refused
//! when its objects exist, and a setup that fails part way and removes what it made.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

#[path = "../../../tests/src/tds.rs"]
mod tds;
#[path = "../../../tests/src/tds_catalogue.rs"]
mod tds_catalogue;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tds_catalogue::Catalogue;
use warden_model::{IntegrationSpec, PlatformConfig, TestStatus};
use warden_platform::{Change, CheckContext, NoRecords, Phase, Platform as _};
use warden_synapse::Synapse;
use warden_validation::{RunOptions, validate};

const ADMIN: &str = "sqladmin";
const ADMIN_PASSWORD: &str = "Adm1n-Passw0rd!'x";

async fn server() -> Option<(u16, Arc<Catalogue>)> {
    let (cert, key) = tds::test_certificate()?;
    let catalogue = Arc::new(Catalogue::new("analytics", ADMIN, ADMIN_PASSWORD));
    let port = tds::start(catalogue.clone(), &cert, &key).await;
    Some((port, catalogue))
}

fn payload(port: u16, auto: bool, user: &str, password: &str, impersonation: bool) -> Value {
    json!({"type": "Azure Synapse Analytics", "autoBootstrap": auto, "config": {"host": "127.0.0.1", "port": port,
        "database": "analytics", "schema": "warden_views", "authenticationType": "userPassword",
        "username": user, "password": password, "impersonation": {"enabled": impersonation, "role": "warden_imp"}}})
}

fn spec(payload: &Value) -> IntegrationSpec {
    IntegrationSpec::from_value(payload, None).unwrap()
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
    let results = validate(Arc::new(Synapse), context, RunOptions::default()).await.unwrap();
    results.validation_tests.into_iter().map(|t| (t.name, (t.status, t.message))).collect()
}

fn passed(results: &Results) {
    for (name, (status, message)) in results {
        assert!(matches!(status, TestStatus::Passed | TestStatus::Skipped), "{name}: {status:?} {message:?}");
    }
}

const CONNECT: &str = "Initial validation: connect";
const MANAGE: &str = "Validate Warden system user can manage database";
const ROLE: &str = "Validate automatic: impersonation role does not exist";

/// Checks, create, edit and delete, each seen in the stand-in's catalogue.
#[tokio::test]
async fn an_automatic_setup_from_checks_to_removal() {
    let Some((port, catalogue)) = server().await else { return };
    let requested = spec(&payload(port, true, ADMIN, ADMIN_PASSWORD, true));
    let checked = run(&requested, Phase::Request).await;
    assert_eq!(checked[ROLE].0, TestStatus::Passed, "{checked:?}");
    passed(&checked);

    let stored = Synapse.system_account(&requested, None).unwrap();
    let PlatformConfig::AzureSynapse(system) = &stored.config else { panic!() };
    let warden_model::config::SynapseAuthentication::UserPassword { username, password } = &system.authentication;
    assert_eq!(username, "analytics_system");
    Synapse.apply(Change::Create { spec: &stored, privileged: Some(&requested) }).await.unwrap();
    let state = catalogue.snapshot();
    assert_eq!(state.logins.get("analytics_system"), Some(password.expose()), "the login has the generated password");
    let database = &state.databases["analytics"];
    assert_eq!(database.users.get("analytics_system").map(String::as_str), Some("analytics_system"));
    let schemas: Vec<&str> = database.schemas.keys().map(String::as_str).collect();
    assert_eq!(schemas, ["warden_functions", "warden_procedures", "warden_system", "warden_views"]);
    assert!(database.schemas.values().all(|owner| owner == "analytics_system"));
    assert!(database.roles.contains_key("warden_imp"));
    assert!(state.batches.iter().any(|(login, db, sql)| login == ADMIN
        && db == "master"
        && sql.starts_with("IF NOT EXISTS (SELECT 1 FROM sys.sql_logins")));

    // The system account now passes the checks with its own login.
    passed(&run(&stored, Phase::Installed).await);

    // An edit turning impersonation off drops the role.
    let mut off = payload(port, true, ADMIN, ADMIN_PASSWORD, false);
    off["config"]["username"] = json!(username);
    off["config"]["password"] = json!(password.expose());
    let edited = spec(&off);
    Synapse
        .apply(Change::Edit { from: &stored, to: &edited, privileged: Some(&requested), state: None })
        .await
        .unwrap();
    assert!(!catalogue.snapshot().databases["analytics"].roles.contains_key("warden_imp"));

    Synapse.apply(Change::Delete { spec: &edited, privileged: Some(&requested), state: None }).await.unwrap();
    let state = catalogue.snapshot();
    assert!(!state.logins.contains_key("analytics_system"), "the login is gone");
    assert!(state.databases["analytics"].users.is_empty() && state.databases["analytics"].schemas.is_empty());
    // A second delete goes past what is gone.
    Synapse.apply(Change::Delete { spec: &edited, privileged: Some(&requested), state: None }).await.unwrap();
    assert!(
        state.batches.iter().all(|(_, _, sql)| !sql.contains(ADMIN_PASSWORD)),
        "the privileged password is never SQL"
    );
}

/// A wrong password fails the connection with the server's error; equal delimiters fail
/// their test; an existing impersonation role fails its test; a system account without the
/// grants fails the manage check, naming what it lacks.
#[tokio::test]
async fn the_checks_fail_for_real() {
    let Some((port, catalogue)) = server().await else { return };
    let wrong = run(&spec(&payload(port, true, ADMIN, "not-it", true)), Phase::Request).await;
    assert_eq!(wrong[CONNECT].0, TestStatus::Failed);
    let text = wrong[CONNECT].1.clone().unwrap();
    assert!(text.contains("Login failed for user 'sqladmin'.") && text.contains("18456"), "{text}");
    assert!(!text.contains("not-it"), "{text}");
    assert_eq!(wrong[MANAGE].0, TestStatus::Skipped);

    let mut equal = payload(port, true, ADMIN, ADMIN_PASSWORD, false);
    equal["config"]["metadataDelimiters"] = json!({"hashDelimiter": ",", "arrayDelimiter": ","});
    let delimiters = run(&spec(&equal), Phase::Request).await;
    let delimiter_test = &delimiters["Initial validation: delimiters test"];
    assert_eq!(delimiter_test.0, TestStatus::Failed);
    assert_eq!(delimiter_test.1.as_deref(), Some("Hash delimiter and array delimiter must not have the same value."));

    catalogue
        .state
        .lock()
        .unwrap()
        .databases
        .get_mut("analytics")
        .unwrap()
        .roles
        .insert("warden_imp".into(), "dbo".into());
    let role = run(&spec(&payload(port, true, ADMIN, ADMIN_PASSWORD, true)), Phase::Request).await;
    assert_eq!(role[ROLE].0, TestStatus::Failed);
    assert!(role[ROLE].1.as_deref().unwrap().contains("(role warden_imp exists in database analytics)"));

    {
        let mut state = catalogue.state.lock().unwrap();
        state.logins.insert("reader".into(), "Reader-Passw0rd!".into());
        let database = state.databases.get_mut("analytics").unwrap();
        database.users.insert("reader".into(), "reader".into());
        database.grants.insert(("CREATE VIEW".into(), "reader".into()));
    }
    let manual = run(&spec(&payload(port, false, "reader", "Reader-Passw0rd!", false)), Phase::Request).await;
    assert_eq!(manual[MANAGE].0, TestStatus::Failed);
    let text = manual[MANAGE].1.clone().unwrap();
    assert!(text.starts_with("User does not have permission to manage database."), "{text}");
    assert!(text.contains("reader lacks CREATE FUNCTION, CREATE PROCEDURE, CREATE TABLE"), "{text}");
}

/// A setup whose objects exist already is refused before it changes anything; one that
/// fails part way removes exactly what it made.
#[tokio::test]
async fn a_failed_setup_removes_only_what_it_made() {
    let Some((port, catalogue)) = server().await else { return };
    let requested = spec(&payload(port, true, ADMIN, ADMIN_PASSWORD, false));
    let stored = Synapse.system_account(&requested, None).unwrap();

    catalogue
        .state
        .lock()
        .unwrap()
        .databases
        .get_mut("analytics")
        .unwrap()
        .schemas
        .insert("warden_views".into(), "dbo".into());
    let before = catalogue.snapshot();
    let refused = Synapse.apply(Change::Create { spec: &stored, privileged: Some(&requested) }).await.unwrap_err();
    assert!(refused.to_string().contains("schema warden_views already exists"), "{refused}");
    let after = catalogue.snapshot();
    assert_eq!(after.logins, before.logins);
    assert_eq!(after.databases["analytics"].schemas, before.databases["analytics"].schemas);
    catalogue.state.lock().unwrap().databases.get_mut("analytics").unwrap().schemas.clear();

    catalogue.state.lock().unwrap().refuse_containing = Some("GRANT CREATE VIEW".into());
    let failed = Synapse.apply(Change::Create { spec: &stored, privileged: Some(&requested) }).await.unwrap_err();
    assert!(failed.to_string().contains("permission denied"), "{failed}");
    assert_eq!(failed.rollback_failure(), None, "{failed}");
    let state = catalogue.snapshot();
    assert!(!state.logins.contains_key("analytics_system"), "the login it made is gone");
    assert!(state.logins.contains_key(ADMIN), "the privileged login stays");
    assert!(state.databases["analytics"].users.is_empty() && state.databases["analytics"].schemas.is_empty());
}

/// Hostile names reach the server as one quoted name each: the objects are made with
/// exactly those names, and nothing else runs.
#[tokio::test]
async fn hostile_names_are_names() {
    let Some((port, catalogue)) = server().await else { return };
    let schema = "w]v'; DROP LOGIN sqladmin; --";
    let role = "r]]'x\" [y]";
    let mut hostile = payload(port, true, ADMIN, ADMIN_PASSWORD, true);
    hostile["config"]["schema"] = json!(schema);
    hostile["config"]["impersonation"]["role"] = json!(role);
    let requested = spec(&hostile);
    passed(&run(&requested, Phase::Request).await);
    let stored = Synapse.system_account(&requested, None).unwrap();
    Synapse.apply(Change::Create { spec: &stored, privileged: Some(&requested) }).await.unwrap();
    let state = catalogue.snapshot();
    assert!(state.databases["analytics"].schemas.contains_key(schema), "{:?}", state.databases["analytics"].schemas);
    assert!(state.databases["analytics"].roles.contains_key(role), "{:?}", state.databases["analytics"].roles);
    assert!(state.logins.contains_key(ADMIN), "no injected statement ran");
    Synapse.apply(Change::Delete { spec: &stored, privileged: Some(&requested), state: None }).await.unwrap();
    let state = catalogue.snapshot();
    assert!(state.databases["analytics"].schemas.is_empty() && state.databases["analytics"].roles.is_empty());
    assert!(state.logins.contains_key(ADMIN));
}
