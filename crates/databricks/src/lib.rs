//! Warden's Databricks Unity Catalog adapter, reached only over the workspace's REST APIs
//! ([`client`]): the service principal signs in with a personal access token or OAuth M2M,
//! through `proxyOptions` when given (`connect`). The three checks of the API reference §4:
//! the connection (SCIM `Me` as the principal, the SQL warehouse of `httpPath`, and every
//! additional workspace with its own credentials); the manual catalog setup (the catalog
//! exists and the principal owns it; each additional workspace's catalogs exist); the
//! metastore (the workspace's current metastore assignment; a workspace without one fails
//! the test, a lookup that fails otherwise aborts the request with the 422 `Processing
//! Error`). An automatic setup (`setup`) runs as the stored principal itself
//! ([`SetupModel::OwnIdentity`]): no request carries credentials.

pub mod client;
mod connect;
mod setup;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use warden_model::config::DatabricksConfig;
use warden_model::{ErrorCode, IntegrationSpec, IntegrationType, PlatformConfig};
use warden_platform::catalogue::DatabricksTest;
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, Descriptor, ErrorKind, Phase, Platform, PlatformError, Session,
    SetupModel, TestId,
};

use crate::client::Workspace;

/// Databricks as the engine sees it.
pub static DESCRIPTOR: Descriptor = Descriptor::new(IntegrationType::Databricks, SetupModel::OwnIdentity, &[]);

/// The Databricks adapter.
#[derive(Debug, Default)]
pub struct Databricks;

/// The principal a workspace's token signs in as (SCIM `Me`).
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// `userName`: a user's e-mail, a service principal's application id.
    pub name: String,
    /// Every name the principal may be listed under as an owner.
    pub aliases: Vec<String>,
}

/// Who the token signs in as.
pub(crate) async fn principal(workspace: &Workspace) -> Result<Principal, PlatformError> {
    let me = workspace.get("/api/2.0/preview/scim/v2/Me").await?;
    let name = me["userName"]
        .as_str()
        .or_else(|| me["applicationId"].as_str())
        .ok_or_else(|| PlatformError::other("SCIM Me answered without a userName"))?
        .to_owned();
    let aliases = ["userName", "applicationId", "displayName", "id"]
        .iter()
        .filter_map(|field| me[*field].as_str().map(str::to_owned))
        .collect();
    Ok(Principal { name, aliases })
}

/// What the checks of one run share.
struct Run {
    workspace: Workspace,
    principal: Principal,
}

fn config(spec: &IntegrationSpec) -> Result<&DatabricksConfig, PlatformError> {
    match &spec.config {
        PlatformConfig::Databricks(config) => Ok(config),
        _ => Err(PlatformError::unsupported("the Databricks adapter was given another platform's config")),
    }
}

/// A catalog's path in the Unity Catalog API.
pub(crate) fn catalog_path(name: &str) -> String {
    format!("/api/2.1/unity-catalog/catalogs/{}", url_segment(name))
}

/// `name` as one URL path segment (catalog names are letters, digits and `_`; anything else
/// is percent-encoded).
pub(crate) fn url_segment(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The connection check beyond `Me`: the SQL warehouse of `http_path` on `workspace`.
async fn warehouse(workspace: &Workspace, http_path: &str) -> Result<Option<String>, PlatformError> {
    let Some(id) = connect::warehouse_id(http_path) else {
        return Ok(Some(format!(
            "(httpPath {http_path} is not a SQL warehouse's path (/sql/1.0/warehouses/<id>), so Warden cannot run statements there, such as detaching its masks and row filters before a delete)"
        )));
    };
    workspace.get(&format!("/api/2.0/sql/warehouses/{}", url_segment(id))).await?;
    Ok(None)
}

async fn connection(context: &CheckContext, config: &DatabricksConfig) -> Result<CheckOutcome, PlatformError> {
    let run = context.session::<Run>()?;
    let mut warnings = Vec::new();
    match warehouse(&run.workspace, config.http_path.as_str()).await {
        Ok(Some(warning)) => warnings.push(warning),
        Ok(None) => {}
        Err(error) => return Ok(CheckOutcome::failed(format!("(the SQL warehouse of httpPath: {error})"))),
    }
    let additional = connect::additional_workspaces(config)?;
    for ((host, workspace, _), connection) in additional.iter().zip(&config.additional_workspace_connections) {
        if let Err(error) = principal(workspace).await {
            return Ok(CheckOutcome::failed(format!("(additional workspace {host}: {error})")));
        }
        match warehouse(workspace, connection.http_path.as_str()).await {
            Ok(Some(warning)) => warnings.push(format!("additional workspace {host}: {warning}")),
            Ok(None) => {}
            Err(error) => return Ok(CheckOutcome::failed(format!("(additional workspace {host}: {error})"))),
        }
    }
    Ok(if warnings.is_empty() { CheckOutcome::Passed } else { CheckOutcome::Warning(warnings.join("; ")) })
}

async fn manual_catalog(context: &CheckContext, config: &DatabricksConfig) -> Result<CheckOutcome, PlatformError> {
    let run = context.session::<Run>()?;
    let catalog = config.catalog.as_str();
    let found = match run.workspace.get(&catalog_path(catalog)).await {
        Ok(found) => found,
        Err(error) => return Ok(CheckOutcome::failed(format!("({error})"))),
    };
    let owner = found["owner"].as_str().unwrap_or_default();
    if !run.principal.aliases.iter().any(|alias| alias == owner) {
        return Ok(CheckOutcome::failed(format!(
            "(catalog {catalog} is owned by {owner}, not by {}, the principal Warden signs in as: run the create script's ALTER CATALOG ... OWNER TO)",
            run.principal.name
        )));
    }
    for (host, workspace, catalogs) in connect::additional_workspaces(config)? {
        for catalog in catalogs {
            if let Err(error) = workspace.get(&catalog_path(&catalog)).await {
                return Ok(CheckOutcome::failed(format!("(additional workspace {host}: {error})")));
            }
        }
    }
    Ok(CheckOutcome::Passed)
}

async fn metastore(context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
    let run = context.session::<Run>()?;
    match run.workspace.get("/api/2.1/unity-catalog/current-metastore-assignment").await {
        Ok(assignment) if assignment["metastore_id"].as_str().is_some_and(|id| !id.is_empty()) => {
            Ok(CheckOutcome::Passed)
        }
        Ok(_) => Ok(CheckOutcome::failed("(the workspace's metastore assignment names no metastore)")),
        Err(error) if error.kind() == Some(ErrorKind::NotFound) => Ok(CheckOutcome::failed(format!("({error})"))),
        Err(error) => {
            tracing::warn!(%error, "the current metastore could not be read");
            Ok(CheckOutcome::Abort(ErrorCode::MetastoreLookupFailed))
        }
    }
}

#[async_trait]
impl Platform for Databricks {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    async fn open(&self, spec: &IntegrationSpec, _phase: Phase) -> Result<Session, PlatformError> {
        let workspace = connect::main_workspace(config(spec)?)?;
        let principal = principal(&workspace).await?;
        Ok(Session::new(Run { workspace, principal }))
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        let TestId::Databricks(test) = test else { return Err(PlatformError::UnknownCheck(format!("{test:?}"))) };
        let config = config(&context.spec)?;
        match test {
            DatabricksTest::Connection => connection(context, config).await,
            DatabricksTest::ManualCatalogSetup => manual_catalog(context, config).await,
            DatabricksTest::Metastore => metastore(context).await,
        }
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        // A manual integration's platform side is the administrator's (the scripts).
        if !change.spec().auto_bootstrap {
            return Ok(Applied::NOTHING);
        }
        let workspace = connect::main_workspace(config(change.spec())?)?;
        Ok(match change {
            Change::Create { spec, .. } => {
                Applied::with_state(setup::state(&setup::create(&workspace, config(spec)?).await?))
            }
            Change::Edit { from, to, state, .. } => {
                let granted = setup::remembered(state);
                Applied::with_state(setup::state(&setup::edit(&workspace, config(from)?, config(to)?, granted).await?))
            }
            Change::Delete { spec, state, .. } | Change::Cleanup { spec, state, .. } => {
                setup::remove(&workspace, spec, &setup::remembered(state)).await?;
                Applied::NOTHING
            }
            // The adapter's objects are at their first version.
            Change::Migrate { .. } => Applied::NOTHING,
        })
    }
}

/// `PATCH /permissions/<kind>/<name>` adding or removing `privileges` of `principal`.
pub(crate) async fn grant(
    workspace: &Workspace,
    kind: &str,
    name: &str,
    principal: &str,
    privileges: &[&str],
    add: bool,
) -> Result<Value, PlatformError> {
    let change = if add {
        serde_json::json!({"principal": principal, "add": privileges})
    } else {
        serde_json::json!({"principal": principal, "remove": privileges})
    };
    let path = format!("/api/2.1/unity-catalog/permissions/{kind}/{}", url_segment(name));
    workspace.call(Method::PATCH, &path, Some(&serde_json::json!({"changes": [change]}))).await
}
