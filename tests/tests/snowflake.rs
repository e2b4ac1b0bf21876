//! Snowflake end to end: the shipped `warden` binary with its real Snowflake adapter, driven
//! over HTTP, against the fakesnow server `cargo xtask ci` starts (`WARDEN_TEST_FAKESNOW_URL`;
//! see `xtask/fakesnow_server.py` for what its launcher adds). A dry run, an automatic create
//! to `enabled` with Warden's database made for real, the stored system account (a key-pair
//! service user), an edit that adds impersonation and runs only the edit script's
//! difference, a delete that takes the database away, the manual flow with the generated
//! create script, and no secret in any response, log line or store file.
//!
//! fakesnow cannot run roles, users with keys, grants or Snowflake Scripting blocks: those
//! statements go through its `nop_regexes` login parameter, sent as a `privilegedConnectArgs`
//! session parameter, and `warden_e2e::fakesnow::NOP` lists each one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::{Backend, SHIPPED, Server};
use serde_json::{Value, json};
use warden_e2e::fakesnow::{admin, databases, nop_args};

const ADMIN_PASSWORD: &str = "Adm1n-Pr1vileged-pw";

fn fakesnow() -> Option<url::Url> {
    let Ok(url) = std::env::var("WARDEN_TEST_FAKESNOW_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_FAKESNOW_URL");
        eprintln!("WARDEN_TEST_FAKESNOW_URL is not set: skipped");
        return None;
    };
    Some(url::Url::parse(&url).unwrap())
}

static NAMES: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), NAMES.fetch_add(1, Ordering::SeqCst))
}

/// An automatic setup of `database` by the privileged `ADMIN` with role ACCOUNTADMIN.
fn automatic(url: &url::Url, database: &str, impersonation: bool) -> Value {
    json!({"type": "Snowflake", "autoBootstrap": true, "config": {"host": url.host_str().unwrap(),
        "port": url.port().unwrap(), "warehouse": "FAKESNOW_WAREHOUSE", "database": database,
        "authenticationType": "userPassword", "username": "ADMIN", "password": ADMIN_PASSWORD,
        "role": "ACCOUNTADMIN", "connectArgs": "protocol=http", "privilegedConnectArgs": nop_args(),
        "impersonation": {"enabled": impersonation, "role": format!("{database}_IMP")}}})
}

fn privileged() -> Value {
    json!({"config": {"authenticationType": "userPassword", "username": "ADMIN", "password": ADMIN_PASSWORD,
        "role": "ACCOUNTADMIN"}})
}

async fn shipped() -> Server {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    Server::start_binary(SHIPPED, &Backend::Sqlite, &dir, Some(temp), &[]).await
}

/// The statements the adapter ran on Snowflake, in order, from the server's debug log.
fn statements_run(server: &Server) -> Vec<String> {
    server
        .logs()
        .lines()
        .filter(|line| line.contains("running on Snowflake"))
        .filter_map(|line| line.split("statement=").nth(1).map(|s| s.trim().to_owned()))
        .collect()
}

fn secret_free(server: &Server, answers: &[&common::Answer]) {
    for answer in answers {
        assert!(!answer.text.contains(ADMIN_PASSWORD), "the privileged password reached a response: {}", answer.text);
        assert!(!answer.text.contains("PRIVATE KEY"), "a private key reached a response: {}", answer.text);
    }
    let logs = server.logs();
    assert!(logs.contains("DEBUG"), "the log is at debug level");
    for secret in [ADMIN_PASSWORD, "PRIVATE KEY", "Snowflake Token="] {
        assert!(!logs.contains(secret), "{secret} reached the log");
    }
    for file in ["warden.db", "warden.db-wal"] {
        if let Ok(bytes) = std::fs::read(server.data_dir().join(file)) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(ADMIN_PASSWORD), "the privileged password is in the store");
            assert!(!text.contains("PRIVATE KEY"), "the system account's key is in the store in clear");
        }
    }
}

#[tokio::test]
async fn automatic_setup_edit_and_delete_against_fakesnow() {
    let Some(url) = fakesnow() else { return };
    let server = shipped().await;
    let database = unique("WSF_AUTO");

    let dry = server.call("POST", "/integrations?dryRun=true", Some(&automatic(&url, &database, false))).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let tests = dry.body["validationResults"]["validationTests"].as_array().unwrap();
    let statuses: Vec<&str> = tests.iter().map(|t| t["status"].as_str().unwrap()).collect();
    // The seven tests; the impersonation role's is skipped with impersonation off.
    assert_eq!(statuses, ["passed", "passed", "passed", "passed", "passed", "passed", "skipped"], "{}", dry.text);

    let created = server.call("POST", "/integrations", Some(&automatic(&url, &database, false))).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    assert!(databases(&url).await.contains(&database), "the setup made the database");
    let ran = statements_run(&server);
    assert!(ran.contains(&format!("CREATE DATABASE \"{database}\"")), "{ran:?}");
    assert!(
        ran.iter()
            .any(|s| s
                .starts_with(&format!("CREATE USER \"{database}_SYSTEM_ACCOUNT\" TYPE = SERVICE RSA_PUBLIC_KEY ="))),
        "the system account is a key-pair service user: {ran:?}"
    );

    let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    let config = &shown.body["config"];
    assert_eq!(config["authenticationType"], "keyPair", "{}", shown.text);
    assert_eq!(config["username"], format!("{database}_SYSTEM_ACCOUNT"), "Warden stores its system account");
    assert_eq!(config["privateKey"], "[REDACTED]");
    assert!(config.get("password").is_none(), "{}", shown.text);

    // Impersonation on: the edit script runs, and nothing of the create script again.
    let before = statements_run(&server).len();
    let edit = server.call("PUT", &format!("/integrations/{id}"), Some(&automatic(&url, &database, true))).await;
    assert_eq!((edit.status, edit.body["status"].as_str()), (200, Some("editing")), "{}", edit.text);
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    let edit_ran: Vec<String> = statements_run(&server).split_off(before);
    assert_eq!(
        edit_ran,
        [
            "USE ROLE SECURITYADMIN".to_owned(),
            "USE ROLE USERADMIN".to_owned(),
            format!("CREATE ROLE IF NOT EXISTS \"{database}_IMP\""),
            "USE ROLE SECURITYADMIN".to_owned(),
            format!("GRANT OWNERSHIP ON ROLE \"{database}_IMP\" TO ROLE \"{database}_SYSTEM\" COPY CURRENT GRANTS"),
        ],
        "only the difference ran"
    );
    let shown_after = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown_after.body["config"]["impersonation"]["enabled"], true, "{}", shown_after.text);
    assert_eq!(shown_after.body["config"]["username"], format!("{database}_SYSTEM_ACCOUNT"), "the edit keeps it");

    let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&privileged())).await;
    assert_eq!(deleted.body["status"], "deleting", "{}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", server.logs());
    assert!(!databases(&url).await.contains(&database), "delete drops the database");
    secret_free(&server, &[&dry, &created, &shown, &edit, &shown_after, &deleted]);
}

/// The manual flow: the create script for a key-pair system account, run by the
/// administrator (here, statement by statement on fakesnow), then the integration validated
/// with what it made, and its database seen by the warehouse check's neighbour tests.
#[tokio::test]
async fn the_manual_flow_with_the_generated_create_script() {
    let Some(url) = fakesnow() else { return };
    let server = shipped().await;
    let database = unique("WSF_MANUAL");
    let key = include_str!("../../crates/snowflake/tests/fixtures/test_key.p8");
    let manual = json!({"type": "Snowflake", "autoBootstrap": false, "config": {"host": url.host_str().unwrap(),
        "port": url.port().unwrap(), "warehouse": "FAKESNOW_WAREHOUSE", "database": database,
        "authenticationType": "keyPair", "username": format!("{database}_SYSTEM_ACCOUNT"), "privateKey": key,
        "connectArgs": "protocol=http"}});
    let script = server.call("POST", "/integrations/scripts/create", Some(&manual)).await;
    assert_eq!(script.status, 200, "{}", script.text);
    assert!(!script.text.contains("PRIVATE KEY"), "the script holds the public key only");
    let admin = admin(&url).await;
    // The script as an administrator runs it: comments aside, one statement per `;` (this
    // create script has no block and no `;` inside a literal).
    let text: String = script.text.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n");
    let statements: Vec<&str> = text.split(';').map(str::trim).filter(|s| !s.is_empty()).collect();
    assert!(statements.iter().any(|s| s.contains("TYPE = SERVICE RSA_PUBLIC_KEY = 'MIIBIjAN")), "{statements:?}");
    for statement in statements {
        admin.query(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    admin.close().await;
    assert!(databases(&url).await.contains(&database));

    let created = server.call("POST", "/integrations", Some(&manual)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    assert!(statements_run(&server).is_empty(), "a manual setup runs nothing on the platform");
    let deleted = server.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", deleted.text);
    assert!(databases(&url).await.contains(&database), "a manual delete leaves the platform to the administrator");
}
