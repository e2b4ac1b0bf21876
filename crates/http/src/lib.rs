//! What Warden's REST-speaking adapters share: [`https_client`], the HTTPS client every
//! adapter call goes through (rustls with the ring provider, the system's roots plus the
//! operator's CA file, an optional HTTP proxy); [`oauth`], OAuth tokens cached until shortly
//! before they expire; [`jwt`], RS256 JWTs signed with an RSA key; and [`rest`], JSON calls
//! with a bearer token, retried while the platform throttles.

pub mod jwt;
pub mod oauth;
pub mod rest;

use std::time::Duration;

use warden_model::Secret;
use warden_platform::PlatformError;

/// How long one HTTP call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTP proxy every call goes through (`CONNECT`, so TLS to the platform stays end to end),
/// with basic authentication when a user is given.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// `host:port` of the proxy.
    pub address: String,
    /// Basic authentication: the user and the password.
    pub basic_auth: Option<(String, Secret<String>)>,
}

/// The kind of a failed HTTP exchange: the way to the platform failed (no connection, a
/// timeout, the connection lost while the request was sent or the answer read) is
/// `Unreachable`, a transient fault worth another try; anything else (an answer that does not
/// decode, a redirect loop) is `Other`.
pub fn transport_error_kind(error: &reqwest::Error) -> warden_platform::ErrorKind {
    if error.is_timeout() || error.is_connect() || error.is_request() || error.is_body() {
        warden_platform::ErrorKind::Unreachable
    } else {
        warden_platform::ErrorKind::Other
    }
}

/// The HTTPS client of one adapter call site: rustls with the ring provider (the one sqlx
/// uses), the system's roots plus `--ca-file`, the call timeout, and `proxy` when given.
pub fn https_client(proxy: Option<&Proxy>) -> Result<reqwest::Client, PlatformError> {
    // Installing the provider twice is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().timeout(CALL_TIMEOUT);
    if let Some(path) = warden_platform::reach::ca_file() {
        let pem = std::fs::read(path)
            .map_err(|e| PlatformError::unsupported(format!("the CA file {}: {e}", path.display())))?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| PlatformError::unsupported(format!("the CA file {}: {e}", path.display())))?
        {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let Some(proxy) = proxy {
        let mut through = reqwest::Proxy::all(format!("http://{}", proxy.address))
            .map_err(|e| PlatformError::unsupported(format!("the proxy {}: {e}", proxy.address)))?;
        if let Some((user, password)) = &proxy.basic_auth {
            through = through.basic_auth(user, password.expose());
        }
        builder = builder.proxy(through);
    }
    // Without a configured proxy, the process's own (`HTTPS_PROXY`, `NO_PROXY`) applies, as
    // for any client an operator runs behind a corporate proxy.
    builder.build().map_err(|e| PlatformError::unreachable(format!("no HTTPS client: {e}")))
}
