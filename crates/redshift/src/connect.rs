//! Connecting to Redshift (or PostgreSQL, which speaks the same protocol): the options a
//! config gives, `connectArgs` read as the Redshift drivers write them, TLS required unless
//! the config turns it off by name (so no password is ever sent in clear to a server that
//! did not offer TLS), and a bounded connect time. With `accessKey` the user and password are Redshift's temporary
//! credentials ([`crate::aws`]). Credentials come from the config; an error never carries
//! them.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions as _, PgConnection};
use warden_model::Secret;
use warden_model::config::{RedshiftAuthentication, RedshiftConfig};
use warden_platform::{ErrorKind, PlatformError};

use crate::aws::{ClusterRequest, Keys, cluster_credentials};

/// How long a connection attempt may take unless `connectArgs` says `Timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `connectArgs`, read (API.md section 3: `key=value` pairs separated by `;` or `&`, keys
/// case-insensitive, the Redshift ODBC/JDBC drivers' names accepted).
#[derive(Debug, Default)]
pub(crate) struct ConnectArgs {
    ssl_mode: Option<PgSslMode>,
    application_name: Option<String>,
    timeout: Option<Duration>,
    region: Option<String>,
    cluster_identifier: Option<String>,
    aws_endpoint_url: Option<String>,
    /// Keys Warden does not use, as written: the connection test warns about them.
    pub(crate) ignored: Vec<String>,
    /// What Warden read differently from how it was written, for the same warning.
    pub(crate) notes: Vec<String>,
}

/// What a key means to Warden, by its lower-cased name (libpq's names and the Redshift
/// drivers' names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    SslMode,
    Ssl,
    ApplicationName,
    Timeout,
    Region,
    ClusterIdentifier,
    EndpointUrl,
}

fn arg(key: &str) -> Option<Arg> {
    Some(match key.to_ascii_lowercase().as_str() {
        "sslmode" => Arg::SslMode,
        "ssl" => Arg::Ssl,
        "application_name" | "applicationname" => Arg::ApplicationName,
        "connect_timeout" | "timeout" | "logintimeout" | "connecttimeout" => Arg::Timeout,
        "region" => Arg::Region,
        "cluster_identifier" | "clusterid" | "clusteridentifier" => Arg::ClusterIdentifier,
        "aws_endpoint_url" | "endpointurl" => Arg::EndpointUrl,
        _ => return None,
    })
}

/// Reads `connectArgs`. A key Warden does not use is reported (a warning), never an error;
/// a value it cannot read for a key it uses is an error naming the key.
pub(crate) fn connect_args(config: &RedshiftConfig) -> Result<ConnectArgs, PlatformError> {
    let mut args = ConnectArgs::default();
    let Some(text) = &config.connect_args else { return Ok(args) };
    let bad = |what: String| PlatformError::unsupported(format!("connectArgs: {what}"));
    for pair in text.split(['&', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| bad(format!("{pair:?} is not key=value")))?;
        let (key, value) = (key.trim(), value.trim());
        let Some(known) = arg(key) else {
            args.ignored.push(key.to_owned());
            continue;
        };
        match known {
            Arg::SslMode => {
                let mode = PgSslMode::from_str(&value.to_ascii_lowercase()).map_err(|_| {
                    bad(format!("{key} {value:?} is not an SSL mode (disable, require, verify-ca, verify-full)"))
                })?;
                // TLS may only be turned off by saying so: "prefer" and "allow" would fall back
                // to a connection where a password could travel in clear.
                args.ssl_mode = Some(match mode {
                    PgSslMode::Prefer | PgSslMode::Allow => {
                        args.notes.push(format!("{key}={value} is read as require (Warden sends no password without TLS unless {key}=disable)"));
                        PgSslMode::Require
                    }
                    other => other,
                });
            }
            Arg::Ssl => {
                args.ssl_mode = Some(match value.to_ascii_lowercase().as_str() {
                    "true" | "1" => PgSslMode::Require,
                    "false" | "0" => PgSslMode::Disable,
                    _ => return Err(bad(format!("{key} {value:?} is not true or false"))),
                });
            }
            Arg::ApplicationName => args.application_name = Some(value.to_owned()),
            Arg::Timeout => {
                let secs: u64 =
                    value.parse().map_err(|_| bad(format!("{key} {value:?} is not a number of seconds")))?;
                args.timeout = Some(Duration::from_secs(secs.clamp(1, 300)));
            }
            Arg::Region => args.region = Some(value.to_owned()),
            Arg::ClusterIdentifier => args.cluster_identifier = Some(value.to_owned()),
            Arg::EndpointUrl => args.aws_endpoint_url = Some(value.to_owned()),
        }
    }
    Ok(args)
}

impl ConnectArgs {
    /// The connection test's warning about keys Warden ignored or read differently.
    pub(crate) fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.ignored.is_empty() {
            parts.push(format!("connectArgs keys Warden does not use were ignored: {}", self.ignored.join(", ")));
        }
        parts.extend(self.notes.iter().map(|n| format!("connectArgs {n}")));
        (!parts.is_empty()).then(|| format!("{}.", parts.join("; ")))
    }
}

/// The cluster and region of a standard endpoint, `<cluster>.<id>.<region>.redshift.amazonaws.com`.
fn cluster_and_region(host: &str) -> Option<(String, String)> {
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        [cluster, _, region, "redshift", "amazonaws", "com"] => Some(((*cluster).to_owned(), (*region).to_owned())),
        _ => None,
    }
}

/// The user and password to log in with.
async fn login(
    config: &RedshiftConfig,
    args: &ConnectArgs,
    database: &str,
) -> Result<(String, Secret<String>), PlatformError> {
    match &config.authentication {
        RedshiftAuthentication::UserPassword { username, password } => Ok((username.clone(), password.clone())),
        RedshiftAuthentication::AccessKey { database_user, access_key_id, secret_key, session_token } => {
            let derived = cluster_and_region(config.host.as_str());
            let cluster = args.cluster_identifier.clone().or_else(|| derived.as_ref().map(|d| d.0.clone()));
            let region = args.region.clone().or_else(|| derived.as_ref().map(|d| d.1.clone()));
            let (Some(cluster), Some(region)) = (cluster, region) else {
                return Err(PlatformError::unsupported(
                    "accessKey needs the cluster and region: use the cluster's standard endpoint as host, or set cluster_identifier and region in connectArgs",
                ));
            };
            let endpoint = args
                .aws_endpoint_url
                .clone()
                .or_else(|| std::env::var("AWS_ENDPOINT_URL_REDSHIFT").ok())
                .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
                .unwrap_or_else(|| format!("https://redshift.{region}.amazonaws.com/"));
            let request = ClusterRequest { endpoint, region, cluster, db_user: database_user, database };
            let keys = Keys { access_key_id, secret_key, session_token: session_token.as_ref() };
            let temporary = cluster_credentials(&request, &keys).await?;
            Ok((temporary.db_user, temporary.db_password))
        }
        RedshiftAuthentication::Okta { .. } => Err(PlatformError::unsupported(
            "authenticationType okta is accepted in the config but not supported by this version of Warden yet; use userPassword or accessKey",
        )),
    }
}

/// Opens one connection to `database` with the config's credentials.
pub(crate) async fn connect(config: &RedshiftConfig, database: &str) -> Result<PgConnection, PlatformError> {
    let args = connect_args(config)?;
    let (username, password) = login(config, &args, database).await?;
    let options = PgConnectOptions::new()
        .host(config.host.as_str())
        .port(config.port.get())
        .database(database)
        .username(&username)
        .password(password.expose())
        // TLS unless the config turns it off by name: a server that does not offer it is
        // refused before any password is sent.
        .ssl_mode(args.ssl_mode.unwrap_or(PgSslMode::Require))
        .application_name(args.application_name.as_deref().unwrap_or("warden"))
        .disable_statement_logging();
    let timeout = args.timeout.unwrap_or(CONNECT_TIMEOUT);
    match tokio::time::timeout(timeout, options.connect()).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(classify(&error)),
        Err(_) => Err(PlatformError::unreachable(format!(
            "no answer from {}:{} within {} s",
            config.host.as_str(),
            config.port.get(),
            timeout.as_secs()
        ))),
    }
}

/// A sqlx error as a typed platform error: its kind from the SQLSTATE (or the failure to
/// connect), its detail the server's or the network's own words.
pub(crate) fn classify(error: &sqlx::Error) -> PlatformError {
    let kind = match error {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01" | "28000") => ErrorKind::Unauthenticated,
            Some("42501") => ErrorKind::Forbidden,
            Some("3D000" | "42704" | "3F000" | "42P01") => ErrorKind::NotFound,
            Some("42P04" | "42710" | "42P06" | "42P07") => ErrorKind::AlreadyExists,
            Some("53300") => ErrorKind::Throttled { retry_after: None },
            _ => ErrorKind::Other,
        },
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => ErrorKind::Unreachable,
        _ => ErrorKind::Other,
    };
    PlatformError::new(kind, describe(error))
}

/// The server's or the network's own words for an error (sqlx never includes the password).
pub(crate) fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

    use serde_json::json;
    use sqlx::Row as _;
    use warden_model::{IntegrationSpec, PlatformConfig};

    use super::{cluster_and_region, connect};

    /// The test PostgreSQL (which `cargo xtask ci` starts with TLS on) as a Redshift config.
    fn config(connect_args: Option<&str>) -> Option<warden_model::config::RedshiftConfig> {
        let Ok(url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_POSTGRES_URL");
            eprintln!("WARDEN_TEST_POSTGRES_URL is not set: skipped");
            return None;
        };
        let url = url::Url::parse(&url).unwrap();
        let mut config = json!({"host": url.host_str().unwrap(), "port": url.port().unwrap(), "database": "postgres",
            "authenticationType": "userPassword", "username": url.username(), "password": url.password().unwrap()});
        if let Some(args) = connect_args {
            config["connectArgs"] = json!(args);
        }
        let spec =
            IntegrationSpec::from_value(&json!({"type": "Redshift", "autoBootstrap": false, "config": config}), None);
        match spec.unwrap().config {
            PlatformConfig::Redshift(config) => Some(config),
            _ => unreachable!(),
        }
    }

    async fn uses_tls(connect_args: Option<&str>) -> Option<bool> {
        let mut connection = connect(&config(connect_args)?, "postgres").await.unwrap();
        let row = sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        Some(row.get::<bool, _>(0))
    }

    #[tokio::test]
    async fn tls_is_used_when_the_server_offers_it_and_connect_args_can_turn_it_off() {
        if let Some(tls) = uses_tls(None).await {
            assert!(tls, "the server offers TLS, so the connection uses it");
        }
        if let Some(tls) = uses_tls(Some("sslmode=disable&application_name=warden-test")).await {
            assert!(!tls, "connectArgs sslmode=disable is honoured");
        }
        if let Some(tls) = uses_tls(Some("SSLMode=DISABLE;ApplicationName=warden-test")).await {
            assert!(!tls, "the drivers' spelling, separated by ;, is honoured");
        }
    }

    /// Issue 10, item 6: the reference's ODBC/JDBC style, with keys Warden ignores reported.
    #[test]
    fn driver_style_connect_args_are_read_and_unknown_keys_reported() {
        let mut config = offline_config();
        config.connect_args = Some(
            "SSLMode=require;Timeout=30&ApplicationName=bi;ClusterID=acme;Region=eu-west-1;TCPKeepAlive=true".into(),
        );
        let args = super::connect_args(&config).unwrap();
        assert_eq!(args.timeout, Some(std::time::Duration::from_secs(30)));
        assert_eq!(args.application_name.as_deref(), Some("bi"));
        assert_eq!(args.cluster_identifier.as_deref(), Some("acme"));
        assert_eq!(args.region.as_deref(), Some("eu-west-1"));
        assert_eq!(args.ignored, ["TCPKeepAlive"]);
        assert_eq!(args.warning().unwrap(), "connectArgs keys Warden does not use were ignored: TCPKeepAlive.");
        config.connect_args = Some("sslmode=prefer".into());
        let args = super::connect_args(&config).unwrap();
        assert!(args.warning().unwrap().contains("read as require"), "prefer never falls back to clear text");
        config.connect_args = Some("Timeout=soon".into());
        assert!(super::connect_args(&config).unwrap_err().to_string().contains("Timeout \"soon\""));
    }

    fn offline_config() -> warden_model::config::RedshiftConfig {
        let spec = IntegrationSpec::from_value(
            &json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": "127.0.0.1", "database": "dev",
                "authenticationType": "userPassword", "username": "u", "password": "p"}}),
            None,
        );
        match spec.unwrap().config {
            PlatformConfig::Redshift(config) => config,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_standard_endpoint_names_its_cluster_and_region() {
        assert_eq!(
            cluster_and_region("acme.abc123xyz.us-east-1.redshift.amazonaws.com"),
            Some(("acme".to_owned(), "us-east-1".to_owned()))
        );
        assert_eq!(cluster_and_region("127.0.0.1"), None);
        assert_eq!(cluster_and_region("wg.123.us-east-1.redshift-serverless.amazonaws.com"), None);
    }
}
