//! The validation tests of every platform as data (API.md section 4, in its order): each
//! test's exact name, the reference message shown when it fails, when it applies, and
//! whether it is the connection test that the others depend on.

use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig};
use warden_platform::{CheckOutcome, Phase};

/// When a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// Always.
    Always,
    /// Only with `autoBootstrap: true` ("Validate automatic" tests).
    AutoBootstrapOnly,
    /// Only with `autoBootstrap: false` (manual setup checks).
    ManualOnly,
    /// Only with `autoBootstrap: true` and impersonation enabled.
    AutoBootstrapWithImpersonation,
}

/// What a test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// It is the connection test: when it fails, every `Connection` test is skipped.
    IsConnectionTest,
    /// It talks to the platform.
    Connection,
    /// It checks the config or Warden's own records only.
    Nothing,
}

/// One validation test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestDef {
    /// The exact name.
    pub name: &'static str,
    /// The reference text shown when it fails; the platform's own error follows it.
    pub message: &'static str,
    /// When it runs.
    pub applies: Applies,
    /// What it needs.
    pub needs: Needs,
}

const fn t(name: &'static str, message: &'static str, applies: Applies, needs: Needs) -> TestDef {
    TestDef { name, message, applies, needs }
}

use Applies::{Always, AutoBootstrapOnly, AutoBootstrapWithImpersonation, ManualOnly};
use Needs::{Connection, IsConnectionTest, Nothing};

const IMPERSONATION_EXISTS: &str = "Impersonation role already exists. If this role can be safely dropped please do so and try again. Alternatively, specify a different role name.";
const DATABASE_EXISTS: &str = "The database already exists. If this database can be safely dropped, please do so and try again. Alternatively, specify a different database name.";
const PERMISSION: &str =
    "The service account's custom role lacks a permission this operation needs; add it to the role.";

const S3: &[TestDef] = &[
    t(
        "There is no existing integration matching this configuration",
        "An integration matching this configuration already exists.",
        Always,
        Nothing,
    ),
    t(
        "The provided integration name is unique across Warden S3 integrations",
        // API.md section 4 (the seed's row carries BigQuery's postfix text by mistake).
        "The integration name [{name}] is already used by S3 integration with ID {id}.",
        Always,
        Nothing,
    ),
    t(
        "The provided access grants location role is a valid ARN format",
        "The specified access grants location role is not a valid ARN format.",
        Always,
        Nothing,
    ),
    t(
        "The provided AWS credentials allow fetching the caller's identity via the AWS STS API",
        "Unable to fetch the caller's identity with the provided AWS credentials.",
        Always,
        IsConnectionTest,
    ),
    t(
        "An AWS Access Grants instance is configured in the provided AWS account and region",
        "Unable to retrieve the access grants instance for the account and region.",
        Always,
        Connection,
    ),
    t(
        "The provided S3 path exists and Warden can list prefixes",
        "Warden does not have access to the requested path. Without access, Warden will be unable to assist with S3 path discovery during data source creation.",
        Always,
        Connection,
    ),
    t(
        "An AWS Access Grants location does not yet exist for the provided path",
        "Unable to confirm that no access grants location is registered for the path.",
        Always,
        Connection,
    ),
];

const SYNAPSE: &[TestDef] = &[
    t("Initial validation: connect", "Unable to connect to host.", Always, IsConnectionTest),
    t(
        "Initial validation: delimiters test",
        "Hash delimiter and array delimiter must not have the same value.",
        Always,
        Nothing,
    ),
    t(
        "Validate automatic: impersonation role does not exist",
        IMPERSONATION_EXISTS,
        AutoBootstrapWithImpersonation,
        Connection,
    ),
    t(
        "Validate Warden system user can manage database",
        "User does not have permission to manage database.",
        Always,
        Connection,
    ),
];

const DATABRICKS: &[TestDef] = &[
    t(
        "Basic connection test",
        "Could not connect to host, please confirm you are using valid connection parameters.",
        Always,
        IsConnectionTest,
    ),
    t("Manual catalog setup", "Encountered an error looking up catalog metadata for catalog.", ManualOnly, Connection),
    t("Metastore validation", "No metastore is assigned to workspace.", Always, Connection),
];

const BIGQUERY: &[TestDef] = &[
    t(
        "Basic validation: connection can be made to BigQuery",
        "Could not connect to the remote BigQuery connection.",
        Always,
        IsConnectionTest,
    ),
    t(
        "Basic validation: Warden service account postfix",
        "The Warden service account does not end with expected value.",
        Always,
        Nothing,
    ),
    t(
        "Basic validation: non-matching service account in key file",
        "The service account does not match the service account in the provided key file.",
        Always,
        Nothing,
    ),
    t(
        "Basic validation: verify service account not being used for data source connection credentials",
        "Native BigQuery doesn't support the reuse of service accounts for integrations that are currently being used for data sources.",
        Always,
        Nothing,
    ),
    t(
        "Initialize validation: [dataset - exists]",
        "An existing Warden instance exists. Delete this dataset to continue.",
        Always,
        Connection,
    ),
    t("Validate manual: [dataset - create]", PERMISSION, ManualOnly, Connection),
    t("Validate manual: [dataset - delete]", PERMISSION, ManualOnly, Connection),
    t("Validate manual: [table - create]", PERMISSION, ManualOnly, Connection),
    t("Validate manual: [table - delete]", PERMISSION, ManualOnly, Connection),
    t("Validate manual: [table - get]", PERMISSION, ManualOnly, Connection),
    t("Validate manual: [table - insert]", PERMISSION, ManualOnly, Connection),
    t("Validate manual: [table - update]", PERMISSION, ManualOnly, Connection),
];

const REDSHIFT: &[TestDef] = &[
    t("Initial validation: basic connection test", "Unable to connect to host.", Always, IsConnectionTest),
    t("Validate automatic: database does not exist", DATABASE_EXISTS, AutoBootstrapOnly, Connection),
    t(
        "Validate automatic: impersonation role does not exist",
        IMPERSONATION_EXISTS,
        AutoBootstrapWithImpersonation,
        Connection,
    ),
];

const SNOWFLAKE: &[TestDef] = &[
    t("Initial validation: basic connection test", "Unable to connect to host.", Always, IsConnectionTest),
    t(
        "Initial validation: default warehouse access test",
        "Unable to access default warehouse. If this was a manual installation, ensure that the user has been granted usage on the specified warehouse.",
        Always,
        Connection,
    ),
    t(
        "Initial validation: table grants role prefix is unique",
        "The Snowflake table grants role prefix is used by another Warden instance connected to the same Snowflake host. Please update the table grants role prefix for this Warden instance and try again.",
        Always,
        Connection,
    ),
    // The privileged role is only configured for automatic setup (config.role).
    t(
        "Initial validation: validate access to privileged role",
        "User does not have access to the privileged role.",
        AutoBootstrapOnly,
        Connection,
    ),
    t(
        "Validate automatic bootstrap user grants",
        "The user running the automatic setup lacks a grant it needs.",
        AutoBootstrapOnly,
        Connection,
    ),
    t("Validate automatic: database does not exist", DATABASE_EXISTS, AutoBootstrapOnly, Connection),
    t(
        "Validate automatic: impersonation role does not exist",
        IMPERSONATION_EXISTS,
        AutoBootstrapWithImpersonation,
        Connection,
    ),
];

/// The tests of a platform, in the order API.md lists them. Trino has none.
pub const fn catalogue(integration_type: IntegrationType) -> &'static [TestDef] {
    match integration_type {
        IntegrationType::NativeS3 => S3,
        IntegrationType::AzureSynapseAnalytics => SYNAPSE,
        IntegrationType::Databricks => DATABRICKS,
        IntegrationType::GoogleBigQuery => BIGQUERY,
        IntegrationType::Redshift => REDSHIFT,
        IntegrationType::Snowflake => SNOWFLAKE,
        IntegrationType::Trino => &[],
    }
}

fn impersonation_enabled(spec: &IntegrationSpec) -> bool {
    match &spec.config {
        PlatformConfig::AzureSynapse(c) => c.impersonation.enabled,
        PlatformConfig::Redshift(c) => c.impersonation.enabled,
        PlatformConfig::Snowflake(c) => c.impersonation.enabled,
        _ => false,
    }
}

impl TestDef {
    /// The failure message for `spec`: the reference text with its values filled in
    /// (`{name}`, the S3 integration's name; `{id}`, what the check reported, the id of the
    /// integration in the way), followed by the platform's own detail where the text has no
    /// place for it.
    pub fn failure_message(&self, spec: &IntegrationSpec, detail: &str) -> String {
        let detail = detail.trim();
        let mut message = self.message.to_owned();
        if let PlatformConfig::NativeS3(c) = &spec.config {
            message = message.replace("{name}", &c.name);
        }
        if message.contains("{id}") {
            return message.replace("{id}", detail);
        }
        if detail.is_empty() { message } else { format!("{message} {detail}") }
    }

    /// The outcome of a test Warden answers from the config alone, without asking the
    /// platform (the Synapse delimiters test); `None` for every test the adapter runs.
    pub fn answered_from_config(&self, spec: &IntegrationSpec) -> Option<CheckOutcome> {
        match (&spec.config, self.name) {
            (PlatformConfig::AzureSynapse(c), "Initial validation: delimiters test") => {
                Some(if c.metadata_delimiters.collide() {
                    CheckOutcome::Failed(String::new())
                } else {
                    CheckOutcome::Passed
                })
            }
            _ => None,
        }
    }

    /// Why the test does not apply to `spec` in `phase`, or `None` when it runs.
    pub fn not_applicable_because(&self, spec: &IntegrationSpec, phase: Phase) -> Option<&'static str> {
        match self.applies {
            Always => None,
            AutoBootstrapOnly | AutoBootstrapWithImpersonation if phase != Phase::Request => {
                Some("Not run: it checks the platform before an automatic setup, and this integration is set up.")
            }
            AutoBootstrapOnly if !spec.auto_bootstrap => Some("Not run: it applies only when autoBootstrap is true."),
            ManualOnly if spec.auto_bootstrap => Some("Not run: it applies only when autoBootstrap is false."),
            AutoBootstrapWithImpersonation if !spec.auto_bootstrap => {
                Some("Not run: it applies only when autoBootstrap is true.")
            }
            AutoBootstrapWithImpersonation if !impersonation_enabled(spec) => {
                Some("Not run: it applies only when impersonation is enabled.")
            }
            _ => None,
        }
    }
}
