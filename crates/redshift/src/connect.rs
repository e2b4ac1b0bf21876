//! Connecting to Redshift (or PostgreSQL, which speaks the same protocol): the options a
//! config gives, `connectArgs` read as the Redshift drivers write them, TLS verified against
//! the system's roots and the operator's CA file (`verify-full`) unless the config says
//! otherwise by name (`SSLMode=verify-ca` or `require`; `disable` only to a loopback address,
//! so no password is ever sent in clear to anything but a local test server), and a bounded
//! connect time. With `accessKey` the user and password are Redshift's temporary
//! credentials ([`crate::aws`]); with `okta` too, for the AWS credentials the Okta sign-in
//! gives ([`crate::okta`]). Credentials come from the config; an error never carries
//! them.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions as _, PgConnection};
use warden_model::config::{RedshiftAuthentication, RedshiftConfig};
use warden_model::{Problem, Secret};
use warden_platform::{ErrorKind, PlatformError, reach};

use crate::aws::{ClusterRequest, cluster_credentials};
use crate::okta;
use warden_aws::Keys;

/// How long a connection attempt may take unless `connectArgs` says `Timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `connectArgs`, read (the API reference §3: `key=value` pairs separated by `;` or `&`, keys
/// case-insensitive, the Redshift ODBC/JDBC drivers' names accepted).
#[derive(Debug, Default)]
pub(crate) struct ConnectArgs {
    ssl_mode: Option<PgSslMode>,
    application_name: Option<String>,
    timeout: Option<Duration>,
    region: Option<String>,
    cluster_identifier: Option<String>,
    aws_endpoint_url: Option<String>,
    /// The Okta host's port (`authenticationType: okta`), 443 when absent.
    idp_port: Option<u16>,
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
    IdpPort,
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
        "idp_port" | "idpport" => Arg::IdpPort,
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
                args.ssl_mode = match mode {
                    PgSslMode::Prefer | PgSslMode::Allow => {
                        args.notes.push(format!("{key}={value} is read as verify-full (Warden sends no password without verified TLS unless told otherwise by name)"));
                        None
                    }
                    PgSslMode::Require => {
                        args.notes.push(format!("{key}={value} encrypts without checking the server's certificate; verify-full (the default) checks it"));
                        Some(PgSslMode::Require)
                    }
                    other => Some(other),
                };
            }
            Arg::Ssl => {
                args.ssl_mode = match value.to_ascii_lowercase().as_str() {
                    "true" | "1" => None,
                    "false" | "0" => Some(PgSslMode::Disable),
                    _ => return Err(bad(format!("{key} {value:?} is not true or false"))),
                };
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
            Arg::IdpPort => {
                let port: u16 = value
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad(format!("{key} {value:?} is not a port (1 to 65535)")))?;
                args.idp_port = Some(port);
            }
        }
    }
    Ok(args)
}

/// The rules a request's `connectArgs` must keep (a 400 naming `config.connectArgs`): they
/// read, turn TLS off only towards a loopback address, and name an AWS endpoint over https
/// (http only to loopback).
pub(crate) fn check(config: &RedshiftConfig) -> Vec<Problem> {
    const FIELD: &str = "config.connectArgs";
    let args = match connect_args(config) {
        Ok(args) => args,
        Err(error) => return vec![Problem { path: FIELD.into(), message: error.to_string() }],
    };
    let mut problems = Vec::new();
    if matches!(args.ssl_mode, Some(PgSslMode::Disable)) {
        problems.extend(reach::refuse_plaintext(FIELD, "SSLMode=disable (no TLS)", config.host.as_str()).err());
    }
    if let Some(url) = &args.aws_endpoint_url {
        problems.extend(reach::check_url(FIELD, url).err());
    }
    problems
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
            let (request, _) = cluster_request(config, args, database_user, database)?;
            let keys = Keys { access_key_id, secret_key, session_token: session_token.as_ref() };
            let temporary = cluster_credentials(&request, &keys).await?;
            Ok((temporary.db_user, temporary.db_password))
        }
        RedshiftAuthentication::Okta { okta } => {
            // Steps 1 to 3 (Okta, its AWS app, STS) give AWS credentials and the database
            // user; step 4 is the accessKey path with them.
            let (mut request, region) = cluster_request(config, args, "", database)?;
            let sts = match &args.aws_endpoint_url {
                Some(url) => url.clone(),
                None => reach::aws_endpoint("STS", format!("https://sts.{region}.amazonaws.com/")),
            };
            let endpoints = okta::Endpoints { idp_port: args.idp_port, sts: &sts };
            let federated = okta::federate(okta, &endpoints).await?;
            request.db_user = &federated.db_user;
            let keys = Keys {
                access_key_id: &federated.access_key_id,
                secret_key: &federated.secret_access_key,
                session_token: Some(&federated.session_token),
            };
            let temporary = cluster_credentials(&request, &keys).await.map_err(|error| match error {
                PlatformError::Failed { kind, detail } => {
                    PlatformError::new(kind, format!("Okta sign-in, step 4 (Redshift GetClusterCredentials): {detail}"))
                }
                other => other,
            })?;
            Ok((temporary.db_user, temporary.db_password))
        }
    }
}

/// What `GetClusterCredentials` needs (the cluster and region from the standard host name
/// or `connectArgs`, the Redshift API endpoint), and the region.
fn cluster_request<'a>(
    config: &RedshiftConfig,
    args: &ConnectArgs,
    db_user: &'a str,
    database: &'a str,
) -> Result<(ClusterRequest<'a>, String), PlatformError> {
    let derived = cluster_and_region(config.host.as_str());
    let cluster = args.cluster_identifier.clone().or_else(|| derived.as_ref().map(|d| d.0.clone()));
    let region = args.region.clone().or_else(|| derived.as_ref().map(|d| d.1.clone()));
    let (Some(cluster), Some(region)) = (cluster, region) else {
        return Err(PlatformError::unsupported(
            "accessKey and okta need the cluster and region: use the cluster's standard endpoint as host, or set cluster_identifier and region in connectArgs",
        ));
    };
    let endpoint = match &args.aws_endpoint_url {
        Some(url) => url.clone(),
        None => reach::aws_endpoint("REDSHIFT", format!("https://redshift.{region}.amazonaws.com/")),
    };
    reach::check_url("the Redshift API endpoint", &endpoint)
        .map_err(|problem| PlatformError::unsupported(format!("{}: {}", problem.path, problem.message)))?;
    Ok((ClusterRequest { endpoint, region: region.clone(), cluster, db_user, database }, region))
}

/// Opens one connection to `database` with the config's credentials, trusting the
/// operator's CA file besides the system's roots.
pub(crate) async fn connect(config: &RedshiftConfig, database: &str) -> Result<PgConnection, PlatformError> {
    connect_trusting(config, database, reach::ca_file()).await
}

/// [`connect`] with the CA file given.
pub(crate) async fn connect_trusting(
    config: &RedshiftConfig,
    database: &str,
    ca_file: Option<&Path>,
) -> Result<PgConnection, PlatformError> {
    let args = connect_args(config)?;
    let ssl_mode = args.ssl_mode.unwrap_or(PgSslMode::VerifyFull);
    // Checked again here for configs stored before the rule: no password leaves in clear
    // for anything but a loopback address.
    if matches!(ssl_mode, PgSslMode::Disable) && !reach::plaintext_allowed(config.host.as_str()) {
        return Err(PlatformError::unsupported(format!(
            "connectArgs turns TLS off, which Warden allows only to a loopback address; {} is not one: send the integration's PUT with SSLMode=disable taken out of connectArgs and the credentials given again (the password, or for an automatic setup the privileged credentials), since Warden sends no stored secret over connection settings that changed",
            config.host.as_str()
        )));
    }
    let (username, password) = login(config, &args, database).await?;
    let mut options = PgConnectOptions::new()
        .host(config.host.as_str())
        .port(config.port.get())
        .database(database)
        .username(&username)
        .password(password.expose())
        // Verified TLS unless the config says otherwise by name: a server that does not
        // offer TLS, or whose certificate the roots do not vouch for, is refused before any
        // password is sent.
        .ssl_mode(ssl_mode)
        .application_name(args.application_name.as_deref().unwrap_or("warden"))
        .disable_statement_logging();
    if let Some(ca_file) = ca_file {
        options = options.ssl_root_cert(ca_file);
    }
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

    /// The server's certificate is checked by default (against the system's roots and the
    /// CA file): without the test CA the connection is refused before any password is sent;
    /// with it, it opens. `SSLMode=require`, said by name, encrypts without the check.
    #[tokio::test]
    async fn the_servers_certificate_is_verified_unless_told_otherwise() {
        let Some(plain) = config(None) else { return };
        let untrusted = super::connect_trusting(&plain, "postgres", None).await.unwrap_err();
        assert_eq!(untrusted.kind(), Some(warden_platform::ErrorKind::Unreachable), "{untrusted}");
        assert!(untrusted.to_string().contains("certificate"), "{untrusted}");
        let Some(ca_file) = warden_platform::reach::ca_file() else {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_CA_FILE");
            return;
        };
        assert!(super::connect_trusting(&plain, "postgres", Some(ca_file)).await.is_ok());
        let unverified = config(Some("SSLMode=require")).unwrap();
        assert!(super::connect_trusting(&unverified, "postgres", None).await.is_ok());
    }

    /// A request may turn TLS off (or name an http AWS endpoint) only towards a loopback
    /// address; anywhere else it is a problem naming `config.connectArgs`, and a stored config
    /// that does so anyway is refused before connecting.
    #[tokio::test]
    async fn tls_is_turned_off_only_towards_loopback() {
        let mut config = offline_config();
        config.host = warden_model::names::Hostname::parse("acme.example.com").unwrap();
        config.connect_args = Some("sslmode=disable".into());
        let problems = super::check(&config);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "config.connectArgs");
        assert!(problems[0].message.contains("only to a loopback address"), "{}", problems[0].message);
        let refused = connect(&config, "dev").await.unwrap_err();
        assert!(refused.to_string().contains("allows only to a loopback address"), "{refused}");
        config.connect_args = Some("aws_endpoint_url=http://moto.internal:5000".into());
        assert_eq!(super::check(&config)[0].path, "config.connectArgs");
        config.connect_args = Some("aws_endpoint_url=https://redshift.eu-west-1.amazonaws.com".into());
        assert!(super::check(&config).is_empty());
        if let Some(mut local) = self::config(Some("sslmode=disable")) {
            local.connect_args = Some("sslmode=disable".into());
            assert!(super::check(&local).is_empty(), "a loopback test server may be reached without TLS");
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
        assert_eq!(
            args.warning().unwrap(),
            "connectArgs keys Warden does not use were ignored: TCPKeepAlive; connectArgs SSLMode=require encrypts without checking the server's certificate; verify-full (the default) checks it."
        );
        config.connect_args = Some("sslmode=prefer".into());
        let args = super::connect_args(&config).unwrap();
        assert!(args.warning().unwrap().contains("read as verify-full"), "prefer never falls back to clear text");
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
