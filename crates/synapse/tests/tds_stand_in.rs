//! The TDS stand-in of `tests/src/tds.rs` (included here) against tiberius: a TLS login, a
//! wrong password refused with error 18456, a query answered with rows, an error with its
//! number.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

#[path = "../../../tests/src/tds.rs"]
mod tds;

use std::sync::Arc;

use tds::{Executor, ResultSet, Session, SqlError};
use warden_model::Secret;
use warden_platform::ErrorKind;
use warden_synapse::client::{Connection, Options, Target};

struct Echo;

impl Executor for Echo {
    fn login(&self, login: &str, password: &str, _database: &str) -> Result<(), SqlError> {
        if login == "warden" && password == "Pa55-w0rd;'x" {
            Ok(())
        } else {
            Err(SqlError { number: 18456, class: 14, message: format!("Login failed for user '{login}'.") })
        }
    }

    fn execute(&self, session: &Session, sql: &str) -> Result<Vec<ResultSet>, SqlError> {
        if sql == "boom" {
            return Err(SqlError { number: 262, class: 14, message: "CREATE SCHEMA permission denied.".into() });
        }
        Ok(vec![ResultSet {
            columns: vec!["database".into(), "login".into(), "sql".into(), "nothing".into()],
            rows: vec![vec![Some(session.database.clone()), Some(session.login.clone()), Some(sql.to_owned()), None]],
        }])
    }
}

fn target(port: u16, password: &str) -> Target {
    Target {
        host: "127.0.0.1".into(),
        port,
        database: "analytics".into(),
        user: "warden".into(),
        password: Secret::new(password.to_owned()),
        options: Options::default(),
    }
}

#[tokio::test]
async fn tiberius_signs_in_over_tls_and_runs_a_batch() {
    let Some((cert, key)) = tds::test_certificate() else { return };
    let port = tds::start(Arc::new(Echo), &cert, &key).await;
    let mut connection = Connection::open(&target(port, "Pa55-w0rd;'x")).await.unwrap();
    let rows = connection.query("SELECT N'ünï' AS x").await.unwrap();
    let expected = ["analytics", "warden", "SELECT N'ünï' AS x"].map(|v| Some(v.to_owned()));
    assert_eq!(rows, vec![expected.into_iter().chain([None]).collect::<Vec<_>>()]);
    let refused = connection.execute("boom").await.unwrap_err();
    assert_eq!(refused.kind(), Some(ErrorKind::Forbidden));
    assert!(refused.to_string().contains("SQL Server error 262"), "{refused}");
    connection.close().await;

    let wrong = Connection::open(&target(port, "wrong")).await.unwrap_err();
    assert_eq!(wrong.kind(), Some(ErrorKind::Unauthenticated));
    assert!(wrong.to_string().contains("Login failed for user 'warden'."), "{wrong}");
    assert!(!wrong.to_string().contains("wrong"), "no password in the message: {wrong}");
}
