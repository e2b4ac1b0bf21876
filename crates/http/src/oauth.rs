//! OAuth client-credentials tokens (RFC 6749 section 4.4): the adapter says how its client
//! authenticates ([`TokenRequest`]: a secret in HTTP Basic, as section 2.3.1 requires every
//! server to accept, or in the form, or an RFC 7523 client assertion it signed), and
//! [`access_token`] posts the grant to the token endpoint and caches the token per client
//! ([`CacheKey`], a digest of the whole client config, secret included, never the secret
//! itself) until a minute before it expires. Where an authority is given rather than a token
//! endpoint, [`token_endpoint`] completes it as the provider's own libraries do. Neither the
//! secret, the assertion nor the token is ever put in an error or a log line.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use warden_model::Secret;
use warden_platform::{ErrorKind, PlatformError};

/// How long before its expiry a cached token is no longer used.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// What a client-credentials refusal asks the user to check.
pub const CLIENT_CREDENTIALS_REMEDY: &str = "the client id, its secret or certificate, the scope and authorityUrl";

/// A cached token and the instant it stops being used.
type Cached = (Secret<String>, Instant);

/// Cached tokens by client digest.
static TOKENS: LazyLock<Mutex<HashMap<[u8; 32], Cached>>> = LazyLock::new(Mutex::default);

/// The digest a client's tokens are cached under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The digest of every part of a client's config (each part delimited, so that two
    /// configs never collide by moving text between parts).
    pub fn of(parts: &[&str]) -> Self {
        let mut digest = Sha256::new();
        for part in parts {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        Self(digest.finalize().into())
    }
}

/// A token request: the grant, the form, and the client's HTTP Basic credentials, when it
/// authenticates that way.
#[derive(Debug, Default)]
pub struct TokenRequest {
    /// The grant type; `None` is `client_credentials`. (Google's service accounts use RFC
    /// 7523's `urn:ietf:params:oauth:grant-type:jwt-bearer` with an `assertion`.)
    pub grant_type: Option<&'static str>,
    /// Form fields besides `grant_type`.
    pub form: Vec<(&'static str, Secret<String>)>,
    /// `client_id` and secret sent as HTTP Basic authentication.
    pub basic_auth: Option<(String, Secret<String>)>,
}

/// Whether `url` is a Microsoft Entra ID authority.
pub fn is_entra(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.host_str().is_some_and(|h| h == "login.microsoftonline.com" || h.ends_with(".microsoftonline.com"))
    })
}

/// The token endpoint of an authority: a Microsoft Entra ID authority
/// (`https://login.microsoftonline.com/<tenant>`) gets `/oauth2/v2.0/token`, a Databricks
/// OIDC authority (`https://<workspace>/oidc`) gets `/v1/token`, as their libraries add
/// them; any other URL is the token endpoint itself.
pub fn token_endpoint(authority: &str) -> Result<String, PlatformError> {
    let url = url::Url::parse(authority)
        .map_err(|e| PlatformError::unsupported(format!("the OAuth authorityUrl is not a URL: {e}")))?;
    let path = url.path().trim_end_matches('/');
    let base = authority.trim_end_matches('/');
    if is_entra(authority) && !path.ends_with("/token") {
        return Ok(format!("{base}/oauth2/v2.0/token"));
    }
    if path.ends_with("/oidc") {
        return Ok(format!("{base}/v1/token"));
    }
    Ok(authority.to_owned())
}

/// An access token for the client `key`: the cached one while it has more than a minute
/// left, else a new one from `endpoint` with the request `build` makes (called only then, so
/// an assertion is signed only when it is sent). `config` names the client's config in the
/// message of a refusal (`oAuthClientConfig`) and `remedy` says what in it to check.
pub async fn access_token(
    http: &reqwest::Client,
    key: CacheKey,
    endpoint: &str,
    config: &str,
    remedy: &str,
    build: impl FnOnce() -> Result<TokenRequest, PlatformError>,
) -> Result<Secret<String>, PlatformError> {
    let now = Instant::now();
    {
        let mut tokens = TOKENS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.retain(|_, (_, until)| *until > now);
        if let Some((token, _)) = tokens.get(&key.0) {
            return Ok(token.clone());
        }
    }
    let request = build()?;
    let mut form: Vec<(&str, &str)> = vec![("grant_type", request.grant_type.unwrap_or("client_credentials"))];
    form.extend(request.form.iter().map(|(name, value)| (*name, value.expose().as_str())));
    let mut post = http.post(endpoint).header("accept", "application/json").form(&form);
    if let Some((user, secret)) = &request.basic_auth {
        post = post.basic_auth(user, Some(secret.expose()));
    }
    let failed = |e: reqwest::Error| {
        PlatformError::new(
            crate::transport_error_kind(&e),
            format!("the OAuth token endpoint {endpoint}: {}", e.without_url()),
        )
    };
    let response = post.send().await.map_err(failed)?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let Some(token) = answer["access_token"].as_str().filter(|_| status.is_success()) else {
        // RFC 6749 section 5.2: `error` and `error_description`.
        let error = answer["error"].as_str().unwrap_or("no error code");
        let description = answer["error_description"].as_str().map(|d| format!(": {d}")).unwrap_or_default();
        return Err(PlatformError::new(
            ErrorKind::Unauthenticated,
            format!(
                "the OAuth token endpoint {endpoint} answered {status} ({error}{description}); check {config} ({remedy})"
            ),
        ));
    };
    let lifetime = Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(0));
    let token = Secret::new(token.to_owned());
    if lifetime > EXPIRY_MARGIN {
        let mut tokens = TOKENS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.insert(key.0, (token.clone(), now + lifetime - EXPIRY_MARGIN));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::{CacheKey, token_endpoint};

    #[test]
    fn authorities_get_their_token_paths() {
        assert_eq!(
            token_endpoint("https://login.microsoftonline.com/contoso.onmicrosoft.com").unwrap(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let full = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        assert_eq!(token_endpoint(full).unwrap(), full);
        assert_eq!(
            token_endpoint("https://dbc-a1b2.cloud.databricks.com/oidc").unwrap(),
            "https://dbc-a1b2.cloud.databricks.com/oidc/v1/token"
        );
        let okta = "https://acme.okta.com/oauth2/default/v1/token";
        assert_eq!(token_endpoint(okta).unwrap(), okta);
    }

    #[test]
    fn cache_keys_tell_parts_apart() {
        assert_ne!(CacheKey::of(&["ab", "c"]), CacheKey::of(&["a", "bc"]));
        assert_eq!(CacheKey::of(&["a", "b"]), CacheKey::of(&["a", "b"]));
    }
}
