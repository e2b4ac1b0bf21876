//! OAuth sign-in (`authenticationType: oAuthClientCredentials`): an access token from the
//! identity provider by the client-credentials grant (`warden_http::oauth`), the client
//! proving itself with its secret (`client_id` + `client_secret` in the form, RFC 6749
//! section 2.3.1) or with its certificate (a JWT client assertion signed RS256 with
//! `oauthPrivateKey`, RFC 7523 sections 2.2 and 3, whose header names the certificate by its
//! `x5t` thumbprint, as Microsoft Entra ID asks). Snowflake then takes the token with
//! `AUTHENTICATOR: OAUTH` (external OAuth).
//!
//! `authorityUrl` is the token endpoint, or an Entra ID authority completed as Microsoft's
//! libraries do; there `resource` becomes the scope `<resource>/.default` when no scope is
//! given. Elsewhere `resource` is sent as RFC 8707's parameter.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::json;
use warden_http::oauth::{self, CacheKey, TokenRequest};
use warden_model::Secret;
use warden_model::config::{SnowflakeOAuth, SnowflakeOAuthCredential};
use warden_platform::{ErrorKind, PlatformError};

use crate::key_pair::PrivateKey;

/// How long a client assertion is valid.
const ASSERTION_VALIDITY_SECS: u64 = 300;
/// RFC 7523's client assertion type.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The digest a client's token is cached under.
fn cache_key(client: &SnowflakeOAuth) -> CacheKey {
    let (thumbprint, secret) = match &client.credential {
        SnowflakeOAuthCredential::ClientSecret { client_secret } => ("", client_secret.expose().as_str()),
        SnowflakeOAuthCredential::Certificate { public_certificate_thumbprint, oauth_private_key } => {
            (public_certificate_thumbprint.as_str(), oauth_private_key.expose().as_str())
        }
    };
    CacheKey::of(&[
        client.authority_url.as_str(),
        &client.client_id,
        client.scope.as_deref().unwrap_or_default(),
        client.resource.as_deref().unwrap_or_default(),
        thumbprint,
        secret,
    ])
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

/// The token request of `client` at `endpoint`.
fn token_request(client: &SnowflakeOAuth, endpoint: &str) -> Result<TokenRequest, PlatformError> {
    let plain = |value: &str| Secret::new(value.to_owned());
    let mut form = vec![("client_id", plain(&client.client_id))];
    let entra = oauth::is_entra(endpoint);
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
    Ok(TokenRequest { form, ..TokenRequest::default() })
}

/// An access token for `client` (cached until a minute before it expires).
pub(crate) async fn access_token(
    http: &reqwest::Client,
    client: &SnowflakeOAuth,
) -> Result<Secret<String>, PlatformError> {
    let endpoint = oauth::token_endpoint(client.authority_url.as_str())?;
    oauth::access_token(
        http,
        cache_key(client),
        &endpoint,
        "oAuthClientConfig",
        oauth::CLIENT_CREDENTIALS_REMEDY,
        || token_request(client, &endpoint),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::x5t;

    #[test]
    fn a_hex_thumbprint_becomes_its_base64url_bytes() {
        // 20 bytes 0x00..0x13.
        let hex: String = (0u8..20).map(|b| format!("{b:02X}")).collect();
        assert_eq!(x5t(&hex), "AAECAwQFBgcICQoLDA0ODxAREhM");
        assert_eq!(x5t("already-b64url"), "already-b64url");
    }
}
