//! `ModelError`: the one error type of the model crate.

use crate::payload::reader::Problem;

/// What can go wrong turning a request body into a checked payload.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The body is over the size limit.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not JSON or YAML, nests too deep, or trips a YAML alias budget.
    #[error("{0}")]
    MalformedBody(String),
    /// The body decoded but its payload has problems; all of them are listed.
    #[error("the payload has {} problem(s)", .0.len())]
    InvalidPayload(Vec<Problem>),
}
