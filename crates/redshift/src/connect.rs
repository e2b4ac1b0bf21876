//! Connecting to Redshift (or PostgreSQL, which speaks the same protocol): the options a
//! config gives, `connectArgs` read as libpq-style `key=value` pairs, TLS when the server
//! offers it, and a bounded connect time. Credentials come from the config; an error never
//! carries them.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions as _, PgConnection};
use warden_model::config::{RedshiftAuthentication, RedshiftConfig};
use warden_platform::PlatformError;

/// How long a connection attempt may take unless `connectArgs` says `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one connection to `database` with the config's credentials.
pub(crate) async fn connect(config: &RedshiftConfig, database: &str) -> Result<PgConnection, PlatformError> {
    let (username, password) = match &config.authentication {
        RedshiftAuthentication::UserPassword { username, password } => (username.as_str(), password.expose().as_str()),
        RedshiftAuthentication::AccessKey { .. } => {
            return Err(PlatformError::Unsupported(
                "authenticationType accessKey (temporary credentials from GetClusterCredentials) is not supported by this version of Warden yet; use userPassword".into(),
            ));
        }
        RedshiftAuthentication::Okta { .. } => {
            return Err(PlatformError::Unsupported(
                "authenticationType okta is accepted in the config but not supported by this version of Warden yet; use userPassword".into(),
            ));
        }
    };
    let mut options = PgConnectOptions::new()
        .host(config.host.as_str())
        .port(config.port.get())
        .database(database)
        .username(username)
        .password(password)
        .ssl_mode(PgSslMode::Prefer)
        .application_name("warden")
        .disable_statement_logging();
    let mut timeout = CONNECT_TIMEOUT;
    if let Some(args) = &config.connect_args {
        for pair in args.split(['&', ';', ' ']).filter(|p| !p.trim().is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| PlatformError::Unsupported(format!("connectArgs: {pair:?} is not key=value")))?;
            match key.trim() {
                "sslmode" => {
                    let mode = PgSslMode::from_str(value.trim()).map_err(|_| {
                        PlatformError::Unsupported(format!("connectArgs: sslmode {value:?} is not a libpq sslmode"))
                    })?;
                    options = options.ssl_mode(mode);
                }
                "application_name" => options = options.application_name(value.trim()),
                "connect_timeout" => {
                    let secs: u64 = value.trim().parse().map_err(|_| {
                        PlatformError::Unsupported(format!(
                            "connectArgs: connect_timeout {value:?} is not a number of seconds"
                        ))
                    })?;
                    timeout = Duration::from_secs(secs.clamp(1, 300));
                }
                other => {
                    return Err(PlatformError::Unsupported(format!(
                        "connectArgs: {other:?} is not supported (use sslmode, application_name, connect_timeout)"
                    )));
                }
            }
        }
    }
    match tokio::time::timeout(timeout, options.connect()).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(PlatformError::Connect(describe(&error))),
        Err(_) => Err(PlatformError::Connect(format!(
            "no answer from {}:{} within {} s",
            config.host.as_str(),
            config.port.get(),
            timeout.as_secs()
        ))),
    }
}

/// The server's or the network's own words for an error (sqlx never includes the password).
pub(crate) fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}
