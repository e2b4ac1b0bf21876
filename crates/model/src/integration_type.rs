//! The seven integration types and their exact wire names.

use std::fmt;

use serde::Serialize;

/// A data platform Warden integrates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum IntegrationType {
    /// Amazon S3 Access Grants.
    #[serde(rename = "Native S3")]
    NativeS3,
    /// Azure Synapse Analytics.
    #[serde(rename = "Azure Synapse Analytics")]
    AzureSynapseAnalytics,
    /// Databricks Unity Catalog.
    #[serde(rename = "Databricks")]
    Databricks,
    /// Google BigQuery.
    #[serde(rename = "Google BigQuery")]
    GoogleBigQuery,
    /// Amazon Redshift.
    #[serde(rename = "Redshift")]
    Redshift,
    /// Snowflake.
    #[serde(rename = "Snowflake")]
    Snowflake,
    /// Starburst / Trino.
    #[serde(rename = "Trino")]
    Trino,
}

impl IntegrationType {
    /// Every type, in the order the API reference lists them.
    pub const ALL: [Self; 7] = [
        Self::AzureSynapseAnalytics,
        Self::Databricks,
        Self::GoogleBigQuery,
        Self::NativeS3,
        Self::Redshift,
        Self::Snowflake,
        Self::Trino,
    ];

    /// The wire name, as in `"type": "Native S3"`.
    pub const fn wire_name(self) -> &'static str {
        match self {
            Self::NativeS3 => "Native S3",
            Self::AzureSynapseAnalytics => "Azure Synapse Analytics",
            Self::Databricks => "Databricks",
            Self::GoogleBigQuery => "Google BigQuery",
            Self::Redshift => "Redshift",
            Self::Snowflake => "Snowflake",
            Self::Trino => "Trino",
        }
    }

    /// The wire name without spaces (`NativeS3`): what names the type in a URL or a file,
    /// such as its JSON Schema, `/schemas/NativeS3.json`.
    pub const fn slug(self) -> &'static str {
        match self {
            Self::NativeS3 => "NativeS3",
            Self::AzureSynapseAnalytics => "AzureSynapseAnalytics",
            Self::Databricks => "Databricks",
            Self::GoogleBigQuery => "GoogleBigQuery",
            Self::Redshift => "Redshift",
            Self::Snowflake => "Snowflake",
            Self::Trino => "Trino",
        }
    }

    /// Reads a wire name; the error lists the accepted ones.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|t| t.wire_name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|t| t.wire_name()).collect();
            format!("must be one of: {}", names.join(", "))
        })
    }

    /// Whether automatic setup is possible at all for this type.
    pub const fn supports_auto_bootstrap(self) -> bool {
        !matches!(self, Self::NativeS3 | Self::GoogleBigQuery | Self::Trino)
    }
}

impl fmt::Display for IntegrationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}
