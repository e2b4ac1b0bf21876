//! The workspace's REST APIs, as Databricks documents them and its SDKs call them: every
//! call `https://<workspaceUrl>:<port>/api/...` with `Authorization: Bearer <token>` (a
//! personal access token, or an OAuth M2M access token), JSON in and out. An error answer is
//! `{"error_code", "message"}`; its code (or, without one, the HTTP status) becomes the
//! contract's kind. `429` and `503` are retried with backoff (`warden_http::rest`), waiting
//! what `Retry-After` says (at most [`MAX_WAIT`] each, [`ATTEMPTS`] attempts in all). The SQL Statement
//! Execution API (`POST /api/2.0/sql/statements` on a SQL warehouse) runs what only SQL can
//! do. No token is ever put in an error or a log line.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use warden_http::Proxy;
use warden_http::oauth::{self, CacheKey, TokenRequest};
use warden_http::rest::{self, Answer};
use warden_model::Secret;
use warden_model::config::DatabricksOAuth;
use warden_platform::{ErrorKind, PlatformError};

pub use warden_http::rest::{ATTEMPTS, MAX_WAIT};

/// How the service principal proves itself.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A personal access token.
    Token(Secret<String>),
    /// OAuth machine-to-machine: the client credentials grant.
    OAuth(DatabricksOAuth),
}

/// One workspace, reached with one credential.
#[derive(Debug)]
pub struct Workspace {
    http: reqwest::Client,
    base_url: String,
    credential: Credential,
}

/// The kind of a Databricks error, from its `error_code`, else its HTTP status.
fn kind_of(status: u16, code: &str) -> ErrorKind {
    match code {
        "NOT_FOUND"
        | "RESOURCE_DOES_NOT_EXIST"
        | "CATALOG_DOES_NOT_EXIST"
        | "SCHEMA_DOES_NOT_EXIST"
        | "METASTORE_DOES_NOT_EXIST"
        | "TABLE_OR_VIEW_NOT_FOUND" => ErrorKind::NotFound,
        "PERMISSION_DENIED" => ErrorKind::Forbidden,
        "UNAUTHENTICATED" => ErrorKind::Unauthenticated,
        "RESOURCE_ALREADY_EXISTS" | "ALREADY_EXISTS" | "CATALOG_ALREADY_EXISTS" | "SCHEMA_ALREADY_EXISTS" => {
            ErrorKind::AlreadyExists
        }
        "REQUEST_LIMIT_EXCEEDED" | "TEMPORARILY_UNAVAILABLE" => ErrorKind::Throttled { retry_after: None },
        _ => rest::kind_of_status(status),
    }
}

impl Workspace {
    /// The workspace at `host:port`, reached with `credential`, through `proxy` when given.
    pub fn new(host: &str, port: u16, credential: Credential, proxy: Option<&Proxy>) -> Result<Self, PlatformError> {
        let base_url = if port == 443 { format!("https://{host}") } else { format!("https://{host}:{port}") };
        Ok(Self { http: warden_http::https_client(proxy)?, base_url, credential })
    }

    /// The bearer token of the next call.
    async fn bearer(&self) -> Result<Secret<String>, PlatformError> {
        match &self.credential {
            Credential::Token(token) => Ok(token.clone()),
            Credential::OAuth(client) => {
                let endpoint = oauth::token_endpoint(client.authority_url.as_str())?;
                let key = CacheKey::of(&[
                    client.authority_url.as_str(),
                    &client.client_id,
                    &client.scope,
                    client.client_secret.expose(),
                ]);
                let entra = oauth::is_entra(&endpoint);
                oauth::access_token(
                    &self.http,
                    key,
                    &endpoint,
                    "config.oAuthClientConfig",
                    oauth::CLIENT_CREDENTIALS_REMEDY,
                    || {
                        let scope = Secret::new(client.scope.clone());
                        // Databricks' own endpoint takes the client in HTTP Basic (as its SDKs send
                        // it); Entra ID in the form.
                        Ok(if entra {
                            TokenRequest {
                                form: vec![
                                    ("client_id", Secret::new(client.client_id.clone())),
                                    ("client_secret", client.client_secret.clone()),
                                    ("scope", scope),
                                ],
                                ..TokenRequest::default()
                            }
                        } else {
                            TokenRequest {
                                form: vec![("scope", scope)],
                                basic_auth: Some((client.client_id.clone(), client.client_secret.clone())),
                                ..TokenRequest::default()
                            }
                        })
                    },
                )
                .await
            }
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Value, PlatformError> {
        self.call(Method::GET, path, None).await
    }

    /// Sends `method path` with `body`, retrying a throttled answer; answers the JSON body
    /// (`null` for an empty one).
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, PlatformError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let url = format!("{}{path}", self.base_url);
        let code = |answer: &Answer| answer.body["error_code"].as_str().unwrap_or_default().to_owned();
        let answer = rest::retrying(
            "Databricks",
            &what,
            || async { rest::send(&self.http, method.clone(), &url, &self.bearer().await?, body, &what).await },
            |answer| matches!(kind_of(answer.status, &code(answer)), ErrorKind::Throttled { .. }),
        )
        .await?;
        if answer.succeeded() {
            return Ok(answer.body);
        }
        let code = code(&answer);
        let kind = match kind_of(answer.status, &code) {
            ErrorKind::Throttled { .. } => ErrorKind::Throttled { retry_after: answer.retry_after },
            other => other,
        };
        let message = answer.body["message"].as_str().unwrap_or("no message");
        let code = if code.is_empty() { String::new() } else { format!(" {code}") };
        Err(PlatformError::new(kind, format!("{what}: Databricks answered {}{code}: {message}", answer.status)))
    }

    /// Runs `sql` on the SQL warehouse `warehouse_id` (the Statement Execution API, rows
    /// inline as JSON arrays) and answers its rows. A statement still running is polled.
    pub async fn execute(&self, warehouse_id: &str, sql: &str) -> Result<Vec<Vec<Value>>, PlatformError> {
        let label = warden_scripts::label(sql);
        let body = json!({"warehouse_id": warehouse_id, "statement": sql, "wait_timeout": "30s",
            "on_wait_timeout": "CONTINUE", "format": "JSON_ARRAY", "disposition": "INLINE"});
        let mut answer = self.call(Method::POST, "/api/2.0/sql/statements", Some(&body)).await?;
        for _ in 0..120 {
            if !matches!(answer["status"]["state"].as_str(), Some("PENDING" | "RUNNING")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let id = answer["statement_id"].as_str().unwrap_or_default().to_owned();
            answer = self.get(&format!("/api/2.0/sql/statements/{id}")).await?;
        }
        match answer["status"]["state"].as_str() {
            Some("SUCCEEDED") => Ok(answer["result"]["data_array"]
                .as_array()
                .map(|rows| rows.iter().map(|row| row.as_array().cloned().unwrap_or_default()).collect())
                .unwrap_or_default()),
            state => {
                let error = &answer["status"]["error"];
                let code = error["error_code"].as_str().unwrap_or_default();
                let message = error["message"].as_str().unwrap_or("no message");
                let kind =
                    if message.contains("TABLE_OR_VIEW_NOT_FOUND") { ErrorKind::NotFound } else { kind_of(400, code) };
                Err(PlatformError::new(
                    kind,
                    format!("{label}: the statement ended {}: {message}", state.unwrap_or("unknown")),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_platform::ErrorKind;

    use super::kind_of;

    #[test]
    fn error_codes_and_statuses_map_to_kinds() {
        assert_eq!(kind_of(404, "NOT_FOUND"), ErrorKind::NotFound);
        assert_eq!(kind_of(400, "RESOURCE_ALREADY_EXISTS"), ErrorKind::AlreadyExists);
        assert_eq!(kind_of(403, "PERMISSION_DENIED"), ErrorKind::Forbidden);
        assert_eq!(kind_of(401, ""), ErrorKind::Unauthenticated);
        assert_eq!(kind_of(429, ""), ErrorKind::Throttled { retry_after: None });
        assert_eq!(kind_of(500, "INTERNAL_ERROR"), ErrorKind::Other);
    }
}
