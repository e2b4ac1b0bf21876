//! Warden's Amazon Redshift adapter. Redshift speaks the PostgreSQL wire protocol, so this
//! adapter connects with sqlx's PostgreSQL driver (and its tests run against a real
//! PostgreSQL server). It runs the three validation checks of the API reference §4, derives
//! the system account an automatic setup creates (`<database>_system`, with a generated
//! password), and runs the `warden-scripts` Redshift scripts for automatic setup, edit,
//! removal and cleanup. Statements only Redshift has run only when `SELECT version()` says
//! the server is Redshift. The checks of one validation run share the connection the runner
//! opens for the run; when the run ends it is kept a second for the next run on the same
//! target and login (the contract's `IdleCache`), and closed before any change. A script's
//! parts each open and close their own, so Warden holds no session that would keep `DROP
//! DATABASE` waiting.

mod aws;
mod connect;
mod okta;
pub mod queries;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, Row as _};
use tokio::sync::Mutex;
use warden_model::config::{RedshiftAuthentication, RedshiftConfig, SYSTEM_ACCOUNT_SUFFIX};
use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig, Secret};
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, Descriptor, ErrorKind, IdleCache, Phase, Platform, PlatformError,
    Reusable, Session, SetupModel, TestId, catalogue::RedshiftTest,
};
use warden_scripts::{Created, PasswordForm, Script, ScriptKind};

use crate::connect::{classify, connect, connect_args, describe};

/// Redshift as the engine sees it.
pub static DESCRIPTOR: Descriptor = Descriptor::new(
    IntegrationType::Redshift,
    SetupModel::PrivilegedOnce,
    &["authenticationType", "username", "databaseUser", "accessKeyId", "okta"],
);

/// The database an automatic setup connects to first when the config names none.
const DEFAULT_INITIAL_DATABASE: &str = "dev";

/// How long a check connection is kept after its run, for the next run on the same target.
const IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// The Redshift adapter.
#[derive(Debug)]
pub struct Redshift {
    /// Check connections between runs (closed after [`IDLE`], and before any change).
    idle: Arc<IdleCache<Kept>>,
}

impl Default for Redshift {
    fn default() -> Self {
        Self::new()
    }
}

/// The connection the checks of one validation run take turns on, and the key it is kept
/// under afterwards.
struct CheckConnection {
    key: String,
    connection: Mutex<PgConnection>,
}

/// A check connection kept between runs, and when its run gave it back.
struct Kept {
    connection: PgConnection,
    returned: std::time::Instant,
}

/// A kept connection given back this recently is taken without a liveness ping (HikariCP's
/// `aliveBypassWindowMs`, 500 ms by default, makes the same trade): back-to-back runs save a
/// round trip, and a connection the server dropped within the window fails that one run's
/// connection test with the server's error.
const ALIVE_BYPASS: std::time::Duration = std::time::Duration::from_millis(500);

#[async_trait]
impl Reusable for Kept {
    async fn close(self) {
        let _ = self.connection.close().await;
    }
}

/// The key of a check connection: where it goes and as whom (secrets only as a digest).
fn connection_key(config: &RedshiftConfig, database: &str) -> String {
    // Secret's Debug shows [REDACTED], so the login's description holds no secret.
    let login = format!("{:?}", config.authentication);
    let secrets: Vec<&Secret<String>> = match &config.authentication {
        RedshiftAuthentication::UserPassword { password, .. } => vec![password],
        RedshiftAuthentication::AccessKey { secret_key, session_token, .. } => {
            std::iter::once(secret_key).chain(session_token).collect()
        }
        RedshiftAuthentication::Okta { okta } => vec![&okta.password],
    };
    let port = config.port.get().to_string();
    let args = config.connect_args.as_deref().unwrap_or_default();
    IdleCache::<Kept>::key(&[config.host.as_str(), &port, database, &login, args], &secrets)
}

impl Redshift {
    /// A new adapter.
    pub fn new() -> Self {
        Self { idle: IdleCache::new(IDLE) }
    }
}

fn config(spec: &IntegrationSpec) -> Result<&RedshiftConfig, PlatformError> {
    match &spec.config {
        PlatformConfig::Redshift(config) => Ok(config),
        _ => Err(PlatformError::unsupported("the Redshift adapter was given another platform's config")),
    }
}

fn initial_database(config: &RedshiftConfig) -> &str {
    config.initial_database.as_deref().unwrap_or(DEFAULT_INITIAL_DATABASE)
}

/// The database a check connects to: before an automatic setup Warden's database does not
/// exist yet, and before a removal it may already be gone, so the privileged user connects
/// to the initial one.
fn check_database<'a>(spec: &IntegrationSpec, config: &'a RedshiftConfig, phase: Phase) -> &'a str {
    if spec.auto_bootstrap && phase != Phase::Installed { initial_database(config) } else { &config.database }
}

async fn exists(connection: &mut PgConnection, sql: &'static str, name: &str) -> Result<bool, PlatformError> {
    let row =
        sqlx::query(sql).bind(name).fetch_one(connection).await.map_err(|e| PlatformError::other(describe(&e)))?;
    Ok(row.try_get::<bool, _>(0).unwrap_or(false))
}

/// Whether the server is Redshift itself (not a PostgreSQL server standing in for it).
async fn is_redshift(connection: &mut PgConnection) -> Result<bool, PlatformError> {
    let row =
        sqlx::query(queries::VERSION).fetch_one(connection).await.map_err(|e| PlatformError::other(describe(&e)))?;
    Ok(row.try_get::<String, _>(0).unwrap_or_default().contains("Redshift"))
}

/// How a script's failures are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnError {
    /// Stop at the first failure.
    Stop,
    /// Removing what may be half there: skip a part whose database is gone and statements
    /// about objects that do not exist; stop at anything else.
    TolerateMissing,
    /// Running an edit again after one that was cut short: a statement that creates an
    /// object the edit makes (the impersonation group) and finds it there already is
    /// skipped, since the earlier attempt made it; stop at anything else. Without this, the
    /// "send the PUT again" that an interrupted edit's message gives failed for good
    /// (found by `tests/failpoints.rs`).
    TolerateExisting,
}

/// Builds a script once the server is known: passwords go pre-hashed, as an MD5 digest to
/// Redshift and as a SCRAM verifier to a PostgreSQL server standing in for it, so that no
/// password travels in statement text (servers keep that in logs and system tables).
type Builder<'a> = dyn Fn(PasswordForm) -> Result<Script, PlatformError> + Send + Sync + 'a;

/// The privileged connection a change's script parts run on. One connection serves the
/// consecutive parts that target the same database (and a setup's first part may take the
/// connection its validation just used); it is closed before a part on another database,
/// so no connection of Warden's stays on a database a later part drops.
struct Privileged<'a> {
    config: &'a RedshiftConfig,
    /// A validation's idle connection as the privileged user, by database.
    reusable: Option<(String, PgConnection)>,
    open: Option<Open>,
}

/// The connection open now: its database, and whether the server is Redshift.
struct Open {
    database: String,
    connection: PgConnection,
    redshift: bool,
}

impl<'a> Privileged<'a> {
    fn new(config: &'a RedshiftConfig, reusable: Option<(String, PgConnection)>) -> Self {
        Self { config, reusable, open: None }
    }

    /// The connection to `database` (and whether it is Redshift), opened if need be.
    async fn on(&mut self, database: &str) -> Result<(&mut PgConnection, bool), PlatformError> {
        if self.open.as_ref().is_none_or(|open| open.database != database) {
            self.close().await;
            let kept = self.reusable.take_if(|(kept_on, _)| kept_on == database).map(|(_, connection)| connection);
            let mut connection = match kept {
                Some(mut kept) => match kept.ping().await {
                    Ok(()) => kept,
                    Err(_) => connect(self.config, database).await?,
                },
                None => connect(self.config, database).await?,
            };
            let redshift = is_redshift(&mut connection).await?;
            self.open = Some(Open { database: database.to_owned(), connection, redshift });
        }
        let open = self.open.as_mut().ok_or_else(|| PlatformError::other("no connection"))?;
        Ok((&mut open.connection, open.redshift))
    }

    /// Closes the open connection, if any.
    async fn close(&mut self) {
        if let Some(open) = self.open.take() {
            let _ = open.connection.close().await;
        }
    }

    /// Closes everything, answering whether the open connection closed cleanly.
    async fn finish(mut self) -> Result<(), PlatformError> {
        if let Some((_, kept)) = self.reusable.take() {
            let _ = kept.close().await;
        }
        match self.open.take() {
            Some(open) => open.connection.close().await.map_err(|e| PlatformError::other(describe(&e))),
            None => Ok(()),
        }
    }
}

/// Runs a script with the privileged credentials, part by part, on `privileged`'s
/// connections. Each object a statement creates is pushed to `created` as soon as the
/// statement succeeds.
async fn run(
    build: &Builder<'_>,
    privileged: &mut Privileged<'_>,
    on_error: OnError,
    created: &mut Vec<Created>,
) -> Result<(), PlatformError> {
    // The parts and their databases do not depend on the password form.
    let targets: Vec<String> = build(PasswordForm::Plain)?.parts.into_iter().map(|p| p.connect_to).collect();
    let mut script: Option<Script> = None;
    for (index, target) in targets.iter().enumerate() {
        let (connection, redshift) = match privileged.on(target).await {
            Ok(open) => open,
            Err(error) if on_error == OnError::TolerateMissing && error.kind() == Some(ErrorKind::NotFound) => {
                tracing::info!(database = %target, "skipping a removal step: its database is already gone");
                continue;
            }
            Err(error) => return Err(error),
        };
        let script = match &script {
            Some(script) => script,
            None => script.insert(build(if redshift { PasswordForm::Md5 } else { PasswordForm::ScramSha256 })?),
        };
        let Some(part) = script.parts.get(index) else { break };
        for statement in &part.statements {
            if statement.vendor_only.is_some() && !redshift {
                tracing::debug!(statement = %statement.label(), "skipping a Redshift-only statement on PostgreSQL");
                continue;
            }
            if let Err(error) = sqlx::raw_sql(AssertSqlSafe(statement.sql.clone())).execute(&mut *connection).await {
                let error = classify(&error);
                let missing = error.kind() == Some(ErrorKind::NotFound);
                // PostgreSQL checks the privilege to drop a role before whether it exists.
                let tolerant = on_error == OnError::TolerateMissing;
                let gone = tolerant && !missing && already_gone(connection, &statement.sql).await;
                if tolerant && (missing || gone) {
                    tracing::info!(%error, "skipping: already gone");
                    continue;
                }
                let exists = error.kind() == Some(ErrorKind::AlreadyExists) && statement.creates.is_some();
                if on_error == OnError::TolerateExisting && exists {
                    tracing::info!(%error, "skipping: an earlier attempt of this edit made it");
                    continue;
                }
                privileged.close().await;
                // The label stops before any literal: a failed CREATE USER must not echo
                // the password into the status message or the log.
                return Err(error.while_running(&statement.label()));
            }
            if let Some(object) = &statement.creates {
                created.push(object.clone());
            }
        }
    }
    Ok(())
}

/// Runs one script on connections of its own, all closed at the end.
async fn run_alone(
    build: &Builder<'_>,
    admin: &RedshiftConfig,
    on_error: OnError,
    created: &mut Vec<Created>,
) -> Result<(), PlatformError> {
    let mut privileged = Privileged::new(admin, None);
    let outcome = run(build, &mut privileged, on_error, created).await;
    let closed = privileged.finish().await;
    outcome.and(closed)
}

/// A setup that failed part way: removes what it had created (and only that) and says how
/// that went.
async fn roll_back(
    cause: PlatformError,
    created: &[Created],
    privileged: &RedshiftConfig,
    initial: &str,
) -> PlatformError {
    if created.is_empty() {
        return PlatformError::SetupFailed { cause: Box::new(cause), rollback: None };
    }
    tracing::warn!(objects = created.len(), "a setup failed part way; removing what it created");
    let build = |_: PasswordForm| {
        warden_scripts::undo(IntegrationType::Redshift, created, initial)
            .map_err(|e| PlatformError::unsupported(e.to_string()))
    };
    let rollback =
        run_alone(&build, privileged, OnError::TolerateMissing, &mut Vec::new()).await.err().map(|e| e.to_string());
    PlatformError::SetupFailed { cause: Box::new(cause), rollback }
}

/// For a failed `DROP USER|GROUP|DATABASE ... "name"`: whether that object is already gone
/// (so the failure, a missing privilege say, does not matter to a removal).
async fn already_gone(connection: &mut PgConnection, sql: &str) -> bool {
    let catalog = if sql.starts_with("DROP USER") || sql.starts_with("DROP GROUP") {
        queries::ROLE_EXISTS
    } else if sql.starts_with("DROP DATABASE") {
        queries::DATABASE_EXISTS
    } else {
        return false;
    };
    let Some(name) = first_quoted_name(sql) else { return false };
    !exists(connection, catalog, &name).await.unwrap_or(true)
}

/// The first `"..."` identifier of a statement, unquoted (`""` is one `"`).
fn first_quoted_name(sql: &str) -> Option<String> {
    let start = sql.find('"')? + 1;
    let mut name = String::new();
    let mut chars = sql[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                name.push('"');
            } else {
                return Some(name);
            }
        } else {
            name.push(c);
        }
    }
    None
}

/// The builder of a script to run.
fn script<'a>(kind: ScriptKind, spec: &'a IntegrationSpec, stored: Option<&'a IntegrationSpec>) -> Box<Builder<'a>> {
    Box::new(move |form| {
        warden_scripts::build_with(kind, spec, stored, form).map_err(|e| PlatformError::unsupported(e.to_string()))
    })
}

#[async_trait]
impl Platform for Redshift {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check_config(&self, spec: &IntegrationSpec) -> Vec<warden_model::Problem> {
        config(spec).map(connect::check).unwrap_or_default()
    }

    async fn open(&self, spec: &IntegrationSpec, phase: Phase) -> Result<Session, PlatformError> {
        let config = config(spec)?;
        let database = check_database(spec, config, phase);
        let key = connection_key(config, database);
        // The previous run's connection, if it is still alive; otherwise a new one.
        let connection = match self.idle.take(&key) {
            Some(Kept { connection, returned }) if returned.elapsed() < ALIVE_BYPASS => connection,
            Some(Kept { mut connection, .. }) => match connection.ping().await {
                Ok(()) => connection,
                Err(_) => connect(config, database).await?,
            },
            None => connect(config, database).await?,
        };
        Ok(Session::new(CheckConnection { key, connection: Mutex::new(connection) }))
    }

    async fn close(&self, session: Session) {
        if let Some(CheckConnection { key, connection }) = session.into_inner::<CheckConnection>() {
            self.idle.put(key, Kept { connection: connection.into_inner(), returned: std::time::Instant::now() });
        }
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        let TestId::Redshift(test) = test else { return Err(PlatformError::UnknownCheck(format!("{test:?}"))) };
        let config = config(&context.spec)?;
        let mut connection = context.session::<CheckConnection>()?.connection.lock().await;
        let outcome = match test {
            RedshiftTest::Connection => match connect_args(config)?.warning() {
                Some(warning) => CheckOutcome::Warning(warning),
                None => CheckOutcome::Passed,
            },
            RedshiftTest::DatabaseDoesNotExist => {
                // The setup creates the database and its system account; if either exists
                // already, it is not Warden's to create (or, on a failed setup, to remove).
                let system = format!("{}{SYSTEM_ACCOUNT_SUFFIX}", config.database);
                if exists(&mut connection, queries::DATABASE_EXISTS, &config.database).await? {
                    CheckOutcome::failed(format!("(database {} exists)", config.database))
                } else if exists(&mut connection, queries::ROLE_EXISTS, &system).await? {
                    CheckOutcome::failed(format!(
                        "(user {system}, the system account the setup would create for database {}, exists)",
                        config.database
                    ))
                } else {
                    CheckOutcome::Passed
                }
            }
            RedshiftTest::ImpersonationRoleDoesNotExist => {
                if exists(&mut connection, queries::GROUP_EXISTS, &config.impersonation.role).await? {
                    CheckOutcome::failed(format!("(group {} exists)", config.impersonation.role))
                } else {
                    CheckOutcome::Passed
                }
            }
        };
        Ok(outcome)
    }

    fn system_account(
        &self,
        requested: &IntegrationSpec,
        current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        let authentication = match current {
            Some(current) => match &config(current)?.authentication {
                login @ RedshiftAuthentication::UserPassword { .. } => login.clone(),
                _ => return Err(PlatformError::unsupported("the stored system account has no password")),
            },
            None => RedshiftAuthentication::UserPassword {
                username: format!("{}{SYSTEM_ACCOUNT_SUFFIX}", config(requested)?.database),
                password: Secret::new(
                    warden_scripts::generate_password().map_err(|e| PlatformError::unsupported(e.to_string()))?,
                ),
            },
        };
        let stored = IntegrationSpec {
            config: PlatformConfig::Redshift(RedshiftConfig { authentication, ..config(requested)?.clone() }),
            ..requested.clone()
        };
        warden_platform::read_back(&stored)
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        // A manual integration's platform side is the administrator's (the scripts).
        let Some(privileged) = change.privileged() else { return Ok(Applied::NOTHING) };
        let admin = config(privileged)?;
        // A setup's first part runs where its validation connected as the privileged user:
        // that connection is taken instead of a new one. No other check connection may stay
        // open on a database a script is about to drop.
        let initial = initial_database(admin).to_owned();
        let reusable = match &change {
            Change::Create { .. } => {
                self.idle.take(&connection_key(admin, &initial)).map(|kept| (initial, kept.connection))
            }
            _ => None,
        };
        self.idle.close_all().await;
        let mut created = Vec::new();
        match change {
            Change::Create { spec, .. } => {
                let mut on = Privileged::new(admin, reusable);
                let mut outcome =
                    run(&*script(ScriptKind::InitialCreate, spec, None), &mut on, OnError::Stop, &mut created).await;
                if outcome.is_ok() {
                    outcome = run(&*script(ScriptKind::Create, spec, None), &mut on, OnError::Stop, &mut created).await;
                }
                // Closed before a rollback, which may drop the database it is on.
                let closed = on.finish().await;
                match outcome.and(closed) {
                    Ok(()) => Ok(Applied::NOTHING),
                    Err(cause) => Err(roll_back(cause, &created, admin, initial_database(config(spec)?)).await),
                }
            }
            Change::Edit { from, to, .. } => {
                run_alone(&*script(ScriptKind::Edit, to, Some(from)), admin, OnError::TolerateExisting, &mut created)
                    .await?;
                Ok(Applied::NOTHING)
            }
            Change::Delete { spec, .. } => {
                run_alone(&*script(ScriptKind::Delete, spec, None), admin, OnError::TolerateMissing, &mut created)
                    .await?;
                Ok(Applied::NOTHING)
            }
            Change::Cleanup { spec, .. } => {
                run_alone(&*script(ScriptKind::Cleanup, spec, None), admin, OnError::TolerateMissing, &mut created)
                    .await?;
                Ok(Applied::NOTHING)
            }
            // The adapter's objects are at their first version: there is nothing older to
            // bring forward (the engine asks only when the descriptor's version is higher).
            Change::Migrate { .. } => Ok(Applied::NOTHING),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

    use serde_json::json;
    use sqlx::{Connection as _, Row as _};
    use warden_model::IntegrationSpec;
    use warden_platform::{Phase, Platform as _};

    use super::{CheckConnection, IDLE, Redshift};

    async fn backend_pid(session: &warden_platform::Session) -> i32 {
        let mut connection = session.get::<CheckConnection>().unwrap().connection.lock().await;
        sqlx::query("SELECT pg_backend_pid()").fetch_one(&mut *connection).await.unwrap().get(0)
    }

    /// Back-to-back runs on one target take the same connection (no new TLS and login), and
    /// it is closed on the server once idle.
    #[tokio::test]
    async fn back_to_back_runs_share_a_connection_that_closes_when_idle() {
        let Ok(url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_POSTGRES_URL");
            eprintln!("WARDEN_TEST_POSTGRES_URL is not set: skipped");
            return;
        };
        let url = url::Url::parse(&url).unwrap();
        let payload = json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": url.host_str().unwrap(),
            "port": url.port().unwrap(), "database": "postgres", "authenticationType": "userPassword",
            "username": url.username(), "password": url.password().unwrap()}});
        let spec = IntegrationSpec::from_value(&payload, None).unwrap();
        let redshift = Redshift::new();
        let first = redshift.open(&spec, Phase::Installed).await.unwrap();
        let pid = backend_pid(&first).await;
        redshift.close(first).await;
        let second = redshift.open(&spec, Phase::Installed).await.unwrap();
        assert_eq!(backend_pid(&second).await, pid, "the second run took the first run's connection");
        redshift.close(second).await;
        assert_eq!(redshift.idle.len(), 1);
        tokio::time::sleep(IDLE + std::time::Duration::from_millis(500)).await;
        assert!(redshift.idle.is_empty(), "closed once idle");
        let mut admin = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
        let alive: i64 = sqlx::query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .unwrap()
            .get(0);
        assert_eq!(alive, 0, "the server no longer has the idle connection");
    }
}
