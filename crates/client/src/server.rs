//! The server a client command talks to: its address and API key (from the command line, the
//! environment or the user's config file, never printed), and the JSON requests the commands
//! make, with the server's error bodies turned into [`ClientError`]s.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use warden_model::Secret;

use crate::ClientError;

/// How long one request may take before the client gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(330);

/// Where the server is and how to reach it (`--server`, `--api-key`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The Warden server's URL (or WARDEN_URL, or `server:` in the config file).
    #[arg(long, global = true, env = "WARDEN_URL")]
    pub server: Option<String>,
    /// The API key (or WARDEN_API_KEY, or `apiKey:` in the config file). Prefer the
    /// environment or the file: a key on the command line shows in the process list.
    #[arg(long, global = true, env = "WARDEN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// The config file: `$XDG_CONFIG_HOME/warden/client.yaml`, else `~/.config/warden/client.yaml`.
pub fn config_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("warden").join("client.yaml"))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFile {
    server: Option<String>,
    api_key: Option<String>,
}

fn read_config_file() -> Result<ConfigFile, ClientError> {
    let Some(path) = config_file() else { return Ok(ConfigFile::default()) };
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(ConfigFile::default()) };
    serde_saphyr::from_str(&text).map_err(|e| ClientError::Document {
        file: path.display().to_string(),
        message: format!("is not a client config (server:, apiKey:): {}", e.to_string().lines().next().unwrap_or("")),
    })
}

/// A connection to one Warden server.
pub struct Server {
    base: String,
    key: Secret<String>,
    http: reqwest::Client,
}

/// An answer: its status and its body (JSON, or text when it is not JSON).
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Value,
}

impl Server {
    /// Connects as the arguments, the environment or the config file say, in that order.
    pub fn from_args(args: &ServerArgs) -> Result<Self, ClientError> {
        let file =
            if args.server.is_some() && args.api_key.is_some() { ConfigFile::default() } else { read_config_file()? };
        let base = args.server.clone().or(file.server).ok_or_else(|| {
            ClientError::Usage("no server: pass --server https://warden.example.com, or set WARDEN_URL".to_owned())
        })?;
        let key = args
            .api_key
            .clone()
            .or(file.api_key)
            .ok_or_else(|| ClientError::Usage("no API key: set WARDEN_API_KEY (or pass --api-key)".to_owned()))?;
        Self::new(&base, Secret::new(key))
    }

    /// Connects to `base` with `key`.
    pub fn new(base: &str, key: Secret<String>) -> Result<Self, ClientError> {
        let parsed = reqwest::Url::parse(base)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
            .ok_or_else(|| ClientError::Usage(format!("--server {base} is not an http:// or https:// URL")))?;
        let http = warden_http::https_client(None)
            .map_err(|e| ClientError::Usage(format!("the HTTPS client could not be built: {e}")))?;
        Ok(Self { base: parsed.as_str().trim_end_matches('/').to_owned(), key, http })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request and answers whatever the server said (an error status included).
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer, ClientError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(REQUEST_TIMEOUT)
            .header("Authorization", self.key.expose())
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body })
    }

    /// Sends a request and answers its body, or the server's refusal as an error.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let what = format!("{method} {path}");
        let answer = self.send(method, path, body).await?;
        if answer.status.is_success() { Ok(answer.body) } else { Err(refused(what, &answer)) }
    }

    /// Sends a request for text (`Accept: text/plain`), as the scripts routes answer.
    pub async fn text(&self, path: &str, body: &Value) -> Result<String, ClientError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .timeout(REQUEST_TIMEOUT)
            .header("Authorization", self.key.expose())
            .header("Accept", "text/plain")
            .json(body)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            return Ok(text);
        }
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Err(refused(format!("POST {path}"), &Answer { status, body }))
    }

    fn unreachable(&self, error: &reqwest::Error) -> ClientError {
        // reqwest's message names the URL, never a header; the key travels only in one.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        ClientError::Unreachable { server: self.base.clone(), message }
    }
}

/// The server's refusal, with every field problem it listed.
pub fn refused(what: String, answer: &Answer) -> ClientError {
    let body = &answer.body;
    let mut message = body["message"].as_str().map_or_else(|| body.to_string(), str::to_owned);
    for problem in body["errors"].as_array().into_iter().flatten() {
        if let Some(text) = problem["message"].as_str() {
            message.push_str(&format!("\n  - {text}"));
        }
    }
    if let Some(tests) = body["validationResults"]["validationTests"].as_array() {
        message.push_str(&crate::output::failed_tests(tests));
    }
    ClientError::Refused { what, status: answer.status.as_u16(), message }
}
