//! BigQuery's REST API v2 as Google documents it and its client libraries call it, signed in
//! as a service account the way Google's "Using OAuth 2.0 for Server to Server Applications"
//! describes: a JWT (RS256, header `kid` = the key's `private_key_id`; claims `iss` = the
//! account's `client_email`, `scope`, `aud` = the key file's `token_uri`, `iat`, `exp` one
//! hour later) signed with the key file's `private_key` and exchanged at `token_uri` for an
//! access token (RFC 7523's `jwt-bearer` grant), cached by `warden_http::oauth` until a minute
//! before it expires. Every call is `https://bigquery.googleapis.com/bigquery/v2/projects/
//! <project>/...` (or the emulator `warden_platform::reach::bigquery_endpoint` names) with
//! `Authorization: Bearer`. An error answer is `{"error": {"code", "message", "errors":
//! [{"reason"}], "status"}}`; its first reason (or the HTTP status) becomes the contract's
//! kind, and `rateLimitExceeded`/`backendError` are retried (`warden_http::rest`). Neither the
//! key nor a token is ever put in an error or a log line.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};
use warden_http::jwt::PrivateKey;
use warden_http::oauth::{self, CacheKey, TokenRequest};
use warden_http::rest::{self, Answer};
use warden_model::Secret;
use warden_model::config::BigQueryConfig;
use warden_platform::{ErrorKind, PlatformError};

/// The OAuth scope of BigQuery's API.
pub const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";
/// The token endpoint of a key file that names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// RFC 7523's grant type for a JWT bearer assertion.
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long an assertion is valid (Google's maximum is one hour).
const ASSERTION_VALIDITY_SECS: u64 = 3600;

/// What Warden reads from a service-account key file (`credential`).
#[derive(Clone)]
pub struct KeyFile {
    /// `project_id`.
    pub project_id: String,
    /// `client_email`: the service account.
    pub client_email: String,
    /// `private_key_id`, named in the assertion's header.
    pub private_key_id: Option<String>,
    /// `private_key`, a PKCS#8 PEM.
    pub private_key: Secret<String>,
    /// `token_uri`.
    pub token_uri: String,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// Reads `credential` (the payload rules checked its shape already; this reads what
    /// signing needs). No error quotes the file.
    pub fn read(credential: &Secret<String>) -> Result<Self, PlatformError> {
        let unusable = |what: &str| {
            PlatformError::new(ErrorKind::Unauthenticated, format!("config.credential: the key file {what}"))
        };
        let file: Value = serde_json::from_str(credential.expose()).map_err(|_| unusable("is not JSON"))?;
        let text = |name: &str| file.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Self {
            project_id: text("project_id").ok_or_else(|| unusable("has no project_id"))?,
            client_email: text("client_email").ok_or_else(|| unusable("has no client_email"))?,
            private_key_id: text("private_key_id"),
            private_key: Secret::new(text("private_key").ok_or_else(|| unusable("has no private_key"))?),
            token_uri: text("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned()),
        })
    }

    /// The assertion Google's token endpoint exchanges for an access token, issued at `now`.
    pub fn assertion(&self, now: u64) -> Result<Secret<String>, PlatformError> {
        // The reading error is "the private key ..."; it says which field holds that key.
        let key = PrivateKey::from_pem(&self.private_key, None).map_err(|e| match e {
            PlatformError::Failed { kind, detail } => PlatformError::new(kind, format!("config.credential: {detail}")),
            other => other,
        })?;
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(id) = &self.private_key_id {
            header["kid"] = json!(id);
        }
        key.sign_jwt(
            &header,
            &json!({"iss": self.client_email, "scope": SCOPE, "aud": self.token_uri, "iat": now,
                "exp": now + ASSERTION_VALIDITY_SECS}),
        )
    }
}

/// The kind of a BigQuery error, from its first `reason`, else its HTTP status
/// (BigQuery's "Troubleshoot errors" table).
pub fn kind_of(status: u16, reason: &str) -> ErrorKind {
    match reason {
        "notFound" => ErrorKind::NotFound,
        "duplicate" => ErrorKind::AlreadyExists,
        "accessDenied" | "forbidden" | "billingNotEnabled" => ErrorKind::Forbidden,
        "rateLimitExceeded" | "backendError" => ErrorKind::Throttled { retry_after: None },
        _ => rest::kind_of_status(status),
    }
}

/// BigQuery in one project, reached with one service account.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    /// `<base>/bigquery/v2/projects/<project>`.
    project_url: String,
    key: KeyFile,
    location: String,
}

impl Client {
    /// The client of `config`: its key file's project and account, its `location`.
    pub fn new(config: &BigQueryConfig) -> Result<Self, PlatformError> {
        let key = KeyFile::read(&config.credential)?;
        let port = config.port.get();
        let default = if port == 443 {
            "https://bigquery.googleapis.com".to_owned()
        } else {
            format!("https://bigquery.googleapis.com:{port}")
        };
        let base = warden_platform::reach::bigquery_endpoint(default)
            .map_err(|p| PlatformError::unsupported(format!("{}: {}", p.path, p.message)))?;
        let project_url = format!("{}/bigquery/v2/projects/{}", base.trim_end_matches('/'), key.project_id);
        Ok(Self { http: warden_http::https_client(None)?, project_url, key, location: config.location.clone() })
    }

    /// The key file it signs in with.
    pub const fn key(&self) -> &KeyFile {
        &self.key
    }

    /// An access token for the service account (cached until a minute before it expires).
    async fn bearer(&self) -> Result<Secret<String>, PlatformError> {
        let key = &self.key;
        let cache = CacheKey::of(&[&key.token_uri, &key.client_email, key.private_key.expose()]);
        oauth::access_token(
            &self.http,
            cache,
            &key.token_uri,
            "config.credential",
            "the key file: is its key, or the service account, disabled or deleted?",
            || {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                Ok(TokenRequest {
                    grant_type: Some(JWT_BEARER_GRANT),
                    form: vec![("assertion", key.assertion(now)?)],
                    basic_auth: None,
                })
            },
        )
        .await
    }

    /// Sends `method <project>/<path>` with `body`, retrying a throttled answer; answers the
    /// JSON body (`null` for an empty one).
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, PlatformError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let url = format!("{}{path}", self.project_url);
        let reason =
            |answer: &Answer| answer.body["error"]["errors"][0]["reason"].as_str().unwrap_or_default().to_owned();
        let answer = rest::retrying(
            "BigQuery",
            &what,
            || async { rest::send(&self.http, method.clone(), &url, &self.bearer().await?, body, &what).await },
            |answer| {
                !answer.succeeded() && matches!(kind_of(answer.status, &reason(answer)), ErrorKind::Throttled { .. })
            },
        )
        .await?;
        if answer.succeeded() {
            return Ok(answer.body);
        }
        let reason = reason(&answer);
        let kind = match kind_of(answer.status, &reason) {
            ErrorKind::Throttled { .. } => ErrorKind::Throttled { retry_after: answer.retry_after },
            other => other,
        };
        let message = answer.body["error"]["message"].as_str().unwrap_or("no message");
        let reason = if reason.is_empty() { String::new() } else { format!(" {reason}") };
        Err(PlatformError::new(kind, format!("{what}: BigQuery answered {}{reason}: {message}", answer.status)))
    }

    /// Runs `sql` (GoogleSQL) in the integration's location and answers its rows' cells as
    /// text.
    pub async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PlatformError> {
        let body = json!({"query": sql, "useLegacySql": false, "location": self.location, "timeoutMs": 30_000});
        let answer = self.call(Method::POST, "/queries", Some(&body)).await?;
        if answer["jobComplete"] == json!(false) {
            return Err(PlatformError::other("POST /queries: the query did not finish within 30 s"));
        }
        Ok(answer["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        row["f"]
                            .as_array()
                            .map(|cells| cells.iter().map(|c| c["v"].as_str().map(str::to_owned)).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The identity BigQuery sees the calls as (`SESSION_USER()`).
    pub async fn session_user(&self) -> Result<String, PlatformError> {
        let rows = self.query("SELECT SESSION_USER()").await?;
        rows.first()
            .and_then(|row| row.first().cloned().flatten())
            .ok_or_else(|| PlatformError::other("SELECT SESSION_USER() answered no row"))
    }

    /// `GET /datasets/<dataset>`, or `None` when it does not exist.
    pub async fn dataset(&self, dataset: &str) -> Result<Option<Value>, PlatformError> {
        match self.call(Method::GET, &format!("/datasets/{dataset}"), None).await {
            Ok(found) => Ok(Some(found)),
            Err(error) if error.kind() == Some(ErrorKind::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates `dataset` in the integration's location with `labels`.
    pub async fn create_dataset(&self, dataset: &str, labels: &Value) -> Result<Value, PlatformError> {
        let body = json!({"datasetReference": {"projectId": self.key.project_id, "datasetId": dataset},
            "location": self.location, "labels": labels});
        self.call(Method::POST, "/datasets", Some(&body)).await
    }

    /// Deletes `dataset` (with its tables when `contents`); one already gone is not an error.
    pub async fn delete_dataset(&self, dataset: &str, contents: bool) -> Result<(), PlatformError> {
        let path = format!("/datasets/{dataset}?deleteContents={contents}");
        match self.call(Method::DELETE, &path, None).await {
            Err(error) if error.kind() != Some(ErrorKind::NotFound) => Err(error),
            _ => Ok(()),
        }
    }

    /// Sets (or with `None` removes) the label `key` of `dataset`: the dataset read, its
    /// labels changed, and written back whole (`datasets.update`), so that the others stay as
    /// they are. A dataset that does not exist is left alone.
    pub async fn set_label(&self, dataset: &str, key: &str, value: Option<&str>) -> Result<(), PlatformError> {
        let Some(mut found) = self.dataset(dataset).await? else { return Ok(()) };
        let mut labels = found["labels"].as_object().cloned().unwrap_or_default();
        match value {
            Some(value) => labels.insert(key.to_owned(), json!(value)),
            None => labels.remove(key),
        };
        found["labels"] = Value::Object(labels);
        self.call(Method::PUT, &format!("/datasets/{dataset}"), Some(&found)).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use warden_platform::ErrorKind;

    use super::kind_of;

    #[test]
    fn reasons_and_statuses_map_to_kinds() {
        assert_eq!(kind_of(404, "notFound"), ErrorKind::NotFound);
        assert_eq!(kind_of(409, "duplicate"), ErrorKind::AlreadyExists);
        assert_eq!(kind_of(403, "accessDenied"), ErrorKind::Forbidden);
        assert_eq!(kind_of(403, "rateLimitExceeded"), ErrorKind::Throttled { retry_after: None });
        assert_eq!(kind_of(401, ""), ErrorKind::Unauthenticated);
        assert_eq!(kind_of(500, "internalError"), ErrorKind::Other);
    }
}
