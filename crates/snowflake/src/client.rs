//! Snowflake's connector protocol, as Snowflake's own connectors speak it (read in the
//! Python and Go connectors' sources and Snowflake's driver documentation):
//!
//! - `POST /session/v1/login-request` with the account, the login name and the credential
//!   (a password, a key-pair JWT with `AUTHENTICATOR: SNOWFLAKE_JWT`, or an OAuth access
//!   token with `AUTHENTICATOR: OAUTH`), the warehouse,
//!   database and role as query parameters, and session parameters; it answers a session
//!   token.
//! - `POST /queries/v1/query-request?requestId=<uuid>` with `Authorization: Snowflake
//!   Token="<token>"` and `{"sqlText", "sequenceId"}`; the rows come as an Arrow IPC stream
//!   (`rowsetBase64`, for SELECT and SHOW) or a JSON `rowset` (DML and some answers); a
//!   statement still running answers `333334` with a URL to poll.
//! - A session token that expired (`390112`) is renewed with the login's master token
//!   (`POST /session/token-request`, `requestType: RENEW`) and the statement sent again.
//! - `POST /session?delete=true` ends the session.
//!
//! Errors carry Snowflake's code and SQL state; they are mapped to the contract's kinds. No
//! credential or token is ever put in an error or a log line.

use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use base64::Engine as _;
use serde_json::{Value, json};
use warden_http::rest;
use warden_model::Secret;
use warden_platform::{ErrorKind, PlatformError};

/// How often, and how long, a statement still running is polled.
const POLL_EVERY: Duration = Duration::from_millis(250);
const POLL_AT_MOST: usize = 240;

/// Sends the request `build` makes (afresh for each attempt) and reads its JSON answer. An
/// HTTP 429 or 503 (Snowflake, or a proxy in front of it, asking Warden to slow down; the
/// statement did not run) is tried again as `warden_http::rest::retrying` does for every REST
/// adapter (what `Retry-After` says, else a doubling wait, a bounded number of attempts), as
/// the connectors retry those codes; then it is a throttled error.
async fn send_json(what: &str, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Value, PlatformError> {
    let attempt = || {
        let request = build();
        async move {
            let response = request.send().await.map_err(|e| unreachable(what, e))?;
            rest::answer_of(response, what).await
        }
    };
    let throttled = |answer: &rest::Answer| matches!(answer.status, 429 | 503);
    let answer = rest::retrying("Snowflake", what, attempt, throttled).await?;
    if throttled(&answer) {
        return Err(PlatformError::new(
            ErrorKind::Throttled { retry_after: answer.retry_after },
            format!(
                "{what}: Snowflake answered HTTP {} to {} attempts; it asks Warden to slow down",
                answer.status,
                rest::ATTEMPTS
            ),
        ));
    }
    if answer.body.is_null() {
        return Err(PlatformError::new(
            rest::kind_of_status(answer.status),
            format!("{what}: Snowflake answered HTTP {} without a JSON body", answer.status),
        ));
    }
    Ok(answer.body)
}

/// The name Warden's sessions carry (`CLIENT_APP_ID`).
const CLIENT_APP_ID: &str = "Warden";

/// Where a Snowflake account is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://<account>.snowflakecomputing.com:443`, or `http://127.0.0.1:<port>` for a
    /// local emulator.
    pub base_url: String,
    /// The account name the login names (the host's first label, upper-cased).
    pub account: String,
}

/// How a session logs in.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A password.
    Password(Secret<String>),
    /// A key-pair JWT (signed by the caller).
    KeyPairJwt(Secret<String>),
    /// An OAuth access token from the identity provider (external OAuth).
    OAuth(Secret<String>),
}

/// What a session is opened with.
#[derive(Debug, Clone)]
pub struct Login {
    /// The login name (empty for OAuth, where the token names the user).
    pub user: String,
    /// The credential.
    pub credential: Credential,
    /// The warehouse, database and role to start in, when given.
    pub warehouse: Option<String>,
    /// The database to start in.
    pub database: Option<String>,
    /// The role to start in.
    pub role: Option<String>,
    /// Session parameters (`connectArgs`).
    pub session_parameters: serde_json::Map<String, Value>,
}

impl Login {
    /// A password login as `user`, in no particular warehouse, database or role, with no
    /// session parameter.
    pub fn password(user: &str, password: &str) -> Self {
        Self {
            user: user.to_owned(),
            credential: Credential::Password(Secret::new(password.to_owned())),
            warehouse: None,
            database: None,
            role: None,
            session_parameters: serde_json::Map::new(),
        }
    }
}

/// An open session.
#[derive(Debug)]
pub struct Session {
    http: reqwest::Client,
    base_url: String,
    tokens: std::sync::RwLock<Tokens>,
    sequence: std::sync::atomic::AtomicU64,
}

/// A session's tokens: the session token every request carries, and the master token that
/// renews it when it expires (`None` when the login gave none).
#[derive(Debug, Clone)]
struct Tokens {
    session: Secret<String>,
    master: Option<Secret<String>>,
}

/// Snowflake's code for an expired session token (renewed with the master token).
const SESSION_EXPIRED: &str = "390112";

/// The rows of a statement, every value as Snowflake's text for it (`None` for NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// The column names, as Snowflake answered them.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    /// The value of `column` (case-insensitive) in each row.
    pub fn column(&self, column: &str) -> Option<Vec<Option<&str>>> {
        let at = self.columns.iter().position(|c| c.eq_ignore_ascii_case(column))?;
        Some(self.rows.iter().map(|row| row.get(at).and_then(|v| v.as_deref())).collect())
    }
}

/// The kind of a Snowflake error, from its code (and SQL state).
fn kind_of(code: &str, sql_state: Option<&str>) -> ErrorKind {
    match code {
        // Incorrect user name or password; key-pair JWT refused; user locked or disabled.
        "390100" | "390144" | "390318" | "390422" | "390102" | "394304" => ErrorKind::Unauthenticated,
        // Session or token expired or unknown.
        "390103" | "390104" | "390112" | "390114" => ErrorKind::Unauthenticated,
        // Insufficient privileges; a role not granted (at login, or to USE ROLE).
        "003001" | "003013" | "390186" | "390189" => ErrorKind::Forbidden,
        // Object does not exist or not authorized.
        "002003" | "002043" | "390201" => ErrorKind::NotFound,
        // Object already exists.
        "002002" => ErrorKind::AlreadyExists,
        // Too many requests; warehouse overloaded.
        "000625" | "390133" => ErrorKind::Throttled { retry_after: None },
        _ => match sql_state {
            Some("28000" | "08001") => ErrorKind::Unauthenticated,
            Some("42501") => ErrorKind::Forbidden,
            Some("42S02" | "02000") => ErrorKind::NotFound,
            _ => ErrorKind::Other,
        },
    }
}

/// A Snowflake answer with `success: false`, as a typed error with its code and message.
fn refused(answer: &Value, doing: &str) -> PlatformError {
    let code = answer["code"].as_str().or_else(|| answer["data"]["errorCode"].as_str()).unwrap_or("unknown");
    let sql_state = answer["data"]["sqlState"].as_str();
    let message = answer["message"].as_str().unwrap_or("no message");
    let state = sql_state.map(|s| format!(", SQL state {s}")).unwrap_or_default();
    PlatformError::new(kind_of(code, sql_state), format!("{doing}: Snowflake error {code}{state}: {message}"))
}

fn unreachable(doing: &str, error: reqwest::Error) -> PlatformError {
    PlatformError::new(warden_http::transport_error_kind(&error), format!("{doing}: {}", error.without_url()))
}

/// A random request id in UUID form, as the connectors send it.
fn request_id() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the id is zeros; Snowflake only uses it to tell requests apart.
    let _ = getrandom::fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = warden_model::hex::encode(&bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

pub(crate) fn http_client() -> Result<reqwest::Client, PlatformError> {
    warden_http::https_client(None)
}

/// Opens a session.
pub async fn login(endpoint: &Endpoint, login: &Login) -> Result<Session, PlatformError> {
    let http = http_client()?;
    let mut data = json!({
        "CLIENT_APP_ID": CLIENT_APP_ID,
        "CLIENT_APP_VERSION": env!("CARGO_PKG_VERSION"),
        "ACCOUNT_NAME": endpoint.account,
        "SESSION_PARAMETERS": Value::Object(login.session_parameters.clone()),
    });
    if !login.user.is_empty() {
        data["LOGIN_NAME"] = json!(login.user);
    }
    match &login.credential {
        Credential::Password(password) => data["PASSWORD"] = json!(password.expose()),
        Credential::KeyPairJwt(jwt) => {
            data["AUTHENTICATOR"] = json!("SNOWFLAKE_JWT");
            data["TOKEN"] = json!(jwt.expose());
        }
        Credential::OAuth(token) => {
            data["AUTHENTICATOR"] = json!("OAUTH");
            data["TOKEN"] = json!(token.expose());
        }
    }
    let id = request_id();
    let mut query = vec![("request_id", id.as_str())];
    for (name, value) in [("warehouse", &login.warehouse), ("databaseName", &login.database), ("roleName", &login.role)]
    {
        if let Some(value) = value {
            query.push((name, value.as_str()));
        }
    }
    let url = format!("{}/session/v1/login-request", endpoint.base_url);
    let body = json!({"data": data});
    let answer =
        send_json("login", || http.post(&url).query(&query).header("accept", "application/json").json(&body)).await?;
    if answer["success"] != json!(true) {
        return Err(refused(&answer, "login"));
    }
    let token = answer["data"]["token"]
        .as_str()
        .ok_or_else(|| PlatformError::other("login: Snowflake answered without a session token"))?;
    let master = answer["data"]["masterToken"].as_str().map(|t| Secret::new(t.to_owned()));
    Ok(Session {
        http,
        base_url: endpoint.base_url.clone(),
        tokens: std::sync::RwLock::new(Tokens { session: Secret::new(token.to_owned()), master }),
        sequence: std::sync::atomic::AtomicU64::new(0),
    })
}

impl Session {
    fn tokens(&self) -> Tokens {
        self.tokens.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn authorization(&self) -> String {
        format!("Snowflake Token=\"{}\"", self.tokens().session.expose())
    }

    /// Renews the session token with the master token (`POST /session/token-request`,
    /// `requestType: RENEW`, as the connectors do when a session token expires).
    async fn renew(&self) -> Result<(), PlatformError> {
        let Tokens { session, master } = self.tokens();
        let master = master.ok_or_else(|| {
            PlatformError::new(
                ErrorKind::Unauthenticated,
                "the session expired and Snowflake gave no master token to renew it",
            )
        })?;
        let url = format!("{}/session/token-request", self.base_url);
        let body = json!({"oldSessionToken": session.expose(), "requestType": "RENEW"});
        let answer = send_json("renewing the session", || {
            self.http
                .post(&url)
                .query(&[("requestId", request_id())])
                .header("authorization", format!("Snowflake Token=\"{}\"", master.expose()))
                .header("accept", "application/json")
                .json(&body)
        })
        .await?;
        let renewed = answer["data"]["sessionToken"].as_str().filter(|_| answer["success"] == json!(true));
        let Some(renewed) = renewed else { return Err(refused(&answer, "renewing the session")) };
        let master = answer["data"]["masterToken"].as_str().map_or(master, |t| Secret::new(t.to_owned()));
        *self.tokens.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Tokens { session: Secret::new(renewed.to_owned()), master: Some(master) };
        Ok(())
    }

    /// Runs one statement and reads its rows; a session token that expired is renewed once.
    pub async fn query(&self, sql: &str) -> Result<Rows, PlatformError> {
        let answer = self.answer(sql).await?;
        let answer = if answer["code"].as_str() == Some(SESSION_EXPIRED) {
            self.renew().await?;
            self.answer(sql).await?
        } else {
            answer
        };
        let label = warden_scripts::label(sql);
        if answer["success"] != json!(true) {
            return Err(refused(&answer, &label));
        }
        rows(&answer["data"]).map_err(|detail| PlatformError::other(format!("{label}: {detail}")))
    }

    /// Snowflake's answer to one statement, once it finished running.
    async fn answer(&self, sql: &str) -> Result<Value, PlatformError> {
        let label = warden_scripts::label(sql);
        let sequence = self.sequence.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let url = format!("{}/queries/v1/query-request", self.base_url);
        let body = json!({"sqlText": sql, "sequenceId": sequence, "asyncExec": false});
        let request_id = request_id();
        let mut answer = send_json(&label, || {
            self.http
                .post(&url)
                .query(&[("requestId", request_id.as_str())])
                .header("authorization", self.authorization())
                .header("accept", "application/snowflake")
                .json(&body)
        })
        .await?;
        for _ in 0..POLL_AT_MOST {
            // 333334 and 333333: the statement is still running; its result is polled.
            if !matches!(answer["code"].as_str(), Some("333334" | "333333")) {
                break;
            }
            let Some(path) = answer["data"]["getResultUrl"].as_str().map(str::to_owned) else { break };
            tokio::time::sleep(POLL_EVERY).await;
            let result_url = format!("{}{path}", self.base_url);
            answer = send_json(&label, || {
                self.http
                    .get(&result_url)
                    .header("authorization", self.authorization())
                    .header("accept", "application/snowflake")
            })
            .await?;
        }
        Ok(answer)
    }

    /// Ends the session (a failure to say goodbye is only logged).
    pub async fn close(self) {
        let url = format!("{}/session", self.base_url);
        let sent = self
            .http
            .post(&url)
            .query(&[("delete", "true"), ("request_id", &request_id())])
            .header("authorization", self.authorization())
            .header("accept", "application/json")
            .send()
            .await;
        if let Err(error) = sent {
            tracing::debug!(error = %error.without_url(), "could not close a Snowflake session");
        }
    }
}

fn rows(data: &Value) -> Result<Rows, String> {
    let columns: Vec<String> = data["rowtype"]
        .as_array()
        .map(|types| types.iter().filter_map(|t| t["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if data["chunks"].as_array().is_some_and(|chunks| !chunks.is_empty()) {
        return Err("the result is larger than one chunk, which Warden does not read".into());
    }
    if let Some(encoded) = data["rowsetBase64"].as_str() {
        let mut rows = Vec::new();
        if !encoded.is_empty() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| format!("the Arrow result is not base64: {e}"))?;
            let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
                .map_err(|e| format!("the Arrow result does not read: {e}"))?;
            for batch in reader {
                let batch = batch.map_err(|e| format!("the Arrow result does not read: {e}"))?;
                rows.extend(batch_rows(&batch)?);
            }
        }
        return Ok(Rows { columns, rows });
    }
    let rows = data["rowset"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.as_array()
                        .map(|values| values.iter().map(|v| v.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Rows { columns, rows })
}

/// The rows of one Arrow record batch, each value as its display text.
fn batch_rows(batch: &RecordBatch) -> Result<Vec<Vec<Option<String>>>, String> {
    let options = FormatOptions::default();
    let formatters: Vec<ArrayFormatter<'_>> = batch
        .columns()
        .iter()
        .map(|column| ArrayFormatter::try_new(column.as_ref(), &options).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    Ok((0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(column, formatter)| (!column.is_null(row)).then(|| formatter.value(row).to_string()))
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{kind_of, request_id};
    use warden_platform::ErrorKind;

    #[test]
    fn error_codes_map_to_kinds() {
        assert_eq!(kind_of("390100", None), ErrorKind::Unauthenticated);
        assert_eq!(kind_of("002003", Some("02000")), ErrorKind::NotFound);
        assert_eq!(kind_of("003001", Some("42501")), ErrorKind::Forbidden);
        assert_eq!(kind_of("003013", Some("42501")), ErrorKind::Forbidden, "USE ROLE of a role not granted");
        assert_eq!(kind_of("002002", Some("42710")), ErrorKind::AlreadyExists);
        assert_eq!(kind_of("999999", Some("42S02")), ErrorKind::NotFound);
        assert_eq!(kind_of("999999", None), ErrorKind::Other);
    }

    #[test]
    fn request_ids_are_version_4_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, request_id());
    }
}
