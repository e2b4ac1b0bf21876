//! The handlers of the API reference §2 (integrations) and the health probes. Each one reads
//! its inputs with the extractors, calls one engine use case and shapes the answer; the
//! rules live in the engine.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::header::HOST;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use warden_engine::{Actor, Engine, Outcome};
use warden_model::{ErrorCode, IntegrationId, IntegrationType, Status};
use warden_store::ListQuery;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Flags, Id, OptionalPayload, Payload};
use crate::shown;
use crate::views::{
    AcceptedView, ChangeAnswer, DeleteBody, DryRunView, Health, IntegrationPayload, IntegrationView, RegeneratedKey,
    StatusView,
};

/// The query string as name/value pairs; a query that does not decode is a 400.
pub struct QueryPairs(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<HashMap<String, String>>::from_request_parts(parts, state).await {
            Ok(Query(pairs)) => Ok(Self(pairs)),
            Err(_) => Err(ErrorCode::InvalidQuery { parameter: "(query string)".into() }.into()),
        }
    }
}

impl QueryPairs {
    pub(crate) fn flags(&self, accepted: &[&str]) -> Result<Flags, ApiError> {
        Flags::read(&self.0, accepted)
    }

    /// The parameters as given.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }
}

/// The Host the client used, for the Trino config snippet (unless `--public-url` is set).
pub struct RequestHost(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestHost {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok());
        let safe =
            host.filter(|h| h.len() <= 255 && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)));
        Ok(Self(safe.map(str::to_owned)))
    }
}

fn answer(outcome: Outcome, engine: &Engine) -> Response {
    let answer = match outcome {
        Outcome::DryRun(validation_results) => ChangeAnswer::DryRun(DryRunView { validation_results }),
        Outcome::Accepted(accepted) => ChangeAnswer::Accepted(Box::new(AcceptedView::new(*accepted, engine))),
    };
    Json(answer).into_response()
}

/// The largest page `GET /integrations?limit=` answers.
pub const MAX_PAGE: u32 = 1000;

/// The list's query: `includeDeleted`, `type`, `status`, `after` (a cursor: the last id of
/// the page before) and `limit`.
fn list_query(query: &QueryPairs) -> Result<ListQuery, ApiError> {
    const ACCEPTED: [&str; 5] = ["includeDeleted", "type", "status", "after", "limit"];
    let mut list = ListQuery::default();
    for (name, value) in &query.0 {
        let invalid = |parameter: &'static str, expected: String| ErrorCode::InvalidQueryValue { parameter, expected };
        match name.as_str() {
            "includeDeleted" => {
                let single = HashMap::from([(name.clone(), value.clone())]);
                list.include_deleted = Flags::read(&single, &["includeDeleted"])?.get("includeDeleted");
            }
            "type" => {
                let names: Vec<&str> = IntegrationType::ALL.iter().map(|t| t.wire_name()).collect();
                list.integration_type = Some(
                    IntegrationType::parse(value)
                        .map_err(|_| invalid("type", format!("one of: {}", names.join(", "))))?,
                );
            }
            "status" => {
                let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                list.status = Some(
                    Status::parse(value).ok_or_else(|| invalid("status", format!("one of: {}", names.join(", "))))?,
                );
            }
            "after" => {
                list.after = Some(
                    IntegrationId::parse(value)
                        .ok_or_else(|| invalid("after", "an integration id (a positive whole number)".into()))?,
                );
            }
            "limit" => {
                let limit = value.parse::<u32>().ok().filter(|n| (1..=MAX_PAGE).contains(n));
                list.limit =
                    Some(limit.ok_or_else(|| invalid("limit", format!("a whole number from 1 to {MAX_PAGE}")))?);
            }
            other => {
                let parameter: String = other.chars().take(100).collect();
                return Err(ErrorCode::UnknownQuery { parameter, accepted: ACCEPTED.join(", ") }.into());
            }
        }
    }
    Ok(list)
}

/// The `Link` to the page after `last`, for a full page of a paged list.
fn next_page(list: &ListQuery, last: IntegrationId) -> String {
    let mut query = format!("after={last}");
    if let Some(limit) = list.limit {
        query.push_str(&format!("&limit={limit}"));
    }
    if let Some(integration_type) = list.integration_type {
        query.push_str(&format!("&type={}", integration_type.wire_name().replace(' ', "%20")));
    }
    if let Some(status) = list.status {
        query.push_str(&format!("&status={}", status.as_str()));
    }
    if list.include_deleted {
        query.push_str("&includeDeleted=true");
    }
    format!("</integrations?{query}>; rel=\"next\"")
}

/// List integrations, oldest first: all of them (as the reference does), or one type or
/// status, a page at a time (Warden extensions).
#[utoipa::path(get, path = "/integrations", tag = "integrations",
    params(("includeDeleted" = Option<bool>, Query, description = "Also list deleted integrations."),
        ("type" = Option<String>, Query, description = "Warden extension: only integrations of this type (`Snowflake`, `Google BigQuery`, ...)."),
        ("status" = Option<String>, Query, description = "Warden extension: only integrations in this status (`enabled`, `createError`, ...)."),
        ("after" = Option<u64>, Query, minimum = 1, description = "Warden extension: only integrations whose id is above this one (the cursor a `Link: <...>; rel=\"next\"` header gives)."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Warden extension: at most this many; a full page carries a `Link` header to the next one.")),
    responses((status = 200, body = [IntegrationView]), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn list_integrations(State(state): State<AppState>, query: QueryPairs) -> Result<Response, ApiError> {
    let list = list_query(&query)?;
    let integrations = state.engine.list(&list).await?;
    let full_page = list.limit.is_some_and(|limit| integrations.len() == limit as usize);
    let next = integrations.last().filter(|_| full_page).map(|last| next_page(&list, last.summary.id));
    let mut response = shown::list(integrations, Arc::clone(&state.engine));
    if let Some(link) = next.and_then(|link| axum::http::HeaderValue::from_str(&link).ok()) {
        response.headers_mut().insert(axum::http::header::LINK, link);
    }
    Ok(response)
}

/// Create an integration (validates first; with `dryRun=true` only validates).
#[utoipa::path(post, path = "/integrations", tag = "integrations",
    params(("dryRun" = Option<bool>, Query, description = "Validate only; store nothing.")),
    request_body(content = IntegrationPayload, description = "`{type, autoBootstrap, config}` (the API reference §2.1), JSON or YAML."),
    responses((status = 200, body = ChangeAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn create_integration(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    query: QueryPairs,
    RequestHost(host): RequestHost,
    Payload(payload): Payload,
) -> Result<Response, ApiError> {
    let flags = query.flags(&["dryRun"])?;
    let public_url = state
        .public_url
        .clone()
        .or_else(|| host.map(|h| format!("http://{h}")))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let outcome = state.engine.create(&payload, flags.get("dryRun"), &actor, &public_url).await?;
    Ok(answer(outcome, &state.engine))
}

/// One integration, in any status.
#[utoipa::path(get, path = "/integrations/{id}", tag = "integrations",
    params(("id" = u64, Path, minimum = 1, description = "Integration id.")),
    responses((status = 200, body = IntegrationView), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn get_integration(
    State(state): State<AppState>,
    query: QueryPairs,
    Id(id): Id,
) -> Result<Response, ApiError> {
    query.flags(&[])?;
    Ok(shown::one(&*state.engine.get(id).await?, &state.engine))
}

/// Update an integration (validates first; with `dryRun=true` only validates).
#[utoipa::path(put, path = "/integrations/{id}", tag = "integrations",
    params(("id" = u64, Path, minimum = 1, description = "Integration id."),
           ("dryRun" = Option<bool>, Query, description = "Validate only; change nothing.")),
    request_body(content = IntegrationPayload, description = "The whole payload; secrets absent or `[REDACTED]` keep their stored value."),
    responses((status = 200, body = ChangeAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn update_integration(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    query: QueryPairs,
    Id(id): Id,
    Payload(payload): Payload,
) -> Result<Response, ApiError> {
    let flags = query.flags(&["dryRun"])?;
    Ok(answer(state.engine.update(id, &payload, flags.get("dryRun"), &actor).await?, &state.engine))
}

/// Delete (or, with `forceDisable=true`, disable) an integration.
#[utoipa::path(delete, path = "/integrations/{id}", tag = "integrations",
    params(("id" = u64, Path, minimum = 1, description = "Integration id."),
           ("dryRun" = Option<bool>, Query, description = "Validate only; change nothing."),
           ("forceDisable" = Option<bool>, Query, description = "Mark disabled at once; nothing runs on the platform.")),
    request_body(content = Option<DeleteBody>, description = "`{config: {...}}` with the privileged credentials, only for integrations set up automatically."),
    responses((status = 200, body = ChangeAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn delete_integration(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    query: QueryPairs,
    Id(id): Id,
    OptionalPayload(body): OptionalPayload,
) -> Result<Response, ApiError> {
    let flags = query.flags(&["dryRun", "forceDisable"])?;
    let outcome =
        state.engine.delete(id, body.as_ref(), flags.get("dryRun"), flags.get("forceDisable"), &actor).await?;
    Ok(answer(outcome, &state.engine))
}

/// An integration's status and what to do about an error status.
#[utoipa::path(get, path = "/integrations/{id}/status", tag = "integrations",
    params(("id" = u64, Path, minimum = 1, description = "Integration id.")),
    responses((status = 200, body = StatusView), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn integration_status(
    State(state): State<AppState>,
    query: QueryPairs,
    Id(id): Id,
) -> Result<Json<StatusView>, ApiError> {
    query.flags(&[])?;
    Ok(Json(StatusView::from(&state.engine.status(id).await?.summary)))
}

/// A new API key for a Trino integration; the old one stops working at once.
#[utoipa::path(post, path = "/integrations/{id}/regenerate", tag = "integrations",
    params(("id" = u64, Path, minimum = 1, description = "Integration id.")),
    responses((status = 200, body = RegeneratedKey), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn regenerate_key(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    query: QueryPairs,
    Id(id): Id,
) -> Result<Json<RegeneratedKey>, ApiError> {
    query.flags(&[])?;
    let key = state.engine.regenerate(id, &actor).await?;
    Ok(Json(RegeneratedKey { id: id.get(), api_key: key.expose().clone() }))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: recovery after start is done and the store answers.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    if !state.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "starting".into() }));
    }
    match state.engine.store().ping().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ok".into() })),
        Err(error) => {
            tracing::warn!(%error, "readiness: the store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "store unreachable".into() }))
        }
    }
}
