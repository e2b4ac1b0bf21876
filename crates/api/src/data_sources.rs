//! The S3 data-source routes (the API reference §7): `POST /native-s3/handler` registers data
//! sources under an integration, `GET /native-s3/handler/{handlerId}` lists an integration's
//! (the handler is the integration), `DELETE /dataSource/{dataSourceId}` marks one deleted,
//! then removes it. A key with APPLICATION_ADMIN or CREATE_S3_DATASOURCE may call them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use warden_engine::Actor;
use warden_model::{ErrorCode, IntegrationId, ModelError, Problem};
use warden_platform::DataSourceRequest;
use warden_store::StoredDataSource;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Payload;

/// A data source as the routes answer it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceView {
    /// Its id.
    pub data_source_id: i64,
    /// Its name, unique within the integration.
    pub data_source_name: String,
    /// Its S3 prefix, under the integration's `awsLocationPath`.
    pub prefix: String,
    /// The integration it belongs to.
    pub integration_id: u64,
    /// `active`, or `deleted` after a first DELETE (a second removes it).
    pub status: &'static str,
}

impl From<&StoredDataSource> for DataSourceView {
    fn from(stored: &StoredDataSource) -> Self {
        Self {
            data_source_id: stored.id,
            data_source_name: stored.name.clone(),
            prefix: stored.location.clone(),
            integration_id: stored.integration_id.get(),
            status: if stored.deleted { "deleted" } else { "active" },
        }
    }
}

/// The registration body (the API reference §7), for the OpenAPI document.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the body; the handler reads it as JSON")]
#[schema(example = json!({"type": "Native S3", "integrationId": 4, "dataSources": [{"dataSourceName": "events", "prefix": "s3://acme-lake/raw/events"}]}))]
pub struct DataSourcesPayload {
    /// `Native S3`.
    #[schema(rename = "type")]
    r#type: String,
    /// The integration to register under.
    #[schema(rename = "integrationId")]
    integration_id: u64,
    /// `[{dataSourceName, prefix}]`.
    #[schema(rename = "dataSources")]
    data_sources: Vec<Value>,
}

/// Reads the registration body, reporting every problem with its path.
fn read(body: &Value) -> Result<(IntegrationId, Vec<DataSourceRequest>), ApiError> {
    let mut problems = Vec::new();
    let problem = |path: &str, message: &str| Problem { path: path.to_owned(), message: message.to_owned() };
    let Some(object) = body.as_object() else {
        return Err(ModelError::InvalidPayload(vec![problem("(body)", "must be an object")]).into());
    };
    for key in object.keys().filter(|k| !matches!(k.as_str(), "type" | "integrationId" | "dataSources")) {
        problems.push(problem(key, "is not a field of a data-source request (type, integrationId, dataSources)"));
    }
    if object.get("type").and_then(Value::as_str) != Some("Native S3") {
        problems.push(problem("type", "must be \"Native S3\""));
    }
    let id = object.get("integrationId").and_then(Value::as_u64).and_then(IntegrationId::new);
    if id.is_none() {
        problems.push(problem("integrationId", "must be a positive integer"));
    }
    let mut requests = Vec::new();
    match object.get("dataSources").and_then(Value::as_array) {
        Some(list) if !list.is_empty() && list.len() <= 100 => {
            for (i, item) in list.iter().enumerate() {
                let field =
                    |name: &str| item.get(name).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
                match (field("dataSourceName"), field("prefix")) {
                    (Some(name), Some(prefix)) if name.len() <= 255 && prefix.len() <= 1024 => {
                        requests.push(DataSourceRequest { name: name.to_owned(), location: prefix.to_owned() });
                    }
                    (Some(_), Some(_)) => problems.push(problem(
                        &format!("dataSources[{i}]"),
                        "dataSourceName holds at most 255 characters, prefix 1024",
                    )),
                    (None, _) => problems
                        .push(problem(&format!("dataSources[{i}].dataSourceName"), "must be a non-empty string")),
                    (_, None) => problems.push(problem(
                        &format!("dataSources[{i}].prefix"),
                        "must be an S3 path such as s3://bucket/prefix",
                    )),
                }
            }
        }
        _ => problems.push(problem("dataSources", "must be a list of 1 to 100 {dataSourceName, prefix}")),
    }
    match (problems.is_empty(), id) {
        (true, Some(id)) => Ok((id, requests)),
        _ => Err(ModelError::InvalidPayload(problems).into()),
    }
}

/// Register data sources under an S3 integration (its prefixes must lie under its
/// `awsLocationPath`, exist and be listable; names are unique within it).
#[utoipa::path(post, path = "/native-s3/handler", tag = "data sources",
    request_body(content = DataSourcesPayload, description = "`{type, integrationId, dataSources: [{dataSourceName, prefix}]}` (the API reference §7), JSON or YAML."),
    responses((status = 200, body = Vec<DataSourceView>), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn register(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Payload(body): Payload,
) -> Result<Json<Vec<DataSourceView>>, ApiError> {
    let (id, requests) = read(&body)?;
    let registered = state.engine.register_data_sources(id, &requests, &actor).await?;
    Ok(Json(registered.iter().map(DataSourceView::from).collect()))
}

/// An S3 integration's data sources, deleted ones marked so.
#[utoipa::path(get, path = "/native-s3/handler/{handlerId}", tag = "data sources",
    params(("handlerId" = u64, Path, minimum = 1, description = "The integration's id.")),
    responses((status = 200, body = Vec<DataSourceView>), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(handler): Path<String>,
) -> Result<Json<Vec<DataSourceView>>, ApiError> {
    let id = IntegrationId::parse(&handler).ok_or(ErrorCode::InvalidId { parameter: "handlerId" })?;
    let found = state.engine.data_sources_of(id).await?;
    Ok(Json(found.iter().map(DataSourceView::from).collect()))
}

/// Delete a data source: the first call marks it deleted (and answers it so), the second
/// removes it (`204`).
#[utoipa::path(delete, path = "/dataSource/{dataSourceId}", tag = "data sources",
    params(("dataSourceId" = u64, Path, minimum = 1, description = "The data source's id.")),
    responses((status = 200, body = DataSourceView), (status = 204, description = "Removed."), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(data_source): Path<String>,
) -> Result<Response, ApiError> {
    let id = data_source
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0 && data_source.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(ErrorCode::InvalidId { parameter: "dataSourceId" })?;
    Ok(match state.engine.delete_data_source(id, &actor).await? {
        Some(marked) => Json(DataSourceView::from(&marked)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}
