//! Warden's domain model: the seven integration types, every per-platform config as typed
//! values, the payload checker that reports all problems at once, JSON/YAML decoding under
//! limits, `Secret<T>`, statuses, validation results and the error-code table. No IO.
//!
//! The entry point for a request body is [`decode`] followed by
//! [`IntegrationSpec::from_value`]; [`check_payload`] does both.

pub mod changes;
pub mod config;
mod error;
mod error_code;
pub mod hex;
mod integration_type;
pub mod names;
pub mod payload;
pub mod schema;
mod secret;
pub mod secret_ref;
mod spec;
mod status;
pub mod time;
mod validation;

pub use config::{Impersonation, PlatformConfig, Toggle};
pub use error::ModelError;
pub use error_code::ErrorCode;
pub use integration_type::IntegrationType;
pub use payload::reader::MAX_SECRET_BYTES;
pub use payload::reader::Problem;
pub use payload::{BodyFormat, MAX_BODY_BYTES, MAX_DEPTH, decode};
pub use secret::{REDACTED, Secret};
pub use secret_ref::{SecretRef, SecretRefAllowList, SecretSource};
pub use spec::{
    CONFIG_UPGRADES, CONFIG_VERSION, IntegrationSpec, LABEL_KEY_PATTERN, Labels, MAX_LABEL_VALUE_CHARS, MAX_LABELS,
    SecretMap, check_label_key,
};
pub use status::{IntegrationId, Status};
pub use validation::{Fault, TestResult, TestStatus, ValidationResults};

/// Decodes a body and checks it as an integration payload, with `stored` secrets as the
/// fallback for absent or `[REDACTED]` ones (on update).
pub fn check_payload(
    body: &[u8],
    format: BodyFormat,
    stored: Option<&SecretMap>,
) -> Result<IntegrationSpec, ModelError> {
    let value = decode(body, format)?;
    IntegrationSpec::from_value(&value, stored).map_err(ModelError::InvalidPayload)
}
