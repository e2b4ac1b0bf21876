//! The Google BigQuery config.

use schemars::JsonSchema;
use serde::Serialize;

use super::text_or;
use crate::names::{DatasetName, Port, ServiceAccountKeyInfo, parse_service_account_key};
use crate::payload::reader::{Cx, Need, Obj};
use crate::secret::Secret;

/// The config of a Google BigQuery integration (manual setup only).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct BigQueryConfig {
    /// The custom role bound to Warden's service account.
    pub role: String,
    /// Suffix of the datasets holding secure views; starts with `_`.
    #[schemars(schema_with = "crate::schema::dataset_suffix")]
    pub dataset_suffix: DatasetName,
    /// Warden's metadata dataset, default `warden`.
    #[schemars(default = "default_dataset")]
    pub dataset: DatasetName,
    /// Dataset location (`US`, `europe-west1`, ...).
    #[schemars(regex(pattern = r"^[A-Za-z0-9-]{1,64}$"))]
    pub location: String,
    /// The service-account JSON key file.
    pub credential: Secret<String>,
    /// HTTPS port.
    #[schemars(default = "default_port")]
    pub port: Port,
    /// The key file's project and service account, read from `credential` (empty while a
    /// credential kept outside Warden is not read).
    #[serde(skip)]
    #[schemars(skip)]
    pub key_info: ServiceAccountKeyInfo,
}

fn default_port() -> Port {
    Port::new(443).unwrap_or_else(|| unreachable!("443 is not zero"))
}

fn default_dataset() -> DatasetName {
    DatasetName::parse("warden").unwrap_or_else(|_| unreachable!("warden is a dataset name"))
}

fn location(s: &str) -> Result<String, String> {
    if s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(s.to_owned())
    } else {
        Err("must be a BigQuery location such as US or europe-west1".into())
    }
}

pub(crate) fn read(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<BigQueryConfig> {
    let role = o.text(cx, "role", Need::Required);
    let dataset_suffix = o.parsed(cx, "datasetSuffix", Need::Required, DatasetName::parse_suffix);
    let dataset = if o.has("dataset") {
        o.parsed(cx, "dataset", Need::Optional, DatasetName::parse)
    } else {
        text_or(cx, o, "dataset", "warden").and_then(|d| DatasetName::parse(&d).ok())
    };
    let location = o.parsed(cx, "location", Need::Required, location);
    let mut key_info = None;
    let credential = o.secret_checked(cx, "credential", Need::Required, |content| {
        key_info = Some(parse_service_account_key(content)?);
        Ok(content.to_owned())
    });
    if credential.as_ref().is_some_and(Secret::is_unresolved) {
        // A key file kept outside Warden: its project and account are known once it is read
        // (Warden reads every reference of a config before it is used).
        key_info = Some(ServiceAccountKeyInfo { project_id: String::new(), client_email: String::new() });
    }
    let port = o.port(cx, 443);
    Some(BigQueryConfig {
        role: role?,
        dataset_suffix: dataset_suffix?,
        dataset: dataset?,
        location: location?,
        credential: credential?,
        port: port?,
        key_info: key_info?,
    })
}
