//! The JSON shapes the API answers with (besides errors): an integration, its status, the
//! answers of create/update/delete, the callback key (Trino's), and the time format (RFC
//! 3339, UTC).

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::ToSchema;
use warden_engine::{Accepted, Engine};
pub use warden_model::time::rfc3339;
use warden_model::{IntegrationType, REDACTED, ValidationResults};
use warden_store::{IntegrationSummary, StoredIntegration};

/// An integration as every response shows it (the API reference §1): GET one, each item of the
/// list, and the answers of POST, PUT and DELETE. Every secret is `[REDACTED]`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView {
    /// Its id.
    #[schema(minimum = 1)]
    pub id: u64,
    /// The integration type.
    #[serde(rename = "type")]
    pub integration_type: String,
    /// Whether Warden set the platform up itself.
    pub auto_bootstrap: bool,
    /// Its status (the API reference §6).
    pub status: String,
    /// The latest validation run; absent before any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub validation_results: Option<Box<RawValue>>,
    /// The platform config, secrets redacted (absent when the platform has none: Trino).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Box<RawValue>>,
    /// The user's labels (an extension; absent when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub labels: Option<Box<RawValue>>,
    /// The key a platform calls Warden back with (Trino's): `[REDACTED]` (it is shown
    /// once, when the integration is created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// What an error status means and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl IntegrationView {
    /// An integration as shown (read without decrypting its secrets).
    pub fn of_summary(i: &IntegrationSummary, engine: &Engine) -> Self {
        Self {
            id: i.id.get(),
            integration_type: i.integration_type.wire_name().to_owned(),
            auto_bootstrap: i.auto_bootstrap,
            status: i.status.as_str().to_owned(),
            validation_results: i.validation_results.clone(),
            config: i.config.clone(),
            labels: i.labels.clone(),
            api_key: calls_back(i.integration_type, engine).then(|| REDACTED.to_owned()),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
            message: i.status_message.clone(),
        }
    }

    /// An integration as stored.
    pub fn of_stored(i: &StoredIntegration, engine: &Engine) -> Self {
        let redacted = i.spec.redacted();
        let integration_type = i.spec.integration_type();
        Self {
            id: i.id.get(),
            integration_type: integration_type.wire_name().to_owned(),
            auto_bootstrap: redacted["autoBootstrap"].as_bool().unwrap_or(false),
            status: i.status.as_str().to_owned(),
            validation_results: i.validation_results.as_ref().and_then(raw),
            config: redacted.get("config").and_then(raw),
            labels: redacted.get("labels").and_then(raw),
            api_key: calls_back(integration_type, engine).then(|| REDACTED.to_owned()),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
            message: i.status_message.clone(),
        }
    }

    /// This view as the JSON a response carries.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising a struct of strings, numbers and already-valid JSON cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Whether the platform of `integration_type` calls Warden back with a key (Trino).
fn calls_back(integration_type: IntegrationType, engine: &Engine) -> bool {
    engine.descriptor(integration_type).is_some_and(|descriptor| descriptor.callback_key.is_some())
}

/// A JSON value as raw JSON text.
fn raw(value: &Value) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(value).ok()
}

/// `GET /integrations/{id}/status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// The integration.
    pub id: u64,
    /// Its status.
    pub status: String,
    /// What an error status means and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed.
    pub updated_at: String,
}

impl From<&IntegrationSummary> for StatusView {
    fn from(integration: &IntegrationSummary) -> Self {
        Self {
            id: integration.id.get(),
            status: integration.status.as_str().to_owned(),
            message: integration.status_message.clone(),
            updated_at: rfc3339(integration.updated_at),
        }
    }
}

/// The answer of an accepted create, update or delete: the integration as it is now (its
/// `validationResults` are those the change was accepted on), and for a new integration
/// whose platform calls Warden back (Trino) its key and config lines, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedView {
    /// The integration.
    #[serde(flatten)]
    pub integration: IntegrationView,
    /// The platform's config lines with the callback key (Trino's access-control config);
    /// shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_snippet: Option<String>,
}

impl AcceptedView {
    /// The answer to an accepted change.
    pub fn new(accepted: Accepted, engine: &Engine) -> Self {
        let Accepted { integration, validation_results, callback_key, message } = accepted;
        let mut view = IntegrationView::of_stored(&integration, engine);
        if let Some(results) = validation_results.and_then(|r| serde_json::value::to_raw_value(&r).ok()) {
            view.validation_results = Some(results);
        }
        if message.is_some() {
            view.message = message;
        }
        let config_snippet = callback_key.map(|key| {
            view.api_key = Some(key.api_key.expose().clone());
            key.config_lines.expose().clone()
        });
        Self { integration: view, config_snippet }
    }
}

/// The answer of a `dryRun=true` request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)] // additionalProperties: false
pub struct DryRunView {
    /// What validation found; nothing was stored or changed.
    #[schema(value_type = Object)]
    pub validation_results: ValidationResults,
}

/// `POST /integrations/{id}/regenerate`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegeneratedKey {
    /// The Trino integration.
    pub id: u64,
    /// Its new API key; the old one no longer works.
    pub api_key: String,
}

/// `/healthz` and `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or what is not ready.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn times_read_as_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_795_727_784_000), "2026-11-26T21:16:24.000Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }
}

/// What POST, PUT and DELETE of an integration answer: the accepted change, or with
/// `dryRun=true` only the validation results.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ChangeAnswer {
    /// The change was accepted.
    Accepted(Box<AcceptedView>),
    /// `dryRun=true`: nothing changed.
    DryRun(DryRunView),
}

/// An integration type's wire name (the API reference §2.1).
#[derive(Debug, Serialize, ToSchema)]
#[expect(dead_code, reason = "a schema for the OpenAPI document; bodies are read by the model's payload checker")]
pub enum IntegrationTypeName {
    /// Azure Synapse Analytics.
    #[serde(rename = "Azure Synapse Analytics")]
    AzureSynapseAnalytics,
    /// Databricks Unity Catalog.
    Databricks,
    /// Google BigQuery.
    #[serde(rename = "Google BigQuery")]
    GoogleBigQuery,
    /// Amazon S3 Access Grants.
    #[serde(rename = "Native S3")]
    NativeS3,
    /// Amazon Redshift.
    Redshift,
    /// Snowflake.
    Snowflake,
    /// Starburst / Trino.
    Trino,
}

/// An integration payload (the API reference §2.1), JSON or YAML. The server checks the `config` of each
/// type field by field and lists every problem with its path (the API reference §3 has the
/// fields of each platform).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationPayload {
    /// The integration type.
    #[serde(rename = "type")]
    pub integration_type: IntegrationTypeName,
    /// Whether Warden sets the platform up itself (required for all but Trino).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_bootstrap: Option<bool>,
    /// The platform config (required for all but Trino): its fields, their defaults and
    /// conditions are the JSON Schema of its type, `GET /schemas/{Type}.json` (Redshift.json,
    /// NativeS3.json, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Labels (an extension): up to 32 keys of lower-case letters, digits, `.`, `_`, `/` and
    /// `-` (at most 63 characters) to texts of at most 256 characters. `warden apply` keeps a
    /// document's name in `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

/// A DELETE body: the privileged credentials of an integration set up automatically.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteBody {
    /// `authenticationType` and that type's credential fields (Snowflake: and `role`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}
