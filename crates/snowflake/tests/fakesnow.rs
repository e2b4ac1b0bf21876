//! The connector protocol client against fakesnow (PyPI `fakesnow[server]`, a Snowflake
//! emulator speaking the connectors' HTTP protocol), which `cargo xtask ci` starts and names
//! in `WARDEN_TEST_FAKESNOW_URL`: login, statements whose rows come as Arrow IPC and as JSON,
//! Snowflake's errors as typed kinds, and a closed session refused.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

use warden_platform::ErrorKind;
use warden_snowflake::client::{Endpoint, Login, Session, login};

fn endpoint() -> Option<Endpoint> {
    match std::env::var("WARDEN_TEST_FAKESNOW_URL") {
        Ok(url) => Some(Endpoint { base_url: url, account: "WARDEN_TEST".into() }),
        Err(_) => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs fakesnow (cargo xtask ci)");
            eprintln!("WARDEN_TEST_FAKESNOW_URL is not set: skipped");
            None
        }
    }
}

async fn session(endpoint: &Endpoint) -> Session {
    let mut parameters = serde_json::Map::new();
    // fakesnow: a database of this session's own, so tests do not see each other's objects.
    parameters.insert("FAKESNOW_DB_PATH".into(), ":isolated:".into());
    let login_as = Login {
        warehouse: Some("WH".into()),
        session_parameters: parameters,
        ..Login::password("WARDEN_SYSTEM", "S3CRET-pw")
    };
    login(endpoint, &login_as).await.unwrap()
}

#[tokio::test]
async fn rows_come_back_from_arrow_and_json_results() {
    let Some(endpoint) = endpoint() else { return };
    let session = session(&endpoint).await;
    let selected = session.query("SELECT 1 AS X, 'a' AS Y, NULL AS Z").await.unwrap();
    assert_eq!(selected.columns, ["X", "Y", "Z"]);
    assert_eq!(selected.rows, vec![vec![Some("1".to_owned()), Some("a".to_owned()), None]]);

    session.query("CREATE DATABASE IF NOT EXISTS WARDEN_CLIENT_TEST").await.unwrap();
    let databases = session.query("SHOW DATABASES LIKE 'WARDEN_CLIENT_TEST'").await.unwrap();
    let names = databases.column("name").unwrap();
    assert!(names.iter().any(|n| n.is_some_and(|n| n.eq_ignore_ascii_case("WARDEN_CLIENT_TEST"))), "{databases:?}");

    session.query("CREATE SCHEMA IF NOT EXISTS WARDEN_CLIENT_TEST.PUBLIC").await.unwrap();
    session.query("CREATE TABLE WARDEN_CLIENT_TEST.PUBLIC.T (ID INT)").await.unwrap();
    let inserted = session.query("INSERT INTO WARDEN_CLIENT_TEST.PUBLIC.T VALUES (1), (2)").await.unwrap();
    assert_eq!(inserted.rows.len(), 1, "DML answers one row of counts: {inserted:?}");
    assert_eq!(inserted.rows[0][0].as_deref(), Some("2"), "{inserted:?}");
    let counted = session.query("SELECT COUNT(*) AS N FROM WARDEN_CLIENT_TEST.PUBLIC.T").await.unwrap();
    assert_eq!(counted.column("n").unwrap(), [Some("2")]);
    session.close().await;
}

#[tokio::test]
async fn snowflake_errors_are_typed_and_carry_their_code() {
    let Some(endpoint) = endpoint() else { return };
    let session = session(&endpoint).await;
    let missing = session.query("SELECT * FROM NO_SUCH_DB.NO_SUCH_SCHEMA.NO_SUCH_TABLE").await.unwrap_err();
    assert_eq!(missing.kind(), Some(ErrorKind::NotFound), "{missing}");
    assert!(missing.to_string().contains("Snowflake error 002003"), "{missing}");
    assert!(missing.to_string().starts_with("not found: SELECT * FROM"), "{missing}");
    session.close().await;
}

#[tokio::test]
async fn nothing_secret_is_shown_and_an_account_nobody_answers_is_unreachable() {
    let Some(endpoint) = endpoint() else { return };
    let session = session(&endpoint).await;
    let debug = format!("{session:?}");
    assert!(!debug.contains("S3CRET"), "{debug}");
    assert!(debug.contains("[REDACTED]"), "the session token is a secret too: {debug}");
    session.close().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nobody = Endpoint { base_url: format!("http://127.0.0.1:{port}"), account: "X".into() };
    let refused = login(&nobody, &Login::password("U", "S3CRET-pw")).await.unwrap_err();
    assert_eq!(refused.kind(), Some(ErrorKind::Unreachable), "{refused}");
    assert!(!refused.to_string().contains("S3CRET"), "{refused}");
}
