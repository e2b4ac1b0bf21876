//! Issue 11, item 1, at the adapter: a setup that fails part way removes only what its own
//! statements created. The system account it would create already exists (the validation
//! that refuses this is bypassed: the adapter is called directly, as a race between the
//! check and the setup would), so `CREATE USER` fails after `CREATE DATABASE` succeeded: the
//! rollback drops the database it made and leaves the existing account alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

use serde_json::json;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, Row as _};
use warden_model::IntegrationSpec;
use warden_platform::{Change, Platform as _, PlatformError};
use warden_redshift::Redshift;

async fn exists(admin: &str, sql: &str, name: &str) -> bool {
    let mut connection = PgConnection::connect(admin).await.unwrap();
    sqlx::query(AssertSqlSafe(sql.to_owned())).bind(name).fetch_one(&mut connection).await.unwrap().get(0)
}

#[tokio::test]
async fn a_failed_setup_removes_only_what_it_created() {
    let Ok(admin) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_POSTGRES_URL");
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let url = url::Url::parse(&admin).unwrap();
    let database = format!("wrs_rollback_{}", std::process::id());
    let system = format!("{database}_system");
    let mut connection = PgConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE ROLE {system} LOGIN PASSWORD 'Customer-0wned'")))
        .execute(&mut connection)
        .await
        .unwrap();
    let privileged = IntegrationSpec::from_value(
        &json!({"type": "Redshift", "autoBootstrap": true, "config": {
            "host": url.host_str().unwrap(), "port": url.port().unwrap(), "database": database,
            "initialDatabase": "postgres", "authenticationType": "userPassword",
            "username": url.username(), "password": url.password().unwrap()}}),
        None,
    )
    .unwrap();
    let redshift = Redshift::new();
    let stored = redshift.system_account(&privileged, None).unwrap();
    let error = redshift.apply(Change::Create { spec: &stored, privileged: Some(&privileged) }).await.unwrap_err();
    assert!(matches!(error, PlatformError::SetupFailed { rollback: None, .. }), "{error}");
    assert!(error.to_string().contains("already exists"), "{error}");
    let database_exists = "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)";
    let role_exists = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)";
    assert!(!exists(&admin, database_exists, &database).await, "the database this setup created is removed");
    assert!(exists(&admin, role_exists, &system).await, "the account that existed before is untouched");
    sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE {system}"))).execute(&mut connection).await.unwrap();
}
