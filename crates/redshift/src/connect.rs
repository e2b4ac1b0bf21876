//! Connecting to Redshift (or PostgreSQL, which speaks the same protocol): the options a
//! config gives, `connectArgs` read as `key=value` pairs, TLS when the server offers it, and
//! a bounded connect time. With `accessKey` the user and password are Redshift's temporary
//! credentials ([`crate::aws`]). Credentials come from the config; an error never carries
//! them.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions as _, PgConnection};
use warden_model::Secret;
use warden_model::config::{RedshiftAuthentication, RedshiftConfig};
use warden_platform::PlatformError;

use crate::aws::{ClusterRequest, Keys, cluster_credentials};

/// How long a connection attempt may take unless `connectArgs` says `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `connectArgs`, read.
#[derive(Debug, Default)]
struct ConnectArgs {
    ssl_mode: Option<PgSslMode>,
    application_name: Option<String>,
    timeout: Option<Duration>,
    region: Option<String>,
    cluster_identifier: Option<String>,
    aws_endpoint_url: Option<String>,
}

const KNOWN_ARGS: &str = "sslmode, application_name, connect_timeout, region, cluster_identifier, aws_endpoint_url";

fn connect_args(config: &RedshiftConfig) -> Result<ConnectArgs, PlatformError> {
    let mut args = ConnectArgs::default();
    let Some(text) = &config.connect_args else { return Ok(args) };
    for pair in text.split(['&', ';', ' ']).filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| PlatformError::Unsupported(format!("connectArgs: {pair:?} is not key=value")))?;
        let value = value.trim();
        match key.trim() {
            "sslmode" => {
                args.ssl_mode = Some(PgSslMode::from_str(value).map_err(|_| {
                    PlatformError::Unsupported(format!("connectArgs: sslmode {value:?} is not a libpq sslmode"))
                })?);
            }
            "application_name" => args.application_name = Some(value.to_owned()),
            "connect_timeout" => {
                let secs: u64 = value.parse().map_err(|_| {
                    PlatformError::Unsupported(format!(
                        "connectArgs: connect_timeout {value:?} is not a number of seconds"
                    ))
                })?;
                args.timeout = Some(Duration::from_secs(secs.clamp(1, 300)));
            }
            "region" => args.region = Some(value.to_owned()),
            "cluster_identifier" => args.cluster_identifier = Some(value.to_owned()),
            "aws_endpoint_url" => args.aws_endpoint_url = Some(value.to_owned()),
            other => {
                return Err(PlatformError::Unsupported(format!(
                    "connectArgs: {other:?} is not supported (use {KNOWN_ARGS})"
                )));
            }
        }
    }
    Ok(args)
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
                return Err(PlatformError::Unsupported(
                    "accessKey needs the cluster and region: use the cluster's standard endpoint as host, or set cluster_identifier and region in connectArgs".into(),
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
        RedshiftAuthentication::Okta { .. } => Err(PlatformError::Unsupported(
            "authenticationType okta is accepted in the config but not supported by this version of Warden yet; use userPassword or accessKey".into(),
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
        .ssl_mode(args.ssl_mode.unwrap_or(PgSslMode::Prefer))
        .application_name(args.application_name.as_deref().unwrap_or("warden"))
        .disable_statement_logging();
    let timeout = args.timeout.unwrap_or(CONNECT_TIMEOUT);
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
        if let Some(config) = config(Some("nosuch=1")) {
            let error = connect(&config, "postgres").await.unwrap_err().to_string();
            assert!(error.contains("\"nosuch\" is not supported"), "{error}");
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
