//! The validation tests of every platform as data (the API reference §4, in its order): each
//! test's exact name, the reference message shown when it fails, when it applies, and
//! whether it is the connection test that the others depend on. Each test has a typed
//! [`TestId`]; the adapter of its platform matches on it.

use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig};

use crate::{Failure, Phase};

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
    /// Only before the integration is set up (a request): once it is, what the test looks for
    /// is the integration's own (S3's Access Grants location).
    BeforeSetup,
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
    /// Which test it is, as the adapter matches it.
    pub id: TestId,
    /// The exact name.
    pub name: &'static str,
    /// The reference text shown when it fails; the platform's own error follows it.
    pub message: &'static str,
    /// When it runs.
    pub applies: Applies,
    /// What it needs.
    pub needs: Needs,
}

/// A test of the catalogue, by platform, so that an adapter matches its own tests
/// exhaustively instead of comparing names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestId {
    /// A S3 test.
    S3(S3Test),
    /// A Synapse test.
    Synapse(SynapseTest),
    /// A Databricks test.
    Databricks(DatabricksTest),
    /// A BigQuery test.
    BigQuery(BigQueryTest),
    /// A Redshift test.
    Redshift(RedshiftTest),
    /// A Snowflake test.
    Snowflake(SnowflakeTest),
}

/// The S3 tests, in catalogue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[expect(missing_docs, reason = "each variant is the catalogue row of the same position; its name says which")]
pub enum S3Test {
    NoExistingIntegration,
    NameUnique,
    LocationRoleArn,
    CallerIdentity,
    AccessGrantsInstance,
    PathListable,
    NoAccessGrantsLocation,
}

/// The Synapse tests, in catalogue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[expect(missing_docs, reason = "each variant is the catalogue row of the same position; its name says which")]
pub enum SynapseTest {
    Connection,
    Delimiters,
    ImpersonationRoleDoesNotExist,
    SystemUserCanManageDatabase,
}

/// The Databricks tests, in catalogue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[expect(missing_docs, reason = "each variant is the catalogue row of the same position; its name says which")]
pub enum DatabricksTest {
    Connection,
    ManualCatalogSetup,
    Metastore,
}

/// The BigQuery tests, in catalogue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[expect(missing_docs, reason = "each variant is the catalogue row of the same position; its name says which")]
pub enum BigQueryTest {
    Connection,
    ServiceAccountPostfix,
    KeyFileServiceAccount,
    NotUsedForDataSources,
    DatasetExists,
    DatasetCreate,
    DatasetDelete,
    TableCreate,
    TableDelete,
    TableGet,
    TableInsert,
    TableUpdate,
}

/// The Redshift tests, in catalogue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[expect(missing_docs, reason = "each variant is the catalogue row of the same position; its name says which")]
pub enum RedshiftTest {
    Connection,
    DatabaseDoesNotExist,
    ImpersonationRoleDoesNotExist,
}

/// The Snowflake tests, in catalogue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[expect(missing_docs, reason = "each variant is the catalogue row of the same position; its name says which")]
pub enum SnowflakeTest {
    Connection,
    DefaultWarehouse,
    TableGrantsRolePrefixUnique,
    PrivilegedRoleAccess,
    BootstrapUserGrants,
    DatabaseDoesNotExist,
    ImpersonationRoleDoesNotExist,
}

const fn t(id: TestId, name: &'static str, message: &'static str, applies: Applies, needs: Needs) -> TestDef {
    TestDef { id, name, message, applies, needs }
}

use Applies::{Always, AutoBootstrapOnly, AutoBootstrapWithImpersonation, BeforeSetup, ManualOnly};
use Needs::{Connection, IsConnectionTest, Nothing};

const IMPERSONATION_EXISTS: &str = "Impersonation role already exists. If this role can be safely dropped please do so and try again. Alternatively, specify a different role name.";
const DATABASE_EXISTS: &str = "The database already exists. If this database can be safely dropped, please do so and try again. Alternatively, specify a different database name.";
const PERMISSION: &str =
    "The service account's custom role lacks a permission this operation needs; add it to the role.";

const S3: &[TestDef] = &[
    t(
        TestId::S3(S3Test::NoExistingIntegration),
        "There is no existing integration matching this configuration",
        "An integration matching this configuration already exists.",
        Always,
        Nothing,
    ),
    t(
        TestId::S3(S3Test::NameUnique),
        "The provided integration name is unique across Warden S3 integrations",
        // the API reference §4 (the seed's row carries BigQuery's postfix text by mistake).
        "The integration name [{name}] is already used by S3 integration with ID {id}.",
        Always,
        Nothing,
    ),
    t(
        TestId::S3(S3Test::LocationRoleArn),
        "The provided access grants location role is a valid ARN format",
        "The specified access grants location role is not a valid ARN format.",
        Always,
        Nothing,
    ),
    t(
        TestId::S3(S3Test::CallerIdentity),
        "The provided AWS credentials allow fetching the caller's identity via the AWS STS API",
        "Unable to fetch the caller's identity with the provided AWS credentials.",
        Always,
        IsConnectionTest,
    ),
    t(
        TestId::S3(S3Test::AccessGrantsInstance),
        "An AWS Access Grants instance is configured in the provided AWS account and region",
        "Unable to retrieve the access grants instance for the account and region.",
        Always,
        Connection,
    ),
    t(
        TestId::S3(S3Test::PathListable),
        "The provided S3 path exists and Warden can list prefixes",
        "Warden does not have access to the requested path. Without access, Warden will be unable to assist with S3 path discovery during data source creation.",
        Always,
        Connection,
    ),
    t(
        TestId::S3(S3Test::NoAccessGrantsLocation),
        "An AWS Access Grants location does not yet exist for the provided path",
        "Unable to confirm that no access grants location is registered for the path.",
        BeforeSetup,
        Connection,
    ),
];

const SYNAPSE: &[TestDef] = &[
    t(
        TestId::Synapse(SynapseTest::Connection),
        "Initial validation: connect",
        "Unable to connect to host.",
        Always,
        IsConnectionTest,
    ),
    t(
        TestId::Synapse(SynapseTest::Delimiters),
        "Initial validation: delimiters test",
        "Hash delimiter and array delimiter must not have the same value.",
        Always,
        Nothing,
    ),
    t(
        TestId::Synapse(SynapseTest::ImpersonationRoleDoesNotExist),
        "Validate automatic: impersonation role does not exist",
        IMPERSONATION_EXISTS,
        AutoBootstrapWithImpersonation,
        Connection,
    ),
    t(
        TestId::Synapse(SynapseTest::SystemUserCanManageDatabase),
        "Validate Warden system user can manage database",
        "User does not have permission to manage database.",
        Always,
        Connection,
    ),
];

const DATABRICKS: &[TestDef] = &[
    t(
        TestId::Databricks(DatabricksTest::Connection),
        "Basic connection test",
        "Could not connect to host, please confirm you are using valid connection parameters.",
        Always,
        IsConnectionTest,
    ),
    t(
        TestId::Databricks(DatabricksTest::ManualCatalogSetup),
        "Manual catalog setup",
        "Encountered an error looking up catalog metadata for catalog.",
        ManualOnly,
        Connection,
    ),
    t(
        TestId::Databricks(DatabricksTest::Metastore),
        "Metastore validation",
        "No metastore is assigned to workspace.",
        Always,
        Connection,
    ),
];

const BIGQUERY: &[TestDef] = &[
    t(
        TestId::BigQuery(BigQueryTest::Connection),
        "Basic validation: connection can be made to BigQuery",
        "Could not connect to the remote BigQuery connection.",
        Always,
        IsConnectionTest,
    ),
    t(
        TestId::BigQuery(BigQueryTest::ServiceAccountPostfix),
        "Basic validation: Warden service account postfix",
        "The Warden service account does not end with expected value.",
        Always,
        Nothing,
    ),
    t(
        TestId::BigQuery(BigQueryTest::KeyFileServiceAccount),
        "Basic validation: non-matching service account in key file",
        "The service account does not match the service account in the provided key file.",
        Always,
        Connection,
    ),
    t(
        TestId::BigQuery(BigQueryTest::NotUsedForDataSources),
        "Basic validation: verify service account not being used for data source connection credentials",
        "Native BigQuery doesn't support the reuse of service accounts for integrations that are currently being used for data sources.",
        Always,
        Nothing,
    ),
    t(
        TestId::BigQuery(BigQueryTest::DatasetExists),
        "Initialize validation: [dataset - exists]",
        "An existing Warden instance exists. Delete this dataset to continue.",
        Always,
        Connection,
    ),
    t(
        TestId::BigQuery(BigQueryTest::DatasetCreate),
        "Validate manual: [dataset - create]",
        PERMISSION,
        ManualOnly,
        Connection,
    ),
    t(
        TestId::BigQuery(BigQueryTest::DatasetDelete),
        "Validate manual: [dataset - delete]",
        PERMISSION,
        ManualOnly,
        Connection,
    ),
    t(
        TestId::BigQuery(BigQueryTest::TableCreate),
        "Validate manual: [table - create]",
        PERMISSION,
        ManualOnly,
        Connection,
    ),
    t(
        TestId::BigQuery(BigQueryTest::TableDelete),
        "Validate manual: [table - delete]",
        PERMISSION,
        ManualOnly,
        Connection,
    ),
    t(TestId::BigQuery(BigQueryTest::TableGet), "Validate manual: [table - get]", PERMISSION, ManualOnly, Connection),
    t(
        TestId::BigQuery(BigQueryTest::TableInsert),
        "Validate manual: [table - insert]",
        PERMISSION,
        ManualOnly,
        Connection,
    ),
    t(
        TestId::BigQuery(BigQueryTest::TableUpdate),
        "Validate manual: [table - update]",
        PERMISSION,
        ManualOnly,
        Connection,
    ),
];

const REDSHIFT: &[TestDef] = &[
    t(
        TestId::Redshift(RedshiftTest::Connection),
        "Initial validation: basic connection test",
        "Unable to connect to host.",
        Always,
        IsConnectionTest,
    ),
    t(
        TestId::Redshift(RedshiftTest::DatabaseDoesNotExist),
        "Validate automatic: database does not exist",
        DATABASE_EXISTS,
        AutoBootstrapOnly,
        Connection,
    ),
    t(
        TestId::Redshift(RedshiftTest::ImpersonationRoleDoesNotExist),
        "Validate automatic: impersonation role does not exist",
        IMPERSONATION_EXISTS,
        AutoBootstrapWithImpersonation,
        Connection,
    ),
];

const SNOWFLAKE: &[TestDef] = &[
    t(
        TestId::Snowflake(SnowflakeTest::Connection),
        "Initial validation: basic connection test",
        "Unable to connect to host.",
        Always,
        IsConnectionTest,
    ),
    t(
        TestId::Snowflake(SnowflakeTest::DefaultWarehouse),
        "Initial validation: default warehouse access test",
        "Unable to access default warehouse. If this was a manual installation, ensure that the user has been granted usage on the specified warehouse.",
        Always,
        Connection,
    ),
    t(
        TestId::Snowflake(SnowflakeTest::TableGrantsRolePrefixUnique),
        "Initial validation: table grants role prefix is unique",
        "The Snowflake table grants role prefix is used by another Warden instance connected to the same Snowflake host. Please update the table grants role prefix for this Warden instance and try again.",
        Always,
        Connection,
    ),
    // The privileged role is only configured for automatic setup (config.role).
    t(
        TestId::Snowflake(SnowflakeTest::PrivilegedRoleAccess),
        "Initial validation: validate access to privileged role",
        "User does not have access to the privileged role.",
        AutoBootstrapOnly,
        Connection,
    ),
    t(
        TestId::Snowflake(SnowflakeTest::BootstrapUserGrants),
        "Validate automatic bootstrap user grants",
        "The user running the automatic setup lacks a grant it needs.",
        AutoBootstrapOnly,
        Connection,
    ),
    t(
        TestId::Snowflake(SnowflakeTest::DatabaseDoesNotExist),
        "Validate automatic: database does not exist",
        DATABASE_EXISTS,
        AutoBootstrapOnly,
        Connection,
    ),
    t(
        TestId::Snowflake(SnowflakeTest::ImpersonationRoleDoesNotExist),
        "Validate automatic: impersonation role does not exist",
        IMPERSONATION_EXISTS,
        AutoBootstrapWithImpersonation,
        Connection,
    ),
];

/// The tests of a platform, in the order the API reference lists them. Trino has none.
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
    /// The failure message: the reference text with the failure's values in its
    /// `{placeholders}` (`{name}`, `{id}`), followed by the platform's own detail. A
    /// placeholder the failure gave no value for stays as it is, so a missing value shows.
    pub fn failure_message(&self, failure: &Failure) -> String {
        let mut message = self.message.to_owned();
        for (name, value) in &failure.values {
            message = message.replace(&format!("{{{name}}}"), value);
        }
        let detail = failure.detail.trim();
        if detail.is_empty() { message } else { format!("{message} {detail}") }
    }

    /// Why the test does not apply to `spec` in `phase`, or `None` when it runs.
    pub fn not_applicable_because(&self, spec: &IntegrationSpec, phase: Phase) -> Option<&'static str> {
        match self.applies {
            Always => None,
            BeforeSetup if phase != Phase::Request => {
                Some("Not run: it checks the platform before the integration is set up, and this one is.")
            }
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
