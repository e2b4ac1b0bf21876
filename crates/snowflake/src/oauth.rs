//! OAuth sign-in (`authenticationType: oAuthClientCredentials`): an access token from the
//! identity provider's token endpoint by the client-credentials grant (RFC 6749 section 4.4),
//! the client proving itself with its secret (`client_id` + `client_secret` in the form,
//! section 2.3.1) or with its certificate (a JWT client assertion signed RS256 with
//! `oauthPrivateKey`, RFC 7523 section 2.2 and 3, whose header names the certificate by its
//! `x5t` thumbprint, as Microsoft Entra ID asks). Snowflake then takes the token with
//! `AUTHENTICATOR: OAUTH` (external OAuth).
//!
//! `authorityUrl` is the token endpoint; a Microsoft Entra ID authority
//! (`https://login.microsoftonline.com/<tenant>`) gets `/oauth2/v2.0/token` appended, as
//! Microsoft's libraries do, and there `resource` becomes the scope `<resource>/.default`
//! when no scope is given. Elsewhere `resource` is sent as RFC 8707's parameter.
//!
//! Tokens are cached per client (keyed by a digest of the whole client config, secret
//! included, never the secret itself) until a minute before they expire. Neither the
//! secret, the key, the assertion nor the token is ever put in an error or a log line.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use warden_model::Secret;
use warden_model::config::{SnowflakeOAuth, SnowflakeOAuthCredential};
use warden_platform::{ErrorKind, PlatformError};

use crate::key_pair::PrivateKey;

/// How long before its expiry a cached token is no longer used.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// How long a client assertion is valid.
const ASSERTION_VALIDITY_SECS: u64 = 300;
/// RFC 7523's client assertion type.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A cached token and the instant it stops being used.
type Cached = (Secret<String>, Instant);

/// Cached tokens by client digest.
static TOKENS: LazyLock<Mutex<HashMap<[u8; 32], Cached>>> = LazyLock::new(Mutex::default);

fn is_entra(url: &url::Url) -> bool {
    url.host_str().is_some_and(|h| h == "login.microsoftonline.com" || h.ends_with(".microsoftonline.com"))
}

/// The token endpoint of an authority.
pub(crate) fn token_endpoint(authority: &str) -> Result<String, PlatformError> {
    let url = url::Url::parse(authority)
        .map_err(|e| PlatformError::unsupported(format!("oAuthClientConfig.authorityUrl is not a URL: {e}")))?;
    if is_entra(&url) && !url.path().trim_end_matches('/').ends_with("/token") {
        return Ok(format!("{}/oauth2/v2.0/token", authority.trim_end_matches('/')));
    }
    Ok(authority.to_owned())
}

/// The digest a client's token is cached under.
fn cache_key(client: &SnowflakeOAuth) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in [client.authority_url.as_str(), &client.client_id, client.scope.as_deref().unwrap_or_default()] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    digest.update(client.resource.as_deref().unwrap_or_default().as_bytes());
    digest.update([0]);
    match &client.credential {
        SnowflakeOAuthCredential::ClientSecret { client_secret } => digest.update(client_secret.expose().as_bytes()),
        SnowflakeOAuthCredential::Certificate { public_certificate_thumbprint, oauth_private_key } => {
            digest.update(public_certificate_thumbprint.as_bytes());
            digest.update([0]);
            digest.update(oauth_private_key.expose().as_bytes());
        }
    }
    digest.finalize().into()
}

/// The certificate's `x5t`: base64url of its SHA-1 thumbprint, which Entra ID and most
/// tools show as 40 hex digits (taken as given when it is not hex).
fn x5t(thumbprint: &str) -> String {
    let hex: String = thumbprint.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    let bytes: Option<Vec<u8>> = (hex.len() == 40)
        .then(|| (0..40).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect())
        .flatten();
    bytes.map_or_else(|| thumbprint.to_owned(), |b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// A client assertion for `endpoint` (RFC 7523 section 3), issued at `now`.
fn client_assertion(
    client: &SnowflakeOAuth,
    key: &PrivateKey,
    thumbprint: &str,
    endpoint: &str,
    now: u64,
) -> Result<Secret<String>, PlatformError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| PlatformError::other(format!("no randomness for a client assertion: {e}")))?;
    key.sign_jwt(
        &json!({"alg": "RS256", "typ": "JWT", "x5t": x5t(thumbprint)}),
        &json!({
            "aud": endpoint,
            "iss": client.client_id,
            "sub": client.client_id,
            "jti": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_VALIDITY_SECS,
        }),
    )
}

/// The form of the token request.
fn token_form(client: &SnowflakeOAuth, endpoint: &str) -> Result<Vec<(&'static str, Secret<String>)>, PlatformError> {
    let plain = |value: &str| Secret::new(value.to_owned());
    let mut form = vec![("grant_type", plain("client_credentials")), ("client_id", plain(&client.client_id))];
    let entra = url::Url::parse(endpoint).is_ok_and(|u| is_entra(&u));
    let scope = match (&client.scope, &client.resource) {
        (Some(scope), _) => Some(scope.clone()),
        (None, Some(resource)) if entra => Some(format!("{}/.default", resource.trim_end_matches('/'))),
        _ => None,
    };
    if let Some(scope) = scope {
        form.push(("scope", plain(&scope)));
    }
    if let (Some(resource), false) = (&client.resource, entra) {
        form.push(("resource", plain(resource)));
    }
    match &client.credential {
        SnowflakeOAuthCredential::ClientSecret { client_secret } => form.push(("client_secret", client_secret.clone())),
        SnowflakeOAuthCredential::Certificate { public_certificate_thumbprint, oauth_private_key } => {
            let key = PrivateKey::from_pem(oauth_private_key, None).map_err(|e| {
                PlatformError::new(ErrorKind::Unauthenticated, format!("oAuthClientConfig.oauthPrivateKey: {e}"))
            })?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            form.push(("client_assertion_type", plain(JWT_BEARER)));
            form.push((
                "client_assertion",
                client_assertion(client, &key, public_certificate_thumbprint, endpoint, now)?,
            ));
        }
    }
    Ok(form)
}

/// An access token for `client`: the cached one while it has more than a minute left, else
/// a new one from the token endpoint.
pub(crate) async fn access_token(
    http: &reqwest::Client,
    client: &SnowflakeOAuth,
) -> Result<Secret<String>, PlatformError> {
    let key = cache_key(client);
    let now = Instant::now();
    {
        let mut tokens = TOKENS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.retain(|_, (_, until)| *until > now);
        if let Some((token, _)) = tokens.get(&key) {
            return Ok(token.clone());
        }
    }
    let endpoint = token_endpoint(client.authority_url.as_str())?;
    let form: Vec<(&str, String)> =
        token_form(client, &endpoint)?.into_iter().map(|(name, value)| (name, value.expose().clone())).collect();
    let failed = |e: reqwest::Error| {
        let kind = if e.is_timeout() || e.is_connect() { ErrorKind::Unreachable } else { ErrorKind::Other };
        PlatformError::new(kind, format!("the OAuth token endpoint {endpoint}: {}", e.without_url()))
    };
    let response =
        http.post(&endpoint).header("accept", "application/json").form(&form).send().await.map_err(failed)?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let Some(token) = answer["access_token"].as_str().filter(|_| status.is_success()) else {
        // RFC 6749 section 5.2: `error` and `error_description`.
        let error = answer["error"].as_str().unwrap_or("no error code");
        let description = answer["error_description"].as_str().map(|d| format!(": {d}")).unwrap_or_default();
        return Err(PlatformError::new(
            ErrorKind::Unauthenticated,
            format!(
                "the OAuth token endpoint {endpoint} answered {status} ({error}{description}); check oAuthClientConfig (clientId, the secret or certificate, scope, authorityUrl)"
            ),
        ));
    };
    let lifetime = Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(0));
    let token = Secret::new(token.to_owned());
    if lifetime > EXPIRY_MARGIN {
        let mut tokens = TOKENS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.insert(key, (token.clone(), now + lifetime - EXPIRY_MARGIN));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::{token_endpoint, x5t};

    #[test]
    fn an_entra_authority_gets_its_token_path() {
        assert_eq!(
            token_endpoint("https://login.microsoftonline.com/contoso.onmicrosoft.com").unwrap(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let full = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        assert_eq!(token_endpoint(full).unwrap(), full);
        let okta = "https://acme.okta.com/oauth2/default/v1/token";
        assert_eq!(token_endpoint(okta).unwrap(), okta);
    }

    #[test]
    fn a_hex_thumbprint_becomes_its_base64url_bytes() {
        // 20 bytes 0x00..0x13.
        let hex: String = (0u8..20).map(|b| format!("{b:02X}")).collect();
        assert_eq!(x5t(&hex), "AAECAwQFBgcICQoLDA0ODxAREhM");
        assert_eq!(x5t("already-b64url"), "already-b64url");
    }
}
