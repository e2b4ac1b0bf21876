//! Automatic setup through the adapter against fakesnow (see `fakesnow.rs`): a create makes
//! Warden's database and schemas for real, an edit runs only the difference, a delete takes
//! the database away, and a create that fails part way removes what it had made.
//!
//! fakesnow cannot run roles, users with keys, grants or Snowflake Scripting blocks. Those
//! statements go through its `nop_regexes` login parameter (sent as a `privilegedConnectArgs`
//! session parameter), which answers them with success without doing anything: [`NOP`] lists
//! each one. What they would do is pinned by the scripts' snapshots and checked from
//! Snowflake's documented result shapes in `stand_in.rs`.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

use serde_json::{Value, json};
use warden_model::config::SnowflakeAuthentication;
use warden_model::{IntegrationSpec, PlatformConfig};
use warden_platform::{Change, Platform as _};
use warden_snowflake::Snowflake;
use warden_snowflake::client::{Endpoint, Login, Session, login};

/// The statements fakesnow cannot run, answered with success without effect.
const NOP: [&str; 7] = [
    "^GRANT .*",
    "^REVOKE .*",
    "^CREATE ROLE .*",
    "^CREATE USER .*",
    "^DROP USER .*",
    "^DROP ROLE .*",
    "^EXECUTE IMMEDIATE .*",
];

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

/// The privileged request of an automatic setup, with `nop` as fakesnow's no-op statements.
fn request(url: &url::Url, database: &str, nop: &[&str]) -> Value {
    let privileged_args = format!("protocol=http&nop_regexes={}", json!(nop));
    json!({"type": "Snowflake", "autoBootstrap": true, "config": {"host": url.host_str().unwrap(),
        "port": url.port().unwrap(), "warehouse": "FAKESNOW_WAREHOUSE", "database": database,
        "authenticationType": "userPassword", "username": "ADMIN", "password": "Adm1n-pw", "role": "ACCOUNTADMIN",
        "connectArgs": "protocol=http", "privilegedConnectArgs": privileged_args,
        "userRolePattern": {"exclude": ["ACCOUNTADMIN"]}}})
}

async fn admin(url: &url::Url) -> Session {
    let endpoint = Endpoint { base_url: url.as_str().trim_end_matches('/').to_owned(), account: "X".into() };
    login(&endpoint, &Login::password("ADMIN", "pw")).await.unwrap()
}

async fn names(session: &Session, sql: &str) -> Vec<String> {
    session
        .query(sql)
        .await
        .unwrap()
        .column("name")
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn an_automatic_setup_creates_edits_and_deletes_for_real() {
    let Some(url) = fakesnow() else { return };
    let database = format!("WARDEN_SETUP_{}", std::process::id());
    let privileged = IntegrationSpec::from_value(&request(&url, &database, &NOP), None).unwrap();
    let stored = Snowflake.system_account(&privileged, None).unwrap();
    let PlatformConfig::Snowflake(config) = &stored.config else { panic!() };
    let SnowflakeAuthentication::KeyPair { username, private_key, private_key_password } = &config.authentication
    else {
        panic!("the system account signs in with a key pair: {:?}", config.authentication)
    };
    assert_eq!(username, &format!("{database}_SYSTEM_ACCOUNT"));
    assert!(private_key.expose().starts_with("-----BEGIN PRIVATE KEY-----") && private_key_password.is_none());
    assert!(!format!("{stored:?}").contains("BEGIN PRIVATE KEY"), "the key never shows");
    // An edit keeps the stored key.
    let again = Snowflake.system_account(&privileged, Some(&stored)).unwrap();
    assert_eq!(again, stored);

    Snowflake.apply(Change::Create { spec: &stored, privileged: Some(&privileged) }).await.unwrap();
    let admin = admin(&url).await;
    assert!(names(&admin, "SHOW DATABASES").await.contains(&database));
    let schemas = names(&admin, &format!("SHOW SCHEMAS IN DATABASE \"{database}\"")).await;
    for schema in ["WARDEN_PROCEDURES", "WARDEN_FUNCTIONS", "WARDEN_SYSTEM", "WARDEN_POLICIES"] {
        assert!(schemas.iter().any(|s| s == schema), "{schema} in {schemas:?}");
    }
    let excluded =
        admin.query(&format!("SELECT \"NAME\" FROM \"{database}\".\"WARDEN_SYSTEM\".\"ALLOW_LIST\"")).await.unwrap();
    assert_eq!(excluded.rows, vec![vec![Some("ACCOUNTADMIN".to_owned())]]);

    // An edit of the excluded roles rewrites the allow list, and only that.
    let mut edited = stored.clone();
    let PlatformConfig::Snowflake(config) = &mut edited.config else { panic!() };
    config.user_role_pattern.exclude = vec!["SYSADMIN".into(), "O'BRIEN".into()];
    Snowflake
        .apply(Change::Edit { from: &stored, to: &edited, privileged: Some(&privileged), state: None })
        .await
        .unwrap();
    let excluded = admin
        .query(&format!("SELECT \"NAME\" FROM \"{database}\".\"WARDEN_SYSTEM\".\"ALLOW_LIST\" ORDER BY 1"))
        .await
        .unwrap();
    assert_eq!(excluded.rows, vec![vec![Some("O'BRIEN".to_owned())], vec![Some("SYSADMIN".to_owned())]]);

    Snowflake.apply(Change::Delete { spec: &edited, privileged: Some(&privileged), state: None }).await.unwrap();
    assert!(!names(&admin, "SHOW DATABASES").await.contains(&database), "the database is gone");
    // A delete again (after one that stopped part way) goes past what is gone.
    Snowflake.apply(Change::Delete { spec: &edited, privileged: Some(&privileged), state: None }).await.unwrap();
    admin.close().await;
}

/// Without `CREATE ROLE` among the no-ops, fakesnow refuses it after the database and its
/// schemas were made: the setup fails naming the statement, and the database is gone.
#[tokio::test]
async fn a_setup_that_fails_part_way_removes_what_it_made() {
    let Some(url) = fakesnow() else { return };
    let database = format!("WARDEN_ROLLBACK_{}", std::process::id());
    let nop: Vec<&str> = NOP.into_iter().filter(|p| *p != "^CREATE ROLE .*").collect();
    let privileged = IntegrationSpec::from_value(&request(&url, &database, &nop), None).unwrap();
    let stored = Snowflake.system_account(&privileged, None).unwrap();
    let error = Snowflake.apply(Change::Create { spec: &stored, privileged: Some(&privileged) }).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&format!("CREATE ROLE \"{database}_SYSTEM\": Snowflake error 001003")), "{message}");
    assert_eq!(error.rollback_failure(), None, "the rollback went through: {message}");
    let admin = admin(&url).await;
    assert!(!names(&admin, "SHOW DATABASES").await.contains(&database), "the database it made is gone");
    admin.close().await;
}
