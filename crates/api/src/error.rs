//! `ApiError`: every error the API answers with, and its one mapping to an HTTP response
//! (`{"statusCode", "error", "message"}` plus `errors`, `attributes`, `validationResults`
//! and `requestId`). Engine, store and model errors are turned into it here and nowhere
//! else; a 5xx body never carries the underlying error, which goes to the log under the
//! request id.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use warden_engine::{EngineError, Rejection};
use warden_model::{ErrorCode, ModelError, Problem, ValidationResults};
use warden_store::StoreError;

tokio::task_local! {
    /// The id of the request being served, for error bodies and logs.
    pub(crate) static REQUEST_ID: String;
}

/// The request id of the current request, if any.
pub(crate) fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError(Box<Rejection>);

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self(Box::new(Rejection { code, errors: Vec::new(), attributes: Vec::new(), validation_results: None }))
    }
}

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        match error {
            ModelError::BodyTooLarge { .. } => ErrorCode::PayloadTooLarge.into(),
            ModelError::MalformedBody(detail) => ErrorCode::MalformedBody { detail }.into(),
            ModelError::InvalidPayload(errors) => Self(Box::new(Rejection {
                code: ErrorCode::InvalidPayload { count: errors.len() },
                errors,
                attributes: Vec::new(),
                validation_results: None,
            })),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store error");
        if error.is_unavailable() { ErrorCode::Unavailable.into() } else { ErrorCode::Internal.into() }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Rejected(rejection) => Self(rejection),
            EngineError::Store(error) => error.into(),
            EngineError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ErrorCode::Internal.into()
            }
        }
    }
}

/// The error body (the API reference §1).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status code.
    pub status_code: u16,
    /// The HTTP reason phrase.
    pub error: String,
    /// What went wrong and what to do.
    pub message: String,
    /// Payload problems, each with the field's path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Problem>,
    /// The non-editable attributes a PUT tried to change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
    /// The validation results behind a 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub validation_results: Option<ValidationResults>,
    /// The request's id, as in the server log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    /// The body of an error with no details, outside any request (a connection refused
    /// before a request was read).
    pub(crate) fn of(code: &ErrorCode) -> Self {
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            status_code: status.as_u16(),
            error: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: code.message(),
            errors: Vec::new(),
            attributes: Vec::new(),
            validation_results: None,
            request_id: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Rejection { code, errors, attributes, validation_results } = *self.0;
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = code.name(), "answered with a server error");
        } else {
            tracing::info!(error = code.name(), status = status.as_u16(), "refused");
        }
        let body = ErrorBody {
            status_code: status.as_u16(),
            error: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: code.message(),
            errors,
            attributes,
            validation_results,
            request_id: current_request_id(),
        };
        (status, Json(body)).into_response()
    }
}
