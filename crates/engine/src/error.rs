//! `EngineError`: the one error type of the engine. A `Rejected` carries everything the API
//! puts in a 4xx body; a `Store` error is the server's fault and stays out of responses.

use warden_model::{ErrorCode, Problem, ValidationResults};
use warden_store::StoreError;

/// Why the engine did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request was refused; the API answers with the rejection's code and details.
    #[error("{}", .0.code.message())]
    Rejected(Box<Rejection>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something inside Warden failed (no randomness for a password, say); the detail is
    /// for the log.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A refused request: the error code and the details its body carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// What went wrong, with its status and message.
    pub code: ErrorCode,
    /// Payload problems, by path.
    pub errors: Vec<Problem>,
    /// The non-editable attributes a PUT tried to change.
    pub attributes: Vec<String>,
    /// The validation results behind a 422.
    pub validation_results: Option<ValidationResults>,
}

impl EngineError {
    /// A rejection with no details.
    pub(crate) fn code(code: ErrorCode) -> Self {
        Self::Rejected(Box::new(Rejection {
            code,
            errors: Vec::new(),
            attributes: Vec::new(),
            validation_results: None,
        }))
    }

    /// A 400 listing payload problems.
    pub(crate) fn invalid(errors: Vec<Problem>) -> Self {
        Self::Rejected(Box::new(Rejection {
            code: ErrorCode::InvalidPayload { count: errors.len() },
            errors,
            attributes: Vec::new(),
            validation_results: None,
        }))
    }

    /// A 422 carrying the validation results.
    pub(crate) fn validation(code: ErrorCode, results: ValidationResults) -> Self {
        Self::Rejected(Box::new(Rejection {
            code,
            errors: Vec::new(),
            attributes: Vec::new(),
            validation_results: Some(results),
        }))
    }

    /// The 400 for non-editable attributes.
    pub(crate) fn non_editable(attributes: Vec<String>) -> Self {
        Self::Rejected(Box::new(Rejection {
            code: ErrorCode::NonEditableAttributes,
            errors: Vec::new(),
            attributes,
            validation_results: None,
        }))
    }
}

impl From<warden_validation::Aborted> for EngineError {
    /// A check that aborted the run: the request answers with the check's error code.
    fn from(aborted: warden_validation::Aborted) -> Self {
        Self::code(aborted.code)
    }
}
