//! Warden's Snowflake adapter (issue 13, in progress). It speaks Snowflake's connector
//! protocol ([`client`]), reaches the account as [`connect`] says, and answers the checks
//! whose Snowflake statements it runs today: the connection, the default warehouse, access
//! to the privileged role (taken with `USE ROLE` after the login, so a role the user lacks
//! fails that check and not the connection), and that an automatic setup's database does not
//! exist yet, nor its impersonation role. It signs in with a password or a key
//! pair ([`key_pair`]). The other two checks, OAuth sign-in and automatic setup are not
//! built yet: they answer an `unsupported` error, never a pass. Until they are, the server does not register this adapter, so a Snowflake
//! create still answers `501`.

pub mod client;
mod connect;
pub mod key_pair;

use async_trait::async_trait;
use tokio::sync::Mutex;
use warden_model::config::SnowflakeConfig;
use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig, Problem};
use warden_platform::catalogue::SnowflakeTest;
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, Descriptor, Phase, Platform, PlatformError, Session, SetupModel,
    TestId,
};
use warden_scripts::Dialect;

/// Snowflake as the engine sees it.
pub static DESCRIPTOR: Descriptor = Descriptor::new(
    IntegrationType::Snowflake,
    SetupModel::PrivilegedOnce,
    &["authenticationType", "username", "role"],
);

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
        let (endpoint, login) = connect::session_for(spec, config, phase)?;
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
            SnowflakeTest::TableGrantsRolePrefixUnique | SnowflakeTest::BootstrapUserGrants => {
                return Err(PlatformError::unsupported("this check is not built yet in this version of Warden"));
            }
        })
    }

    fn system_account(
        &self,
        _requested: &IntegrationSpec,
        _current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        Err(PlatformError::unsupported("automatic setup of Snowflake is not built yet in this version of Warden"))
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        // A manual integration's platform side is the administrator's (the scripts).
        if change.privileged().is_none() {
            return Ok(Applied::NOTHING);
        }
        Err(PlatformError::unsupported("automatic setup of Snowflake is not built yet in this version of Warden"))
    }
}
