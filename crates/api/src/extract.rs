//! Request extractors: the body as a decoded payload (JSON or YAML by content type, under
//! the 1 MiB limit), the integration id from the path, and strict boolean query flags.
//! Each refuses bad input with the error that names what is wrong.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use http_body_util::BodyExt as _;
use serde_json::Value;
use warden_model::{BodyFormat, ErrorCode, IntegrationId, MAX_BODY_BYTES, decode};

use crate::error::ApiError;

/// The format a content type names; `None` when Warden does not read it. `curl -d` sends
/// `application/x-www-form-urlencoded` and some clients send `text/plain` for a JSON body,
/// so those are sniffed like an absent content type.
fn body_format(content_type: Option<&str>) -> Option<BodyFormat> {
    let Some(content_type) = content_type else {
        return Some(BodyFormat::Unknown);
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some(BodyFormat::Json),
        t if t.starts_with("application/") && t.ends_with("+json") => Some(BodyFormat::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => Some(BodyFormat::Yaml),
        "" | "application/x-www-form-urlencoded" | "text/plain" => Some(BodyFormat::Unknown),
        _ => None,
    }
}

async fn read_body(request: Request) -> Result<Option<Value>, ApiError> {
    let content_type = match request.headers().get(CONTENT_TYPE) {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::from(ErrorCode::UnsupportedMediaType { content_type: "(not text)".into() }))?,
        ),
        None => None,
    };
    let format = body_format(content_type).ok_or_else(|| ErrorCode::UnsupportedMediaType {
        content_type: content_type.unwrap_or_default().chars().take(100).collect(),
    })?;
    let bytes = read_limited(request.into_body()).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    Ok(Some(decode(&bytes, format)?))
}

/// How much of an oversized body is read and dropped before the 413 goes out: a client
/// still sending when the server closes the connection gets a reset instead of the answer.
/// Past this, the connection is closed without draining.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Reads the body up to [`MAX_BODY_BYTES`]; an oversized one is a 413 (after draining it
/// up to [`DRAIN_LIMIT`]).
async fn read_limited(mut body: Body) -> Result<Vec<u8>, ApiError> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ErrorCode::MalformedBody { detail: "the body could not be read".into() })?;
        let Ok(data) = frame.into_data() else { continue };
        total = total.saturating_add(data.len());
        if total > DRAIN_LIMIT {
            break;
        }
        if total <= MAX_BODY_BYTES {
            kept.extend_from_slice(&data);
        }
    }
    if total > MAX_BODY_BYTES {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    Ok(kept)
}

/// A required request body, decoded.
pub struct Payload(pub Value);

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        // An empty body reads as null; the payload checker says what it must hold.
        Ok(Self(read_body(request).await?.unwrap_or(Value::Null)))
    }
}

/// An optional request body (DELETE), decoded when present.
pub struct OptionalPayload(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for OptionalPayload {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(read_body(request).await?))
    }
}

/// The `{id}` path segment, a positive integer.
pub struct Id(pub IntegrationId);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(segment) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::from(ErrorCode::InvalidId { parameter: "id" }))?;
        IntegrationId::parse(&segment).map(Self).ok_or_else(|| ErrorCode::InvalidId { parameter: "id" }.into())
    }
}

/// Query flags: `true`/`false` values of the parameters a route accepts. An unknown
/// parameter is refused, so that a typo (`dryrun=true`) never runs the real thing.
pub struct Flags(HashMap<String, bool>);

impl Flags {
    /// Reads the query against the parameters a route accepts.
    pub fn read(query: &HashMap<String, String>, accepted: &[&str]) -> Result<Self, ApiError> {
        let mut flags = HashMap::new();
        for (name, value) in query {
            if !accepted.contains(&name.as_str()) {
                let name: String = name.chars().take(100).collect();
                return Err(ErrorCode::UnknownQuery { parameter: name, accepted: accepted.join(", ") }.into());
            }
            let flag = match value.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(ErrorCode::InvalidQuery { parameter: name.clone() }.into()),
            };
            flags.insert(name.clone(), flag);
        }
        Ok(Self(flags))
    }

    /// Whether the flag is set.
    pub fn get(&self, name: &str) -> bool {
        self.0.get(name).copied().unwrap_or(false)
    }
}
