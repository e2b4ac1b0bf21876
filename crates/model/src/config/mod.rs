//! The per-platform configs of the API reference §3, and the pieces several platforms share
//! (impersonation, on/off toggles). Each platform's module reads its config from a payload
//! with the [`crate::payload`] reader and serialises it back in the wire shape.

mod bigquery;
mod databricks;
mod redshift;
mod s3;
mod snowflake;
mod synapse;

pub use bigquery::BigQueryConfig;
pub use databricks::{
    AdditionalWorkspaceConnection, DatabricksAuthentication, DatabricksConfig, DatabricksOAuth, GroupPattern,
    ProxyOptions,
};
pub use redshift::{OktaConfig, RedshiftAuthentication, RedshiftConfig, SYSTEM_ACCOUNT_SUFFIX};
pub use s3::{S3Authentication, S3Config};
pub use snowflake::{
    Lineage, LineageConfig, SnowflakeAuthentication, SnowflakeConfig, SnowflakeOAuth, SnowflakeOAuthCredential,
    UserRolePattern, Workspaces,
};
pub use synapse::{MetadataDelimiters, SynapseAuthentication, SynapseConfig};

use serde::Serialize;

use crate::payload::reader::{Cx, Need, Obj};

pub(crate) use bigquery::read as read_bigquery;
pub(crate) use databricks::read as read_databricks;
pub(crate) use redshift::read as read_redshift;
pub(crate) use s3::read as read_s3;
pub(crate) use snowflake::read as read_snowflake;
pub(crate) use synapse::read as read_synapse;

/// A platform's config, one variant per integration type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PlatformConfig {
    /// Amazon S3 Access Grants.
    NativeS3(S3Config),
    /// Azure Synapse Analytics (dedicated SQL pool).
    AzureSynapse(SynapseConfig),
    /// Databricks Unity Catalog.
    Databricks(DatabricksConfig),
    /// Google BigQuery.
    BigQuery(BigQueryConfig),
    /// Amazon Redshift.
    Redshift(RedshiftConfig),
    /// Snowflake.
    Snowflake(SnowflakeConfig),
    /// Starburst / Trino: no config.
    Trino,
}

/// User impersonation: whether it is on, and the role or group that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, transform = crate::schema::role_optional)]
pub struct Impersonation {
    /// Whether impersonation is set up.
    #[schemars(default)]
    pub enabled: bool,
    /// The impersonation role (Snowflake, Synapse) or group (Redshift).
    pub role: String,
}

impl Impersonation {
    pub(crate) fn read(cx: &mut Cx<'_>, parent: &mut Obj<'_>, default_role: &str) -> Option<Self> {
        if !parent.has("impersonation") {
            return Some(Self { enabled: false, role: default_role.to_owned() });
        }
        let mut o = parent.object(cx, "impersonation", Need::Optional)?;
        let enabled = o.flag(cx, "enabled", false);
        let role = if o.has("role") { o.text(cx, "role", Need::Optional) } else { Some(default_role.to_owned()) };
        o.finish(cx);
        Some(Self { enabled: enabled?, role: role? })
    }
}

/// An on/off switch object such as `audit: {enabled: true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Toggle {
    /// Whether the feature is on.
    #[schemars(default)]
    pub enabled: bool,
}

impl Toggle {
    pub(crate) fn read(cx: &mut Cx<'_>, parent: &mut Obj<'_>, key: &'static str) -> Option<Self> {
        if !parent.has(key) {
            return Some(Self::default());
        }
        let mut o = parent.object(cx, key, Need::Optional)?;
        let enabled = o.flag(cx, "enabled", false);
        o.finish(cx);
        Some(Self { enabled: enabled? })
    }
}

/// Reads an optional plain-text field that, when absent, takes `default`.
pub(crate) fn text_or(cx: &mut Cx<'_>, o: &mut Obj<'_>, key: &'static str, default: &str) -> Option<String> {
    if o.has(key) { o.text(cx, key, Need::Optional) } else { Some(default.to_owned()) }
}

/// The config fields that say how Warden signs in to a platform of this type:
/// `authenticationType` and every credential field of every authentication type. On an
/// automatic setup these carry the privileged account in a request and the system account
/// once stored, so a comparison of a request with what is stored leaves them out.
pub fn authentication_fields(integration_type: crate::IntegrationType) -> &'static [&'static str] {
    use crate::IntegrationType as T;
    const SYNAPSE: &[&str] = &["authenticationType", "username", "password"];
    const DATABRICKS: &[&str] = &["authenticationType", "token", "oAuthClientConfig"];
    const REDSHIFT: &[&str] = &[
        "authenticationType",
        "username",
        "password",
        "databaseUser",
        "accessKeyId",
        "secretKey",
        "sessionToken",
        "okta",
    ];
    const SNOWFLAKE: &[&str] =
        &["authenticationType", "username", "password", "privateKey", "privateKeyPassword", "oAuthClientConfig"];
    const S3: &[&str] = &["authenticationType", "awsRoleToAssume", "awsAccessKeyId", "awsSecretAccessKey"];
    match integration_type {
        T::Redshift => REDSHIFT,
        T::Snowflake => SNOWFLAKE,
        T::AzureSynapseAnalytics => SYNAPSE,
        T::Databricks => DATABRICKS,
        T::NativeS3 => S3,
        T::GoogleBigQuery | T::Trino => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::authentication_fields;
    use crate::IntegrationType;

    /// The lists above hold each reader's own credential fields (the readers' constants).
    #[test]
    fn authentication_fields_include_each_readers_credential_fields() {
        for (ty, fields) in [
            (IntegrationType::Redshift, super::redshift::AUTH_FIELDS),
            (IntegrationType::Snowflake, super::snowflake::AUTH_FIELDS),
            (IntegrationType::NativeS3, super::s3::AUTH_FIELDS),
        ] {
            for field in fields {
                assert!(authentication_fields(ty).contains(field), "{ty}: {field}");
            }
        }
    }
}
