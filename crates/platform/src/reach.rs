//! How every adapter reaches a server, one rule for all:
//!
//! - TLS by default, verified against the system's roots plus the CA bundle the operator
//!   names (`warden serve --ca-file`, or `WARDEN_CA_FILE`) for corporate proxies and private
//!   CAs: [`ca_file`].
//! - Unencrypted transport only to a loopback address (127.0.0.0/8, ::1), so that emulators
//!   can be reached in tests and nothing else can be downgraded: [`plaintext_allowed`] and
//!   [`refuse_plaintext`], which an adapter's [`check_config`](crate::Platform::check_config)
//!   uses to answer a 400 naming the field.
//! - Test endpoints follow each vendor's client convention (AWS: `AWS_ENDPOINT_URL` and
//!   `AWS_ENDPOINT_URL_<SERVICE>`: [`aws_endpoint`]; Google: `BIGQUERY_EMULATOR_HOST`:
//!   [`bigquery_endpoint`]), under the same plain-text rule.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use warden_model::Problem;

/// The environment variable naming the CA bundle.
pub const CA_FILE_ENV: &str = "WARDEN_CA_FILE";

static CA_FILE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Sets the CA bundle for this process (the server calls it once at start, before any
/// adapter connects). Returns `false` when it was set (or read) already.
pub fn set_ca_file(path: Option<PathBuf>) -> bool {
    CA_FILE.set(path).is_ok()
}

/// Checks that `path` is a readable PEM bundle with at least one certificate, and says how
/// many it has (the server checks `--ca-file` at start, so a wrong path fails there and not
/// at the first connection).
pub fn check_ca_file(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let begins = text.matches("-----BEGIN CERTIFICATE-----").count();
    let ends = text.matches("-----END CERTIFICATE-----").count();
    if begins == 0 || begins != ends {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(begins)
}

/// The CA bundle (PEM) trusted besides the system's roots: what [`set_ca_file`] set, or else
/// `WARDEN_CA_FILE` as the process started with it.
pub fn ca_file() -> Option<&'static Path> {
    CA_FILE.get_or_init(|| std::env::var_os(CA_FILE_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)).as_deref()
}

/// Whether `host` is a loopback address literal (127.0.0.0/8, ::1): the only place an
/// unencrypted connection may go. A name is never loopback here, since it could resolve
/// anywhere.
pub fn plaintext_allowed(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The problem to answer when `field` asks for an unencrypted connection (`what`) to
/// `host`, unless `host` is loopback.
pub fn refuse_plaintext(field: &str, what: &str, host: &str) -> Result<(), Problem> {
    if plaintext_allowed(host) {
        return Ok(());
    }
    Err(Problem {
        path: field.to_owned(),
        message: format!(
            "{what} is allowed only to a loopback address (127.0.0.0/8, ::1), for local emulators; {host} is not one. Remove it: Warden connects with TLS"
        ),
    })
}

/// Endpoints set for this process by [`set_aws_endpoint`], by service.
static AWS_ENDPOINTS: std::sync::RwLock<Vec<(String, String)>> = std::sync::RwLock::new(Vec::new());

/// Sends this process's calls to AWS service `service` (`STS`, `S3`, `S3_CONTROL`) to `url`,
/// before any environment variable: what a test that starts its own emulator or stand-in
/// uses, since it cannot change its process's environment.
pub fn set_aws_endpoint(service: &str, url: &str) {
    let mut endpoints = AWS_ENDPOINTS.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    endpoints.retain(|(s, _)| !s.eq_ignore_ascii_case(service));
    endpoints.push((service.to_ascii_uppercase(), url.to_owned()));
}

/// The endpoint of AWS service `service` (its SDK name: `REDSHIFT`, `STS`, `S3`,
/// `S3_CONTROL`): one [`set_aws_endpoint`] set, else by the AWS SDKs' convention
/// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else `default`.
pub fn aws_endpoint(service: &str, default: String) -> String {
    let set = AWS_ENDPOINTS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(service))
        .map(|(_, url)| url.clone());
    if let Some(url) = set {
        return url;
    }
    let var = |name: &str| std::env::var(name).ok();
    aws_endpoint_from(
        var(&format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase())),
        var("AWS_ENDPOINT_URL"),
        default,
    )
}

/// [`aws_endpoint`] with the variables' values given: the service's own wins.
fn aws_endpoint_from(for_service: Option<String>, general: Option<String>, default: String) -> String {
    [for_service, general].into_iter().flatten().find(|v| !v.is_empty()).unwrap_or(default)
}

/// The BigQuery emulator set for this process by [`set_bigquery_emulator`].
static BIGQUERY_EMULATOR: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// Sends this process's BigQuery calls to the emulator at `host:port`, before
/// `BIGQUERY_EMULATOR_HOST`: what a test that starts its own emulator uses, since it cannot
/// change its process's environment.
pub fn set_bigquery_emulator(host_port: &str) {
    *BIGQUERY_EMULATOR.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(host_port.to_owned());
}

/// The BigQuery API's base URL, as Google's client libraries choose it: the emulator named
/// by [`set_bigquery_emulator`] or `BIGQUERY_EMULATOR_HOST` (`host:port`, spoken to over
/// http, so only a loopback one is taken), else `default`.
pub fn bigquery_endpoint(default: String) -> Result<String, Problem> {
    let set = BIGQUERY_EMULATOR.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    bigquery_endpoint_from(set.or_else(|| std::env::var("BIGQUERY_EMULATOR_HOST").ok()), default)
}

/// [`bigquery_endpoint`] with the variable's value given.
fn bigquery_endpoint_from(emulator: Option<String>, default: String) -> Result<String, Problem> {
    match emulator.filter(|v| !v.is_empty()) {
        Some(host) => {
            let url = format!("http://{host}");
            check_url("BIGQUERY_EMULATOR_HOST", &url)?;
            Ok(url)
        }
        None => Ok(default),
    }
}

/// Whether `url` may be used: `https`, or `http` to a loopback address. `field` names where
/// the URL came from.
pub fn check_url(field: &str, url: &str) -> Result<(), Problem> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Problem { path: field.to_owned(), message: format!("{url:?} is not a URL (https://...)") });
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" => refuse_plaintext(field, &format!("http:// ({url})"), host),
        other => Err(Problem { path: field.to_owned(), message: format!("{other}:// is not supported: use https://") }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use super::{aws_endpoint_from, bigquery_endpoint_from, check_ca_file, check_url, plaintext_allowed};

    #[test]
    fn emulator_endpoints_follow_the_vendors_conventions_under_the_loopback_rule() {
        let some = |s: &str| Some(s.to_owned());
        let default = || "https://default".to_owned();
        assert_eq!(
            aws_endpoint_from(some("http://127.0.0.1:1"), some("http://127.0.0.1:2"), default()),
            "http://127.0.0.1:1"
        );
        assert_eq!(aws_endpoint_from(None, some("http://127.0.0.1:2"), default()), "http://127.0.0.1:2");
        assert_eq!(aws_endpoint_from(some(""), None, default()), "https://default");
        assert_eq!(bigquery_endpoint_from(some("127.0.0.1:9050"), default()).unwrap(), "http://127.0.0.1:9050");
        assert_eq!(bigquery_endpoint_from(None, default()).unwrap(), "https://default");
        let remote = bigquery_endpoint_from(some("bq.internal:9050"), default()).unwrap_err();
        assert_eq!(remote.path, "BIGQUERY_EMULATOR_HOST");
    }

    #[test]
    fn a_ca_file_must_hold_pem_certificates() {
        let dir = std::env::temp_dir().join(format!("warden-reach-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (good, bad) = (dir.join("ca.pem"), dir.join("not.pem"));
        std::fs::write(&good, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").unwrap();
        std::fs::write(&bad, "just text").unwrap();
        assert_eq!(check_ca_file(&good), Ok(1));
        assert!(check_ca_file(&bad).unwrap_err().contains("holds no PEM certificate"));
        assert!(check_ca_file(&dir.join("missing.pem")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_loopback_literals_may_be_reached_without_tls() {
        for host in ["127.0.0.1", "127.8.9.10", "::1", "[::1]"] {
            assert!(plaintext_allowed(host), "{host}");
        }
        for host in ["localhost", "10.0.0.1", "acme.example.com", "127.0.0.1.nip.io", "::ffff:10.0.0.1", ""] {
            assert!(!plaintext_allowed(host), "{host}");
        }
        assert!(check_url("f", "https://redshift.us-east-1.amazonaws.com/").is_ok());
        assert!(check_url("f", "http://127.0.0.1:5000").is_ok());
        assert!(check_url("f", "http://[::1]:5000/").is_ok());
        let refused = check_url("connectArgs", "http://moto.internal:5000").unwrap_err();
        assert_eq!(refused.path, "connectArgs");
        assert!(refused.message.contains("only to a loopback address"), "{}", refused.message);
        assert!(check_url("f", "ftp://127.0.0.1").is_err());
        assert!(check_url("f", "127.0.0.1:5000").is_err());
    }
}
