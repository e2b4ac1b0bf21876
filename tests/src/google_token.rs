//! A STAND-IN for Google's OAuth 2.0 token endpoint (`https://oauth2.googleapis.com/token`),
//! not Google: nothing here can serve it. It follows Google's "Using OAuth 2.0 for Server to
//! Server Applications": a `POST` form with `grant_type=urn:ietf:params:oauth:grant-type:
//! jwt-bearer` and `assertion=<JWT>`; the JWT's header says `RS256`, its signature verifies
//! with the public half of the service account's key (the stand-in is told each account's
//! key, as Google knows it), and its claims hold `iss` (the account), `scope`, `aud` (this
//! endpoint), `iat` and `exp` (in the future, at most an hour after `iat`). It answers
//! `{"access_token", "expires_in": 3599, "token_type": "Bearer"}`, or Google's errors
//! (`400 {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}`,
//! `unsupported_grant_type`, `invalid_scope`, and `invalid_grant` "Invalid email or User ID"
//! for an account it does not know). Its access tokens have the form
//! `ya29.warden-test.<base64url of the account>.<random>`, which the BigQuery emulator's
//! front (`xtask/bqemulator_server.py`) resolves to the account. Every token it issues is kept, for the test to look for.
//! Used by `crates/bigquery/tests/bqemulator.rs` (which includes this file) and the
//! end-to-end test `tests/tests/bigquery.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use warden_model::Secret;

/// BigQuery's scope, which every assertion must ask for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

/// The accounts the stand-in knows and what it was asked.
#[derive(Debug, Default)]
pub struct Accounts {
    /// Each account's public key, DER `SubjectPublicKeyInfo`, by email.
    pub keys: HashMap<String, Vec<u8>>,
    /// Every token issued, in order.
    pub issued: Vec<String>,
    /// Every refusal, as `error: description`.
    pub refused: Vec<String>,
}

/// The stand-in's state, shared with the test.
pub type Shared = Arc<Mutex<Accounts>>;

/// A running stand-in.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    /// Its token URL (what a key file's `token_uri` names).
    pub url: String,
    /// Its state.
    pub accounts: Shared,
}

fn refuse(accounts: &Shared, error: &str, description: &str) -> Response {
    accounts.lock().expect("the stand-in's state").refused.push(format!("{error}: {description}"));
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

fn decode(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok()
}

async fn token(
    State((accounts, url)): State<(Shared, String)>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return refuse(&accounts, "unsupported_grant_type", "Invalid grant_type.");
    }
    let assertion = form.get("assertion").cloned().unwrap_or_default();
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return refuse(&accounts, "invalid_grant", "Invalid JWT: Token must be a short-lived token.");
    };
    let (Some(header), Some(claims), Some(signature)) = (decode(header), decode(claims), decode(signature)) else {
        return refuse(&accounts, "invalid_grant", "Invalid JWT: the token is not base64url.");
    };
    let (Ok(header), Ok(claims)) = (serde_json::from_slice::<Value>(&header), serde_json::from_slice::<Value>(&claims))
    else {
        return refuse(&accounts, "invalid_grant", "Invalid JWT: the token is not JSON.");
    };
    if header["alg"] != "RS256" {
        return refuse(&accounts, "invalid_grant", "Invalid JWT: alg must be RS256.");
    }
    let account = claims["iss"].as_str().unwrap_or_default().to_owned();
    let Some(public) = accounts.lock().expect("the stand-in's state").keys.get(&account).cloned() else {
        return refuse(&accounts, "invalid_grant", "Invalid email or User ID");
    };
    let signed = assertion.rsplit_once('.').map(|(signed, _)| signed).unwrap_or_default();
    // The SubjectPublicKeyInfo of a 2048-bit key: its last 270 bytes are the PKCS#1 key.
    let pkcs1 = &public[public.len().saturating_sub(270)..];
    let verified =
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256, pkcs1)
            .verify(signed.as_bytes(), &signature);
    if verified.is_err() {
        return refuse(&accounts, "invalid_grant", "Invalid JWT Signature.");
    }
    if !claims["scope"].as_str().unwrap_or_default().split(' ').any(|s| s == SCOPE) {
        return refuse(&accounts, "invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    }
    if claims["aud"].as_str() != Some(url.as_str()) {
        return refuse(&accounts, "invalid_grant", "Invalid JWT: aud must be the token endpoint.");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (iat, exp) = (claims["iat"].as_u64().unwrap_or(0), claims["exp"].as_u64().unwrap_or(0));
    if exp <= now || exp.saturating_sub(iat) > 3600 || iat > now + 60 {
        return refuse(
            &accounts,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.",
        );
    }
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).expect("randomness");
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let access_token = format!("ya29.warden-test.{}.{}", url_safe.encode(&account), url_safe.encode(random));
    accounts.lock().expect("the stand-in's state").issued.push(access_token.clone());
    axum::Json(json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"})).into_response()
}

/// Starts the stand-in on a free 127.0.0.1 port.
pub async fn start() -> TokenEndpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}/token", listener.local_addr().expect("its address"));
    let accounts = Shared::default();
    let app =
        axum::Router::new().route("/token", axum::routing::post(token)).with_state((accounts.clone(), url.clone()));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TokenEndpoint { url, accounts }
}

impl TokenEndpoint {
    /// A new service account `email` of `project` that the stand-in knows, and its JSON key
    /// file (a fresh 2048-bit key; `token_uri` is this stand-in).
    pub fn key_file(&self, project: &str, email: &str) -> String {
        let pem = warden_http::jwt::generate_pem().expect("a generated key");
        let public = warden_scripts::rsa_key(&pem, None).expect("the key reads back").public_key_der().to_vec();
        self.accounts.lock().expect("the stand-in's state").keys.insert(email.to_owned(), public);
        self.key_file_for(project, email, &pem)
    }

    /// A key file of `email` with the private key `pem` (which the stand-in may not know).
    pub fn key_file_for(&self, project: &str, email: &str, pem: &Secret<String>) -> String {
        json!({"type": "service_account", "project_id": project, "private_key_id": "0123456789abcdef",
            "private_key": pem.expose(), "client_email": email, "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": self.url})
        .to_string()
    }

    /// The tokens it issued, in order.
    pub fn issued(&self) -> Vec<String> {
        self.accounts.lock().expect("the stand-in's state").issued.clone()
    }
}
