//! A STAND-IN, not Snowflake: a few lines of Snowflake's connector protocol for what fakesnow
//! cannot run (roles). It answers the login with a token, `USE ROLE` with success or, for a
//! role the user was not granted, Snowflake's documented error (`003013`, SQL state `42501`,
//! "Requested role ... is not assigned to the executing user"), and `SHOW ROLES LIKE` with
//! the columns Snowflake documents for SHOW ROLES (created_on, name, is_default, is_current,
//! is_inherited, assigned_to_users, granted_to_roles, granted_roles, owner, comment) as a JSON
//! rowset, the form Snowflake uses when it does not send Arrow. Everything else answers an
//! empty result. The checks that read these answers are tested here against it; their
//! statements and the protocol itself are tested against fakesnow (`checks.rs`).

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};
use warden_model::{IntegrationSpec, TestStatus};
use warden_platform::{CheckContext, NoRecords, Phase};
use warden_snowflake::Snowflake;
use warden_validation::{RunOptions, validate};

/// What the stand-in's account holds.
#[derive(Clone, Default)]
struct Account {
    /// Roles that exist.
    roles: Vec<&'static str>,
    /// Roles the signed-in user was granted.
    granted: Vec<&'static str>,
    /// Role inheritance: (parent, child) where the parent has USAGE on the child.
    inherits: Vec<(&'static str, &'static str)>,
    /// Owners of roles, where not USERADMIN.
    owners: Vec<(&'static str, &'static str)>,
}

/// SHOW GRANTS TO USER's documented columns.
const GRANTS_TO_USER_COLUMNS: [&str; 5] = ["created_on", "role", "granted_to", "grantee_name", "granted_by"];
/// SHOW GRANTS TO ROLE's documented columns.
const GRANTS_TO_ROLE_COLUMNS: [&str; 8] =
    ["created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option", "granted_by"];

const SHOW_ROLES_COLUMNS: [&str; 10] = [
    "created_on",
    "name",
    "is_default",
    "is_current",
    "is_inherited",
    "assigned_to_users",
    "granted_to_roles",
    "granted_roles",
    "owner",
    "comment",
];

fn rows(columns: &[&str], rows: Vec<Vec<Value>>) -> Json<Value> {
    let rowtype: Vec<Value> = columns.iter().map(|c| json!({"name": c, "type": "text", "nullable": true})).collect();
    Json(json!({"data": {"rowtype": rowtype, "rowset": rows, "total": rows.len(), "queryResultFormat": "json"},
        "success": true, "code": null, "message": null}))
}

async fn query(State(account): State<Arc<Account>>, Json(body): Json<Value>) -> Json<Value> {
    let sql = body["sqlText"].as_str().unwrap_or_default();
    let quoted = sql.split('"').nth(1).or_else(|| sql.split('\'').nth(1)).unwrap_or_default().to_owned();
    if sql.starts_with("USE ROLE") {
        if account.granted.contains(&quoted.as_str()) {
            return rows(&["status"], vec![vec![json!("Statement executed successfully.")]]);
        }
        return Json(json!({"data": {"errorCode": "003013", "sqlState": "42501"}, "code": "003013",
            "message": format!("SQL access control error: Requested role '{quoted}' is not assigned to the executing user. Specify another role to activate."),
            "success": false}));
    }
    if sql.starts_with("SHOW ROLES LIKE") {
        // The literal as Snowflake reads it (`\\` is one backslash), then LIKE: `\_` is an
        // underscore, a final `%` any rest.
        let pattern = quoted.replace("\\\\", "\\").replace("\\_", "_");
        let matches = |role: &str| match pattern.strip_suffix('%') {
            Some(prefix) => role.starts_with(prefix),
            None => role == pattern,
        };
        let owner = |role: &str| account.owners.iter().find(|(r, _)| *r == role).map_or("USERADMIN", |(_, o)| *o);
        let found = account.roles.iter().filter(|r| matches(r)).map(|r| {
            vec![
                json!("2026-11-01 00:00:00.000 -0800"),
                json!(r),
                json!("N"),
                json!("N"),
                json!("N"),
                json!("0"),
                json!("0"),
                json!("0"),
                json!(owner(r)),
                json!(""),
            ]
        });
        return rows(&SHOW_ROLES_COLUMNS, found.collect());
    }
    if sql.starts_with("SHOW GRANTS TO USER") {
        let granted = account
            .granted
            .iter()
            .map(|r| vec![json!("2026-11-01"), json!(r), json!("USER"), json!(quoted), json!("")]);
        return rows(&GRANTS_TO_USER_COLUMNS, granted.collect());
    }
    if sql.starts_with("SHOW GRANTS TO ROLE") {
        let inherited = account.inherits.iter().filter(|(parent, _)| *parent == quoted).map(|(_, child)| {
            vec![
                json!("2026-11-01"),
                json!("USAGE"),
                json!("ROLE"),
                json!(child),
                json!("ROLE"),
                json!(quoted),
                json!("false"),
                json!("SECURITYADMIN"),
            ]
        });
        let account_grant = vec![
            json!("2026-11-01"),
            json!("CREATE DATABASE"),
            json!("ACCOUNT"),
            json!("ACME"),
            json!("ROLE"),
            json!(quoted),
            json!("false"),
            json!("SYSADMIN"),
        ];
        return rows(&GRANTS_TO_ROLE_COLUMNS, inherited.chain(std::iter::once(account_grant)).collect());
    }
    rows(&["name"], Vec::new())
}

async fn start(account: Account) -> String {
    let app = axum::Router::new()
        .route(
            "/session/v1/login-request",
            post(|| async { Json(json!({"data": {"token": "stand-in-token"}, "success": true})) }),
        )
        .route("/queries/v1/query-request", post(query))
        .route("/session", post(|| async { Json(json!({"success": true})) }))
        .with_state(Arc::new(account));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("127.0.0.1:{port}")
}

async fn results(address: &str, impersonation: bool) -> HashMap<String, (TestStatus, Option<String>)> {
    let (host, port) = address.split_once(':').unwrap();
    let payload = json!({"type": "Snowflake", "autoBootstrap": true, "config": {"host": host,
        "port": port.parse::<u16>().unwrap(), "warehouse": "WH", "database": "WARDEN_DB", "role": "WARDEN_ADMIN",
        "authenticationType": "userPassword", "username": "ADMIN", "password": "pw",
        "privilegedConnectArgs": "protocol=http", "impersonation": {"enabled": impersonation, "role": "WARDEN_IMPERSONATION"}}});
    let spec = Arc::new(IntegrationSpec::from_value(&payload, None).unwrap());
    let context = CheckContext {
        spec,
        phase: Phase::Request,
        integration_id: None,
        session: None,
        registry: Arc::new(NoRecords),
    };
    let results = validate(Arc::new(Snowflake), context, RunOptions::default()).await.unwrap();
    results.validation_tests.into_iter().map(|t| (t.name, (t.status, t.message))).collect()
}

const ROLE: &str = "Initial validation: validate access to privileged role";
const IMPERSONATION: &str = "Validate automatic: impersonation role does not exist";

#[tokio::test]
async fn a_role_the_user_lacks_fails_its_own_check_not_the_connection() {
    let granted =
        start(Account { roles: vec!["WARDEN_ADMIN"], granted: vec!["WARDEN_ADMIN"], ..Account::default() }).await;
    assert_eq!(results(&granted, false).await[ROLE].0, TestStatus::Passed);
    let lacking = start(Account { roles: vec!["WARDEN_ADMIN"], ..Account::default() }).await;
    let found = results(&lacking, false).await;
    assert_eq!(found["Initial validation: basic connection test"].0, TestStatus::Passed, "{found:?}");
    let (status, message) = &found[ROLE];
    assert_eq!(*status, TestStatus::Failed);
    let message = message.as_deref().unwrap();
    assert!(message.starts_with("User does not have access to the privileged role."), "{message}");
    assert!(message.contains("not allowed: USE ROLE \"WARDEN_ADMIN\": Snowflake error 003013"), "{message}");
}

#[tokio::test]
async fn an_existing_impersonation_role_fails_its_check() {
    let free =
        start(Account { roles: vec!["WARDEN_ADMIN"], granted: vec!["WARDEN_ADMIN"], ..Account::default() }).await;
    assert_eq!(results(&free, true).await[IMPERSONATION].0, TestStatus::Passed);
    let taken = start(Account {
        roles: vec!["WARDEN_ADMIN", "WARDEN_IMPERSONATION"],
        granted: vec!["WARDEN_ADMIN"],
        ..Account::default()
    })
    .await;
    let (status, message) = &results(&taken, true).await[IMPERSONATION];
    assert_eq!(*status, TestStatus::Failed);
    assert!(message.as_deref().unwrap().ends_with("(role WARDEN_IMPERSONATION exists)"), "{message:?}");
}

const GRANTS: &str = "Validate automatic bootstrap user grants";

/// The privileged user must hold every role the setup script switches to (SYSADMIN,
/// USERADMIN, SECURITYADMIN), directly or through the roles it holds: ACCOUNTADMIN inherits
/// SYSADMIN and SECURITYADMIN, which inherits USERADMIN, as in every Snowflake account.
#[tokio::test]
async fn the_bootstrap_user_must_hold_every_role_the_setup_switches_to() {
    let hierarchy =
        vec![("ACCOUNTADMIN", "SYSADMIN"), ("ACCOUNTADMIN", "SECURITYADMIN"), ("SECURITYADMIN", "USERADMIN")];
    let admin = start(Account {
        roles: vec!["WARDEN_ADMIN"],
        granted: vec!["WARDEN_ADMIN", "ACCOUNTADMIN"],
        inherits: hierarchy.clone(),
        ..Account::default()
    })
    .await;
    assert_eq!(results(&admin, false).await[GRANTS].0, TestStatus::Passed);
    let partial = start(Account {
        roles: vec!["WARDEN_ADMIN"],
        granted: vec!["WARDEN_ADMIN", "SYSADMIN"],
        inherits: hierarchy,
        ..Account::default()
    })
    .await;
    let (status, message) = &results(&partial, false).await[GRANTS];
    assert_eq!(*status, TestStatus::Failed);
    let message = message.as_deref().unwrap();
    assert!(message.starts_with("The user running the automatic setup lacks a grant it needs."), "{message}");
    assert!(
        message.ends_with("(the setup switches to SECURITYADMIN, USERADMIN, which user ADMIN does not hold)"),
        "{message}"
    );
}

const PREFIX: &str = "Initial validation: table grants role prefix is unique";

/// Per-user roles with Warden's prefix that another system role owns belong to another
/// Warden instance (whose roles this one's removal would drop): the check fails and names
/// them; roles owned by this integration's own system role pass.
#[tokio::test]
async fn another_wardens_table_grant_roles_fail_the_prefix_check() {
    let granted = vec!["WARDEN_ADMIN"];
    let ours = start(Account {
        roles: vec!["WARDEN_ADMIN", "WARDEN_USER_ALICE"],
        granted: granted.clone(),
        owners: vec![("WARDEN_USER_ALICE", "WARDEN_DB_SYSTEM")],
        ..Account::default()
    })
    .await;
    assert_eq!(results(&ours, false).await[PREFIX].0, TestStatus::Passed);
    let theirs = start(Account {
        roles: vec!["WARDEN_ADMIN", "WARDEN_USER_BOB", "WARDENXUSERX"],
        granted,
        owners: vec![("WARDEN_USER_BOB", "OTHER_DB_SYSTEM")],
        ..Account::default()
    })
    .await;
    let (status, message) = &results(&theirs, false).await[PREFIX];
    assert_eq!(*status, TestStatus::Failed);
    let message = message.as_deref().unwrap();
    assert!(
        message.starts_with("The Snowflake table grants role prefix is used by another Warden instance"),
        "{message}"
    );
    assert!(message.ends_with("(roles WARDEN_USER_BOB exist and are not owned by WARDEN_DB_SYSTEM)"), "{message}");
}
