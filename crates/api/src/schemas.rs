//! `GET /schemas/{file}`: the JSON Schema (2020-12) of each integration type's payload, as
//! the model generates it (`warden_model::schema`), for editors (`# yaml-language-server:
//! $schema=<server>/schemas/Redshift.json`) and for `warden schema`. Public: a schema holds
//! nothing secret, and editors fetch it without a key.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use warden_model::{ErrorCode, IntegrationType};

use crate::error::{ApiError, ErrorBody};

/// The path of a schema.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SchemaFile {
    /// `<Type>.json`, the type's name without spaces: Redshift.json, Snowflake.json,
    /// Databricks.json, NativeS3.json, GoogleBigQuery.json, AzureSynapseAnalytics.json or
    /// Trino.json; `<Type>.document.json` for a `warden apply` document (the payload and
    /// its `name`).
    #[param(pattern = "^[A-Za-z0-9]+(\\.document)?\\.json$")]
    file: String,
}

/// The JSON Schema of one integration type's payload (`Redshift.json`, `NativeS3.json`, ...:
/// the type's name without spaces).
#[utoipa::path(get, path = "/schemas/{file}", tag = "schemas",
    params(SchemaFile),
    responses((status = 200, content_type = "application/schema+json", body = Object,
        description = "A JSON Schema (2020-12): secret fields are writeOnly, defaults and the conditions between fields are stated."),
        (status = 404, body = ErrorBody)))]
pub async fn payload_schema(Path(SchemaFile { file }): Path<SchemaFile>) -> Result<Response, ApiError> {
    let stem = file.strip_suffix(".json").ok_or(ErrorCode::SchemaNotFound)?;
    let (slug, document) = stem.strip_suffix(".document").map_or((stem, false), |slug| (slug, true));
    let integration_type =
        IntegrationType::ALL.into_iter().find(|t| t.slug() == slug).ok_or(ErrorCode::SchemaNotFound)?;
    let schema = if document {
        warden_model::schema::document_schema(integration_type)
    } else {
        warden_model::schema::payload_schema(integration_type)
    };
    Ok(([(header::CONTENT_TYPE, "application/schema+json")], schema.to_string()).into_response())
}
