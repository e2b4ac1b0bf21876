//! Warden's Azure Synapse Analytics adapter: TDS over TLS with tiberius ([`client`]), the
//! four checks of the API reference §4, and automatic setup with the privileged login used once.
//!
//! - The connection: a TLS login to `database` (the privileged login before an automatic
//!   setup, the system account afterwards).
//! - The delimiters: `hashDelimiter`, `hashKeyDelimiter` and `arrayDelimiter` all differ.
//! - Before an automatic setup with impersonation: the impersonation role does not exist yet.
//! - That the login can manage the database: before an automatic setup, the privileged login
//!   holds `ALTER ANY USER`, `CREATE SCHEMA` (and `CREATE ROLE` for impersonation); the system
//!   account holds `CREATE VIEW`, `CREATE FUNCTION`, `CREATE PROCEDURE` and `CREATE TABLE`
//!   (`HAS_PERMS_BY_NAME`), each missing one named.
//!
//! An automatic setup names the system account `<database>_system` with a generated
//! password, refuses to start when any object it would create exists already (so that a
//! failed setup, removed with the cleanup and post-cleanup scripts, removes only what it
//! made), and runs the `warden-scripts` scripts part by part: initial-create on a connection
//! to `master` (Synapse cannot switch database), create on one to `database`. An edit runs
//! the edit script; a delete or cleanup the removal scripts, whose statements are guarded so
//! they go past what is gone, then post-cleanup on `master`.

pub mod client;

use async_trait::async_trait;
use tokio::sync::Mutex;
use warden_model::config::{SynapseAuthentication, SynapseConfig};
use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig, Problem, Secret};
use warden_platform::catalogue::SynapseTest;
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, Descriptor, ErrorKind, Phase, Platform, PlatformError, Session,
    SetupModel, TestId,
};
use warden_scripts::{Dialect, ScriptKind};

use crate::client::{Connection, Options, Target};

/// Azure Synapse Analytics as the engine sees it.
pub static DESCRIPTOR: Descriptor = Descriptor::new(
    IntegrationType::AzureSynapseAnalytics,
    SetupModel::PrivilegedOnce,
    &["authenticationType", "username"],
);

/// What the system account of an automatic setup is named after its database.
pub const SYSTEM_ACCOUNT_SUFFIX: &str = "_system";

/// Where logins live.
const MASTER: &str = "master";

/// Warden's own schemas in the database (the create script's), besides the configured one.
const SCHEMAS: [&str; 3] = ["warden_system", "warden_functions", "warden_procedures"];

/// What the system account needs to manage Warden's objects.
const SYSTEM_PERMISSIONS: [&str; 4] = ["CREATE VIEW", "CREATE FUNCTION", "CREATE PROCEDURE", "CREATE TABLE"];

/// The Synapse adapter.
#[derive(Debug, Default)]
pub struct Synapse;

/// What the checks of one run share: the connection to `database`.
#[derive(Debug)]
pub struct Run {
    connection: Mutex<Connection>,
}

fn config(spec: &IntegrationSpec) -> Result<&SynapseConfig, PlatformError> {
    match &spec.config {
        PlatformConfig::AzureSynapse(config) => Ok(config),
        _ => Err(PlatformError::unsupported("the Synapse adapter was given another platform's config")),
    }
}

/// The connection target of `config` in `database`.
fn target(config: &SynapseConfig, database: &str) -> Result<Target, PlatformError> {
    let SynapseAuthentication::UserPassword { username, password } = &config.authentication;
    let (options, _) = Options::parse(config.connect_args.as_deref())
        .map_err(|e| PlatformError::unsupported(format!("config.connectArgs: {e}")))?;
    Ok(Target {
        host: config.host.as_str().to_owned(),
        port: config.port.get(),
        database: database.to_owned(),
        user: username.clone(),
        password: password.clone(),
        options,
    })
}

fn literal(text: &str) -> String {
    Dialect::Tsql.literal(text)
}

/// The permissions of `permissions` the connection's login lacks in its database.
async fn missing(connection: &mut Connection, permissions: &[&str]) -> Result<Vec<String>, PlatformError> {
    let columns: Vec<String> = permissions
        .iter()
        .enumerate()
        .map(|(i, p)| format!("HAS_PERMS_BY_NAME(NULL, N'DATABASE', {}) AS p{i}", literal(p)))
        .collect();
    let rows = connection.query(&format!("SELECT {}", columns.join(", "))).await?;
    let row = rows.into_iter().next().unwrap_or_default();
    Ok(permissions
        .iter()
        .zip(row.into_iter().chain(std::iter::repeat(None)))
        .filter(|(_, held)| held.as_deref() != Some("1"))
        .map(|(p, _)| (*p).to_owned())
        .collect())
}

/// Whether `sys.<view>` has a row named `name`.
async fn exists(connection: &mut Connection, view: &str, name: &str) -> Result<bool, PlatformError> {
    Ok(!connection.query(&format!("SELECT name FROM sys.{view} WHERE name = {}", literal(name))).await?.is_empty())
}

/// Runs the `kind` script for `spec` with the privileged `admin`, part by part, each part
/// on a connection to its database. A removal's part runs as one batch (its statements share
/// a variable); a setup's statements run one by one, so an error names its statement.
async fn run_script(
    kind: ScriptKind,
    spec: &IntegrationSpec,
    stored: Option<&IntegrationSpec>,
    admin: &SynapseConfig,
) -> Result<(), PlatformError> {
    let script = warden_scripts::build(kind, spec, stored).map_err(|e| PlatformError::unsupported(e.to_string()))?;
    let removal = matches!(kind, ScriptKind::Delete | ScriptKind::Cleanup | ScriptKind::PostCleanup);
    for part in &script.parts {
        if part.statements.is_empty() {
            continue;
        }
        let mut connection = Connection::open(&target(admin, &part.connect_to)?).await?;
        let outcome = if removal {
            let batch: Vec<&str> = part.statements.iter().map(|s| s.sql.as_str()).collect();
            connection.execute(&batch.join(";\n")).await
        } else {
            let mut outcome = Ok(());
            for statement in &part.statements {
                outcome = connection.execute(&statement.sql).await;
                if outcome.is_err() {
                    break;
                }
            }
            outcome
        };
        connection.close().await;
        outcome?;
    }
    Ok(())
}

/// The objects an automatic setup of `config` creates that exist already, by description.
async fn already_there(config: &SynapseConfig, admin: &SynapseConfig) -> Result<Vec<String>, PlatformError> {
    let SynapseAuthentication::UserPassword { username, .. } = &config.authentication;
    let mut found = Vec::new();
    let mut master = Connection::open(&target(admin, MASTER)?).await?;
    let login = exists(&mut master, "sql_logins", username).await;
    master.close().await;
    if login? {
        found.push(format!("login {username}"));
    }
    let mut database = Connection::open(&target(admin, &config.database)?).await?;
    let mut principals = vec![username.clone()];
    if config.impersonation.enabled {
        principals.push(config.impersonation.role.clone());
    }
    for principal in principals {
        if exists(&mut database, "database_principals", &principal).await? {
            found.push(format!("database principal {principal}"));
        }
    }
    for schema in SCHEMAS.iter().copied().chain([config.schema.as_str()]) {
        if exists(&mut database, "schemas", schema).await? {
            found.push(format!("schema {schema}"));
        }
    }
    database.close().await;
    Ok(found)
}

#[async_trait]
impl Platform for Synapse {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check_config(&self, spec: &IntegrationSpec) -> Vec<Problem> {
        let Ok(config) = config(spec) else { return Vec::new() };
        match Options::parse(config.connect_args.as_deref()) {
            Ok(_) => Vec::new(),
            Err(message) => vec![Problem { path: "config.connectArgs".into(), message }],
        }
    }

    fn system_account(
        &self,
        requested: &IntegrationSpec,
        current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        let authentication = match current {
            Some(current) => config(current)?.authentication.clone(),
            None => SynapseAuthentication::UserPassword {
                username: format!("{}{SYSTEM_ACCOUNT_SUFFIX}", config(requested)?.database),
                password: Secret::new(
                    warden_scripts::generate_password().map_err(|e| PlatformError::unsupported(e.to_string()))?,
                ),
            },
        };
        let stored = IntegrationSpec {
            config: PlatformConfig::AzureSynapse(SynapseConfig { authentication, ..config(requested)?.clone() }),
            ..requested.clone()
        };
        warden_platform::read_back(&stored)
    }

    async fn open(&self, spec: &IntegrationSpec, _phase: Phase) -> Result<Session, PlatformError> {
        let config = config(spec)?;
        let connection = Connection::open(&target(config, &config.database)?).await?;
        Ok(Session::new(Run { connection: Mutex::new(connection) }))
    }

    async fn close(&self, session: Session) {
        if let Some(run) = session.into_inner::<Run>() {
            run.connection.into_inner().close().await;
        }
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        let TestId::Synapse(test) = test else { return Err(PlatformError::UnknownCheck(format!("{test:?}"))) };
        let config = config(&context.spec)?;
        match test {
            SynapseTest::Connection => {
                let unused =
                    Options::parse(config.connect_args.as_deref()).map(|(_, unused)| unused).unwrap_or_default();
                Ok(if unused.is_empty() {
                    CheckOutcome::Passed
                } else {
                    CheckOutcome::Warning(format!("config.connectArgs keys Warden does not use: {}", unused.join(", ")))
                })
            }
            SynapseTest::Delimiters => {
                Ok(if config.metadata_delimiters.collide() { CheckOutcome::failed("") } else { CheckOutcome::Passed })
            }
            SynapseTest::ImpersonationRoleDoesNotExist => {
                let mut connection = context.session::<Run>()?.connection.lock().await;
                let role = &config.impersonation.role;
                Ok(if exists(&mut connection, "database_principals", role).await? {
                    CheckOutcome::failed(format!("(role {role} exists in database {})", config.database))
                } else {
                    CheckOutcome::Passed
                })
            }
            SynapseTest::SystemUserCanManageDatabase => {
                let setting_up = context.spec.auto_bootstrap && context.phase == Phase::Request;
                let mut needed: Vec<&str> =
                    if setting_up { vec!["ALTER ANY USER", "CREATE SCHEMA"] } else { SYSTEM_PERMISSIONS.to_vec() };
                if setting_up && config.impersonation.enabled {
                    needed.push("CREATE ROLE");
                }
                let mut connection = context.session::<Run>()?.connection.lock().await;
                let lacking = missing(&mut connection, &needed).await?;
                Ok(if lacking.is_empty() {
                    CheckOutcome::Passed
                } else {
                    let SynapseAuthentication::UserPassword { username, .. } = &config.authentication;
                    CheckOutcome::failed(format!(
                        "({username} lacks {} in database {}: GRANT {} TO [{username}])",
                        lacking.join(", "),
                        config.database,
                        lacking.join(", ")
                    ))
                })
            }
        }
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        // A manual integration's platform side is the administrator's (the scripts).
        let Some(privileged) = change.privileged() else { return Ok(Applied::NOTHING) };
        let admin = config(privileged)?;
        match change {
            Change::Create { spec, .. } => {
                let there = already_there(config(spec)?, admin).await?;
                if !there.is_empty() {
                    return Err(PlatformError::new(
                        ErrorKind::AlreadyExists,
                        format!(
                            "{} already {}: an automatic setup creates these objects itself and would not tell them from its own afterwards. Remove them, or set the integration up by hand with the scripts (autoBootstrap: false)",
                            there.join(", "),
                            if there.len() == 1 { "exists" } else { "exist" }
                        ),
                    ));
                }
                let mut outcome = run_script(ScriptKind::InitialCreate, spec, None, admin).await;
                if outcome.is_ok() {
                    outcome = run_script(ScriptKind::Create, spec, None, admin).await;
                }
                match outcome {
                    Ok(()) => Ok(Applied::NOTHING),
                    Err(cause) => {
                        tracing::warn!(%cause, "a Synapse setup failed part way; removing what it created");
                        let rollback =
                            run_script(ScriptKind::Delete, spec, None, admin).await.err().map(|e| e.to_string());
                        Err(PlatformError::SetupFailed { cause: Box::new(cause), rollback })
                    }
                }
            }
            Change::Edit { from, to, .. } => {
                run_script(ScriptKind::Edit, to, Some(from), admin).await.map(|()| Applied::NOTHING)
            }
            Change::Delete { spec, .. } | Change::Cleanup { spec, .. } => {
                run_script(ScriptKind::Delete, spec, None, admin).await.map(|()| Applied::NOTHING)
            }
            Change::Migrate { .. } => Ok(Applied::NOTHING),
        }
    }
}
