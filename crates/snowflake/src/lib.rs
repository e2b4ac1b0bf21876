//! Warden's Snowflake adapter. It speaks Snowflake's connector protocol ([`client`]),
//! reaches the account as `connect` says, signs in with a password, a key pair
//! ([`key_pair`]) or an OAuth client's access token (`oauth`), and answers the seven checks of
//! the API reference §4: the connection; the default warehouse; access to the privileged role
//! (taken with `USE ROLE` after the login, so a role the user lacks fails that check, not the
//! connection); that no other Warden instance uses the table-grants role prefix; that the
//! privileged user holds every role the setup script switches to (its grants walked as
//! Snowflake documents SHOW GRANTS); and that an automatic setup's database and impersonation
//! role do not exist yet. An automatic setup (`setup`) creates a `TYPE = SERVICE` system
//! account signed in with a key pair Warden generates, and runs the `warden-scripts` scripts
//! with the privileged login, used for that change only.

pub mod client;
mod connect;
pub mod key_pair;
mod oauth;
mod setup;

use std::collections::BTreeSet;

use async_trait::async_trait;
use tokio::sync::Mutex;
use warden_model::config::{SnowflakeAuthentication, SnowflakeConfig};
use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig, Problem};
use warden_platform::catalogue::SnowflakeTest;
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, Descriptor, Phase, Platform, PlatformError, Session, SetupModel,
    TestId,
};
use warden_scripts::{Dialect, ScriptKind};

/// Snowflake as the engine sees it.
pub static DESCRIPTOR: Descriptor = Descriptor::new(
    IntegrationType::Snowflake,
    SetupModel::PrivilegedOnce,
    &["authenticationType", "username", "role"],
);

/// What the system account of an automatic setup is named after its database
/// (`<DB>_SYSTEM_ACCOUNT`, SCRIPTS.md).
const SYSTEM_ACCOUNT_SUFFIX: &str = "_SYSTEM_ACCOUNT";

/// The Snowflake adapter.
#[derive(Debug, Default)]
pub struct Snowflake;

/// What the checks of one validation run share: the session, and why the privileged role
/// could not be taken, when it could not.
struct CheckSession {
    session: Mutex<Option<client::Session>>,
    role_refused: Option<String>,
}

fn config(spec: &IntegrationSpec) -> Result<&SnowflakeConfig, PlatformError> {
    match &spec.config {
        PlatformConfig::Snowflake(config) => Ok(config),
        _ => Err(PlatformError::unsupported("the Snowflake adapter was given another platform's config")),
    }
}

/// Whether `name` is among the `name` column of `rows` (Snowflake folds unquoted names to
/// upper case; Warden's names are quoted, so the comparison is exact).
fn listed(rows: &client::Rows, name: &str) -> bool {
    rows.column("name").is_some_and(|names| names.contains(&Some(name)))
}

async fn show_like(context: &CheckContext, what: &str, name: &str) -> Result<bool, PlatformError> {
    let guard = context.session::<CheckSession>()?.session.lock().await;
    let session = guard.as_ref().ok_or_else(|| PlatformError::other("the run's Snowflake session is closed"))?;
    let rows = session.query(&format!("SHOW {what} LIKE {}", Dialect::Snowflake.literal(name))).await?;
    Ok(listed(&rows, name))
}

/// The login name of a config (`None` for OAuth, which has no user of its own).
fn login_name(config: &SnowflakeConfig) -> &str {
    match &config.authentication {
        SnowflakeAuthentication::UserPassword { username, .. } | SnowflakeAuthentication::KeyPair { username, .. } => {
            username
        }
        SnowflakeAuthentication::OAuthClientCredentials { .. } => "",
    }
}

/// The roles the automatic setup's create script switches to (its `USE ROLE` statements).
fn setup_roles(spec: &IntegrationSpec) -> Result<BTreeSet<String>, PlatformError> {
    let script =
        warden_scripts::build(ScriptKind::Create, spec, None).map_err(|e| PlatformError::unsupported(e.to_string()))?;
    Ok(script
        .statements()
        .filter_map(|s| s.sql.strip_prefix("USE ROLE "))
        .map(|role| role.trim().trim_matches('"').replace("\"\"", "\""))
        .collect())
}

/// The roles with Warden's table-grants prefix that this integration's system role
/// (`<database>_SYSTEM`) does not own: another Warden instance on the account uses the
/// prefix, and this one's removal script would drop its roles.
async fn roles_of_another_owner(
    context: &CheckContext,
    config: &SnowflakeConfig,
) -> Result<Vec<String>, PlatformError> {
    let prefix = warden_scripts::SNOWFLAKE_USER_ROLE_PREFIX;
    let pattern = Dialect::Snowflake.literal(&format!("{}%", prefix.replace('_', "\\_")));
    let guard = context.session::<CheckSession>()?.session.lock().await;
    let session = guard.as_ref().ok_or_else(|| PlatformError::other("the run's Snowflake session is closed"))?;
    let roles = session.query(&format!("SHOW ROLES LIKE {pattern}")).await?;
    let ours = format!("{}_SYSTEM", config.database);
    let (names, owners) = (roles.column("name").unwrap_or_default(), roles.column("owner").unwrap_or_default());
    Ok(names
        .iter()
        .zip(&owners)
        .filter_map(|(name, owner)| match (name, owner) {
            (Some(name), owner) if name.starts_with(prefix) && *owner != Some(ours.as_str()) => {
                Some((*name).to_owned())
            }
            _ => None,
        })
        .collect())
}

/// How many roles the grant walk reads at most (a guard against a cycle or a huge tree).
const ROLE_WALK_LIMIT: usize = 200;

/// The roles `user` holds: granted to it (`SHOW GRANTS TO USER`), and those roles inherit
/// (`USAGE` on a role, in `SHOW GRANTS TO ROLE`), as Snowflake documents both results.
async fn roles_of_user(context: &CheckContext, user: &str) -> Result<BTreeSet<String>, PlatformError> {
    let guard = context.session::<CheckSession>()?.session.lock().await;
    let session = guard.as_ref().ok_or_else(|| PlatformError::other("the run's Snowflake session is closed"))?;
    let quote = |name: &str| {
        Dialect::Snowflake.ident("config.username", name).map_err(|e| PlatformError::unsupported(e.to_string()))
    };
    let granted = session.query(&format!("SHOW GRANTS TO USER {}", quote(user)?)).await?;
    let mut pending: Vec<String> =
        granted.column("role").unwrap_or_default().into_iter().flatten().map(str::to_owned).collect();
    let mut held = BTreeSet::new();
    while let Some(role) = pending.pop() {
        if held.len() >= ROLE_WALK_LIMIT || !held.insert(role.clone()) {
            continue;
        }
        let grants = session.query(&format!("SHOW GRANTS TO ROLE {}", quote(&role)?)).await?;
        let (privileges, kinds, names) = (
            grants.column("privilege").unwrap_or_default(),
            grants.column("granted_on").unwrap_or_default(),
            grants.column("name").unwrap_or_default(),
        );
        for ((privilege, kind), name) in privileges.iter().zip(&kinds).zip(&names) {
            if *privilege == Some("USAGE")
                && *kind == Some("ROLE")
                && let Some(name) = name
            {
                pending.push((*name).to_owned());
            }
        }
    }
    Ok(held)
}

#[async_trait]
impl Platform for Snowflake {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check_config(&self, spec: &IntegrationSpec) -> Vec<Problem> {
        config(spec).map(connect::check).unwrap_or_default()
    }

    async fn open(&self, spec: &IntegrationSpec, phase: Phase) -> Result<Session, PlatformError> {
        let config = config(spec)?;
        let (endpoint, login) = connect::session_for(spec, config, phase).await?;
        let session = client::login(&endpoint, &login).await?;
        let mut role_refused = None;
        if let (true, Some(role)) = (connect::privileged_phase(spec, phase), &config.role) {
            let role =
                Dialect::Snowflake.ident("config.role", role).map_err(|e| PlatformError::unsupported(e.to_string()))?;
            if let Err(error) = session.query(&format!("USE ROLE {role}")).await {
                role_refused = Some(error.to_string());
            }
        }
        Ok(Session::new(CheckSession { session: Mutex::new(Some(session)), role_refused }))
    }

    async fn close(&self, session: Session) {
        if let Some(session) = session.into_inner::<CheckSession>().and_then(|s| s.session.into_inner()) {
            session.close().await;
        }
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        let TestId::Snowflake(test) = test else { return Err(PlatformError::UnknownCheck(format!("{test:?}"))) };
        let config = config(&context.spec)?;
        Ok(match test {
            SnowflakeTest::Connection => CheckOutcome::Passed,
            SnowflakeTest::DefaultWarehouse => {
                if show_like(context, "WAREHOUSES", &config.warehouse).await? {
                    CheckOutcome::Passed
                } else {
                    CheckOutcome::failed(format!("(warehouse {} is not visible to this user)", config.warehouse))
                }
            }
            SnowflakeTest::DatabaseDoesNotExist => {
                if show_like(context, "DATABASES", &config.database).await? {
                    CheckOutcome::failed(format!("(database {} exists)", config.database))
                } else {
                    CheckOutcome::Passed
                }
            }
            SnowflakeTest::PrivilegedRoleAccess => match &context.session::<CheckSession>()?.role_refused {
                Some(refused) => CheckOutcome::failed(refused.clone()),
                None => CheckOutcome::Passed,
            },
            SnowflakeTest::ImpersonationRoleDoesNotExist => {
                if show_like(context, "ROLES", &config.impersonation.role).await? {
                    CheckOutcome::failed(format!("(role {} exists)", config.impersonation.role))
                } else {
                    CheckOutcome::Passed
                }
            }
            SnowflakeTest::BootstrapUserGrants => {
                let needed = setup_roles(&context.spec)?;
                let held = roles_of_user(context, login_name(config)).await?;
                let missing: Vec<&str> = needed.iter().filter(|r| !held.contains(*r)).map(String::as_str).collect();
                if missing.is_empty() {
                    CheckOutcome::Passed
                } else {
                    CheckOutcome::failed(format!(
                        "(the setup switches to {}, which user {} does not hold)",
                        missing.join(", "),
                        login_name(config)
                    ))
                }
            }
            SnowflakeTest::TableGrantsRolePrefixUnique => {
                let others = roles_of_another_owner(context, config).await?;
                if others.is_empty() {
                    CheckOutcome::Passed
                } else {
                    CheckOutcome::failed(format!(
                        "(roles {} exist and are not owned by {}_SYSTEM)",
                        others.join(", "),
                        config.database
                    ))
                }
            }
        })
    }

    fn system_account(
        &self,
        requested: &IntegrationSpec,
        current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        let authentication = match current {
            Some(current) => match &config(current)?.authentication {
                login @ SnowflakeAuthentication::KeyPair { .. } => login.clone(),
                _ => return Err(PlatformError::unsupported("the stored system account has no key pair")),
            },
            None => SnowflakeAuthentication::KeyPair {
                username: format!("{}{SYSTEM_ACCOUNT_SUFFIX}", config(requested)?.database),
                private_key: key_pair::generate_pem()?,
                private_key_password: None,
            },
        };
        let stored = IntegrationSpec {
            config: PlatformConfig::Snowflake(SnowflakeConfig { authentication, ..config(requested)?.clone() }),
            ..requested.clone()
        };
        warden_platform::read_back(&stored)
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        // A manual integration's platform side is the administrator's (the scripts).
        let Some(privileged) = change.privileged() else { return Ok(Applied::NOTHING) };
        let session = setup::privileged_session(privileged).await?;
        let outcome = match change {
            Change::Create { spec, .. } => setup::create(&session, spec).await,
            Change::Edit { from, to, .. } => setup::run(&session, ScriptKind::Edit, to, Some(from)).await,
            Change::Delete { spec, .. } => setup::run(&session, ScriptKind::Delete, spec, None).await,
            Change::Cleanup { spec, .. } => setup::run(&session, ScriptKind::Cleanup, spec, None).await,
            // The adapter's objects are at their first version: there is nothing older to
            // bring forward.
            Change::Migrate { .. } => Ok(()),
        };
        session.close().await;
        outcome.map(|()| Applied::NOTHING)
    }
}
