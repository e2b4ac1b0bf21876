//! OAuth sign-in against a token endpoint started here. It is a STAND-IN for an identity
//! provider (nothing here can serve Entra ID or Okta), written from the standards: the
//! client-credentials grant of RFC 6749 section 4.4 (form `grant_type=client_credentials`,
//! `client_id`, `client_secret` per section 2.3.1; an answer of `access_token`, `token_type`,
//! `expires_in` per section 5.1, or `error` and `error_description` per section 5.2) and
//! RFC 7523's JWT client assertion (`client_assertion_type`, `client_assertion` signed RS256
//! with `iss` = `sub` = the client id and `aud` = the token endpoint, verified here with the
//! certificate's public key). The same server records Snowflake's login request (connector
//! protocol: `data.AUTHENTICATOR = OAUTH`, `data.TOKEN`) so the test sees which token
//! reached Snowflake.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use warden_model::{IntegrationSpec, Secret};
use warden_platform::{Phase, Platform as _};
use warden_snowflake::Snowflake;

const CLIENT_ID: &str = "warden-client";
const SECRET: &str = "Client-S3cret-value";
const KEY: &str = include_str!("fixtures/test_key.p8");
const THUMBPRINT: &str = "0123456789ABCDEF0123456789ABCDEF01234567";

#[derive(Default)]
struct Provider {
    /// The token endpoint's own URL (the assertion's audience).
    endpoint: String,
    /// Tokens issued.
    issued: Vec<String>,
    /// The `TOKEN` of each Snowflake login.
    logins: Vec<(String, String)>,
}

type Shared = Arc<Mutex<Provider>>;

fn refuse(status: StatusCode, error: &str, description: &str) -> (StatusCode, Json<Value>) {
    (status, Json(json!({"error": error, "error_description": description})))
}

fn claims_of(assertion: &str) -> Result<Value, String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (signed, signature) = assertion.rsplit_once('.').ok_or("not a JWT")?;
    let key = warden_scripts::rsa_key(&Secret::new(KEY.to_owned()), None).unwrap();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.public_key_der()[24..])
        .verify(signed.as_bytes(), &b64.decode(signature).map_err(|e| e.to_string())?)
        .map_err(|_| "bad signature")?;
    let mut parts = signed.split('.');
    let header: Value = serde_json::from_slice(&b64.decode(parts.next().unwrap()).unwrap()).unwrap();
    // x5t: base64url of the SHA-1 thumbprint's 20 bytes.
    let thumbprint: Vec<u8> =
        (0..40).step_by(2).map(|i| u8::from_str_radix(&THUMBPRINT[i..i + 2], 16).unwrap()).collect();
    if header["x5t"] != json!(b64.encode(thumbprint)) || header["alg"] != "RS256" {
        return Err(format!("header {header}"));
    }
    serde_json::from_slice(&b64.decode(parts.next().unwrap()).unwrap()).map_err(|e| e.to_string())
}

async fn token(State(provider): State<Shared>, Form(form): Form<HashMap<String, String>>) -> (StatusCode, Json<Value>) {
    let mut provider = provider.lock().unwrap();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type", "client_credentials only");
    }
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client");
    }
    let authenticated =
        match (form.get("client_secret"), form.get("client_assertion_type"), form.get("client_assertion")) {
            (Some(secret), None, None) => secret == SECRET,
            (None, Some(kind), Some(assertion)) if kind == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" => {
                match claims_of(assertion) {
                    Ok(claims) => {
                        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                        claims["iss"] == CLIENT_ID
                            && claims["sub"] == CLIENT_ID
                            && claims["aud"] == json!(provider.endpoint)
                            && claims["exp"].as_u64().unwrap() > now
                            && claims["jti"].is_string()
                    }
                    Err(why) => return refuse(StatusCode::UNAUTHORIZED, "invalid_client", &why),
                }
            }
            _ => return refuse(StatusCode::BAD_REQUEST, "invalid_request", "one client authentication method"),
        };
    if !authenticated {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
    }
    if form.get("scope").map(String::as_str) != Some("session:role:WARDEN") {
        return refuse(StatusCode::BAD_REQUEST, "invalid_scope", "scope session:role:WARDEN expected");
    }
    let issued = format!("access-token-{}", provider.issued.len() + 1);
    provider.issued.push(issued.clone());
    (StatusCode::OK, Json(json!({"access_token": issued, "token_type": "Bearer", "expires_in": 3600})))
}

async fn login(State(provider): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let data = &body["data"];
    provider.lock().unwrap().logins.push((
        data["AUTHENTICATOR"].as_str().unwrap_or_default().to_owned(),
        data["TOKEN"].as_str().unwrap_or_default().to_owned(),
    ));
    Json(
        json!({"data": {"token": "session-token", "masterToken": "master-token"}, "success": true, "code": null, "message": null}),
    )
}

async fn serve() -> (url::Url, Shared) {
    let provider = Shared::default();
    let app = Router::new()
        .route("/oauth2/token", post(token))
        .route("/session/v1/login-request", post(login))
        .route("/session", post(|| async { Json(json!({"success": true})) }))
        .with_state(provider.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    provider.lock().unwrap().endpoint = format!("{url}oauth2/token");
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, provider)
}

fn spec(url: &url::Url, credential: Value) -> IntegrationSpec {
    let mut client = json!({"provider": "okta", "clientId": CLIENT_ID, "authorityUrl": format!("{url}oauth2/token"),
        "scope": "session:role:WARDEN"});
    client.as_object_mut().unwrap().extend(credential.as_object().unwrap().clone());
    let payload = json!({"type": "Snowflake", "autoBootstrap": false, "config": {"host": url.host_str().unwrap(),
        "port": url.port().unwrap(), "warehouse": "WH", "database": "WARDEN_DB",
        "authenticationType": "oAuthClientCredentials", "oAuthClientConfig": client, "connectArgs": "protocol=http"}});
    IntegrationSpec::from_value(&payload, None).unwrap()
}

/// A client secret gets a token, which Snowflake's login carries; the token is reused by the
/// next sign-in (cached until shortly before it expires).
#[tokio::test]
async fn a_client_secret_gets_a_token_that_signs_in_and_is_reused() {
    let (url, provider) = serve().await;
    let spec = spec(&url, json!({"useCertificate": false, "clientSecret": SECRET}));
    for _ in 0..2 {
        let session = Snowflake.open(&spec, Phase::Installed).await.unwrap();
        Snowflake.close(session).await;
    }
    let provider = provider.lock().unwrap();
    assert_eq!(provider.issued, ["access-token-1"], "one token for both sign-ins");
    let expected = ("OAUTH".to_owned(), "access-token-1".to_owned());
    assert_eq!(provider.logins, [expected.clone(), expected]);
}

/// A certificate signs a client assertion the provider verifies with its public key.
#[tokio::test]
async fn a_certificate_signs_a_client_assertion() {
    let (url, provider) = serve().await;
    let spec =
        spec(&url, json!({"useCertificate": true, "publicCertificateThumbprint": THUMBPRINT, "oauthPrivateKey": KEY}));
    let session = Snowflake.open(&spec, Phase::Installed).await.unwrap();
    Snowflake.close(session).await;
    assert_eq!(provider.lock().unwrap().logins, [("OAUTH".to_owned(), "access-token-1".to_owned())]);
}

/// A client the provider refuses fails the sign-in with the provider's error code, and
/// never shows the secret.
#[tokio::test]
async fn a_refused_client_names_the_providers_error_and_not_the_secret() {
    let (url, provider) = serve().await;
    let spec = spec(&url, json!({"useCertificate": false, "clientSecret": "Wrong-S3cret-value"}));
    let error = Snowflake.open(&spec, Phase::Installed).await.unwrap_err().to_string();
    assert!(error.starts_with("could not log in: the OAuth token endpoint"), "{error}");
    assert!(error.contains("401 Unauthorized (invalid_client: client authentication failed)"), "{error}");
    assert!(!error.contains("Wrong-S3cret-value"), "{error}");
    assert!(provider.lock().unwrap().logins.is_empty(), "Snowflake was not asked");
}
