//! JSON REST calls with a bearer token, as the REST-speaking adapters (Databricks, BigQuery)
//! make them: [`send`] makes one call and answers its status, JSON body and `Retry-After`;
//! [`retrying`] repeats a call the platform throttled, waiting what `Retry-After` says (at
//! most [`MAX_WAIT`] each, [`ATTEMPTS`] attempts in all) or backing off. What an error
//! answer means is each platform's own (its error body), so the adapter reads the final
//! [`Answer`]. No token is ever put in an error or a log line.

use std::future::Future;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use warden_model::Secret;
use warden_platform::{ErrorKind, PlatformError};

/// How many times a throttled call is sent at most.
pub const ATTEMPTS: u32 = 4;
/// The longest wait before a retry, whatever `Retry-After` says.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
/// The first backoff when the answer does not say how long to wait.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// What the platform answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (`null` when it was empty or not JSON).
    pub body: Value,
    /// How long `Retry-After` (in seconds) asked to wait, within [`MAX_WAIT`].
    pub retry_after: Option<Duration>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub const fn succeeded(&self) -> bool {
        self.status >= 200 && self.status < 300
    }
}

/// The kind an error answer's HTTP status says, for a platform whose error body names no
/// more specific one.
pub const fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::AlreadyExists,
        429 | 503 => ErrorKind::Throttled { retry_after: None },
        _ => ErrorKind::Other,
    }
}

/// Sends `method url` with `bearer` and the JSON `body`; `what` names the call in an error
/// (`GET /api/2.1/...`, never the token).
pub async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    bearer: &Secret<String>,
    body: Option<&Value>,
    what: &str,
) -> Result<Answer, PlatformError> {
    let mut request = http.request(method, url).bearer_auth(bearer.expose()).header("accept", "application/json");
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| PlatformError::new(crate::transport_error_kind(&e), format!("{what}: {}", e.without_url())))?;
    answer_of(response, what).await
}

/// Reads an HTTP answer: its status, `Retry-After` (within [`MAX_WAIT`]) and JSON body
/// (`null` when the body is empty or not JSON). A body cut short is a transport error, as the
/// connection failed.
pub async fn answer_of(response: reqwest::Response, what: &str) -> Result<Answer, PlatformError> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|seconds| Duration::from_secs(seconds).min(MAX_WAIT));
    let text = response
        .text()
        .await
        .map_err(|e| PlatformError::new(crate::transport_error_kind(&e), format!("{what}: {}", e.without_url())))?;
    let body = if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
    Ok(Answer { status, body, retry_after })
}

/// Makes the call `attempt` makes until its answer is not `throttled` or [`ATTEMPTS`] were
/// made, and answers the last answer (the adapter turns an error answer into its error).
/// `platform` and `what` name the call in the log line of a retry.
pub async fn retrying<F, Fut>(
    platform: &str,
    what: &str,
    mut attempt: F,
    throttled: impl Fn(&Answer) -> bool,
) -> Result<Answer, PlatformError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Answer, PlatformError>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut made = 1;
    loop {
        let answer = attempt().await?;
        if !throttled(&answer) || made >= ATTEMPTS {
            return Ok(answer);
        }
        let pause = answer.retry_after.unwrap_or(backoff);
        tracing::info!(%what, status = answer.status, attempt = made, wait_ms = pause.as_millis() as u64, "throttled by {platform}; retrying");
        tokio::time::sleep(pause).await;
        backoff = (backoff * 2).min(MAX_WAIT);
        made += 1;
    }
}
