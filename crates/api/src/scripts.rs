//! The script endpoints (the API reference §5). A script answers as `text/plain`, ready to pipe
//! into the platform's client, or, with `Accept: application/json`, as
//! `{"script", "dialect", "runAs", "connectTo"}`.

use axum::Json;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use warden_scripts::{Script, ScriptKind};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Id, Payload};
use crate::routes::QueryPairs;
use crate::views::IntegrationPayload;

/// A script as JSON.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScriptView {
    /// The script, as the text answer carries it.
    pub script: String,
    /// Its dialect (`snowflake`, `redshift`, `tsql`, `databricks`; `bash` for the BigQuery setup script).
    pub dialect: String,
    /// The privileges whoever runs it needs.
    pub run_as: String,
    /// The database to connect to first.
    pub connect_to: String,
}

fn answer(script: &Script, headers: &HeaderMap) -> Response {
    let wants_json = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if wants_json {
        return Json(ScriptView {
            script: script.render(),
            dialect: script.dialect.name().to_owned(),
            run_as: script.run_as.clone(),
            connect_to: script.connect_to().to_owned(),
        })
        .into_response();
    }
    let mut response = script.render().into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

async fn by_payload(
    state: &AppState,
    kind: ScriptKind,
    query: &QueryPairs,
    headers: &HeaderMap,
    payload: &serde_json::Value,
) -> Result<Response, ApiError> {
    query.flags(&[])?;
    Ok(answer(&state.engine.script(kind, payload).await?, headers))
}

/// The manual-setup script (Synapse, Databricks, Redshift, Snowflake; for Google BigQuery a bash script of `gcloud` and `bq` commands, a Warden extension).
#[utoipa::path(post, path = "/integrations/scripts/create", tag = "scripts",
    request_body(content = IntegrationPayload, description = "The integration payload, `autoBootstrap: false`."),
    responses((status = 200, content_type = "text/plain", body = String), (status = 200, content_type = "application/json", body = ScriptView),
              (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn create_script(
    State(state): State<AppState>,
    query: QueryPairs,
    headers: HeaderMap,
    Payload(payload): Payload,
) -> Result<Response, ApiError> {
    by_payload(&state, ScriptKind::Create, &query, &headers, &payload).await
}

/// The first setup script, connected to an existing database (Synapse, Redshift).
#[utoipa::path(post, path = "/integrations/scripts/initial-create", tag = "scripts",
    request_body(content = IntegrationPayload, description = "The integration payload, `autoBootstrap: false`."),
    responses((status = 200, content_type = "text/plain", body = String), (status = 200, content_type = "application/json", body = ScriptView),
              (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn initial_create_script(
    State(state): State<AppState>,
    query: QueryPairs,
    headers: HeaderMap,
    Payload(payload): Payload,
) -> Result<Response, ApiError> {
    by_payload(&state, ScriptKind::InitialCreate, &query, &headers, &payload).await
}

/// The removal script for an integration that failed to create (Synapse, Redshift, Snowflake).
#[utoipa::path(post, path = "/integrations/scripts/cleanup", tag = "scripts",
    request_body(content = IntegrationPayload, description = "The integration payload, `autoBootstrap: false`."),
    responses((status = 200, content_type = "text/plain", body = String), (status = 200, content_type = "application/json", body = ScriptView),
              (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn cleanup_script(
    State(state): State<AppState>,
    query: QueryPairs,
    headers: HeaderMap,
    Payload(payload): Payload,
) -> Result<Response, ApiError> {
    by_payload(&state, ScriptKind::Cleanup, &query, &headers, &payload).await
}

/// The second removal script, connected to `master` (Synapse).
#[utoipa::path(post, path = "/integrations/scripts/post-cleanup", tag = "scripts",
    request_body(content = IntegrationPayload, description = "The integration payload, `autoBootstrap: false`."),
    responses((status = 200, content_type = "text/plain", body = String), (status = 200, content_type = "application/json", body = ScriptView),
              (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn post_cleanup_script(
    State(state): State<AppState>,
    query: QueryPairs,
    headers: HeaderMap,
    Payload(payload): Payload,
) -> Result<Response, ApiError> {
    by_payload(&state, ScriptKind::PostCleanup, &query, &headers, &payload).await
}

/// The script that moves the platform from the stored config to the body's.
#[utoipa::path(post, path = "/integrations/{id}/scripts/edit", tag = "scripts",
    params(("id" = u64, Path, minimum = 1, description = "Integration id.")),
    request_body(content = IntegrationPayload, description = "The new payload; secrets absent or `[REDACTED]` keep their stored value."),
    responses((status = 200, content_type = "text/plain", body = String), (status = 200, content_type = "application/json", body = ScriptView),
              (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn edit_script(
    State(state): State<AppState>,
    query: QueryPairs,
    headers: HeaderMap,
    Id(id): Id,
    Payload(payload): Payload,
) -> Result<Response, ApiError> {
    query.flags(&[])?;
    Ok(answer(&state.engine.edit_script(id, &payload).await?, &headers))
}

/// Warden extension: the removal script of a stored integration whose creation failed,
/// built from what Warden stored, so it removes exactly what Warden created (no body).
#[utoipa::path(post, path = "/integrations/{id}/scripts/cleanup", tag = "scripts",
    params(("id" = u64, Path, minimum = 1, description = "Integration id.")),
    responses((status = 200, content_type = "text/plain", body = String), (status = 200, content_type = "application/json", body = ScriptView),
              (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn stored_cleanup_script(
    State(state): State<AppState>,
    query: QueryPairs,
    headers: HeaderMap,
    Id(id): Id,
) -> Result<Response, ApiError> {
    query.flags(&[])?;
    Ok(answer(&state.engine.stored_cleanup_script(id, ScriptKind::Cleanup).await?, &headers))
}

/// Warden extension: the second removal script (Synapse) of a stored integration whose
/// creation failed (no body).
#[utoipa::path(post, path = "/integrations/{id}/scripts/post-cleanup", tag = "scripts",
    params(("id" = u64, Path, minimum = 1, description = "Integration id.")),
    responses((status = 200, content_type = "text/plain", body = String), (status = 200, content_type = "application/json", body = ScriptView),
              (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn stored_post_cleanup_script(
    State(state): State<AppState>,
    query: QueryPairs,
    headers: HeaderMap,
    Id(id): Id,
) -> Result<Response, ApiError> {
    query.flags(&[])?;
    Ok(answer(&state.engine.stored_cleanup_script(id, ScriptKind::PostCleanup).await?, &headers))
}

/// The removal script of a created integration (no body).
#[utoipa::path(post, path = "/integrations/{id}/scripts/delete", tag = "scripts",
    params(("id" = u64, Path, minimum = 1, description = "Integration id.")),
    responses((status = 200, content_type = "text/plain", body = String), (status = 200, content_type = "application/json", body = ScriptView),
              (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn delete_script(
    State(state): State<AppState>,
    query: QueryPairs,
    headers: HeaderMap,
    Id(id): Id,
) -> Result<Response, ApiError> {
    query.flags(&[])?;
    Ok(answer(&state.engine.delete_script(id).await?, &headers))
}
