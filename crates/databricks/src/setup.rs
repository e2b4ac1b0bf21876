//! Automatic setup, as the stored service principal itself (it needs CREATE CATALOG on the
//! metastore, and to be a metastore admin for audit): Warden's catalog (created by the
//! principal, so owned by it) with its schemas `warden_system` and `warden_policies`, and,
//! with audit on, the system-table grants SCRIPTS.md lists, through the Unity Catalog REST
//! API. The grants Warden added (not one the principal held before) are remembered in the
//! integration's platform state (`{"auditGrants": [[type, name, privilege], ...]}`), so that
//! audit off and a removal take back exactly those. A create that fails part way removes
//! what it made: the catalog if it created it, and the grants it added. An edit applies the
//! audit difference. A removal detaches Warden's column masks and row filters from every
//! table (SQL only can: statements on the warehouse of `httpPath`), drops the catalog and
//! takes the remembered grants back, going past what is already gone.

use reqwest::Method;
use serde_json::{Value, json};
use warden_model::IntegrationSpec;
use warden_model::config::DatabricksConfig;
use warden_platform::{ErrorKind, PlatformError};
use warden_scripts::ScriptKind;

use crate::client::Workspace;
use crate::{catalog_path, connect, grant, principal, url_segment};

/// Warden's schemas in its catalog (the create script's).
const SCHEMAS: [&str; 2] = warden_scripts::DATABRICKS_SCHEMAS;

/// One grant: (securable type, full name, privilege).
type Grant = (String, String, String);

/// The grants audit needs, as SCRIPTS.md (and the create script) lists them: USE CATALOG on
/// `system`, USE SCHEMA on the schemas of the system tables, SELECT on each of them.
fn audit_grants() -> Vec<Grant> {
    let tables = warden_scripts::DATABRICKS_AUDIT_TABLES;
    let mut schemas: Vec<&str> = tables.iter().map(|(schema, _)| *schema).collect();
    schemas.dedup();
    let grant = |kind: &str, name: String, privilege: &str| (kind.to_owned(), name, privilege.to_owned());
    let mut grants: Vec<Grant> = vec![grant("catalog", "system".to_owned(), "USE_CATALOG")];
    grants.extend(schemas.into_iter().map(|schema| grant("schema", format!("system.{schema}"), "USE_SCHEMA")));
    grants.extend(tables.iter().map(|(schema, table)| grant("table", format!("system.{schema}.{table}"), "SELECT")));
    grants
}

/// The platform state that remembers `grants`.
pub(crate) fn state(grants: &[Grant]) -> Value {
    json!({"auditGrants": grants.iter().map(|(kind, name, privilege)| json!([kind, name, privilege])).collect::<Vec<_>>()})
}

/// The grants a platform state remembers (none without one).
pub(crate) fn remembered(state: Option<&Value>) -> Vec<Grant> {
    let entries = state.and_then(|s| s["auditGrants"].as_array()).cloned().unwrap_or_default();
    entries
        .iter()
        .filter_map(|entry| {
            let part = |i: usize| entry.get(i).and_then(Value::as_str).map(str::to_owned);
            Some((part(0)?, part(1)?, part(2)?))
        })
        .collect()
}

/// The privileges `principal` holds directly on a securable.
async fn held(workspace: &Workspace, kind: &str, name: &str, principal: &str) -> Result<Vec<String>, PlatformError> {
    let path =
        format!("/api/2.1/unity-catalog/permissions/{kind}/{}?principal={}", url_segment(name), url_segment(principal));
    let answer = workspace.get(&path).await?;
    Ok(answer["privilege_assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["principal"] == principal)
        .flat_map(|a| a["privileges"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect())
}

/// What a create made, for its rollback.
#[derive(Default)]
struct Made {
    catalog: bool,
    grants: Vec<Grant>,
}

/// Adds the audit grants `principal` lacks, recording each in `made`.
async fn audit_on(workspace: &Workspace, principal: &str, made: &mut Made) -> Result<(), PlatformError> {
    for (kind, name, privilege) in audit_grants() {
        if held(workspace, &kind, &name, principal).await?.contains(&privilege) {
            continue;
        }
        grant(workspace, &kind, &name, principal, &[&privilege], true).await?;
        made.grants.push((kind, name, privilege));
    }
    Ok(())
}

/// Takes the audit grants back (tolerating a securable that is gone).
async fn audit_off(workspace: &Workspace, principal: &str, grants: &[Grant]) -> Result<(), PlatformError> {
    for (kind, name, privilege) in grants.iter().rev() {
        match grant(workspace, kind, name, principal, &[privilege.as_str()], false).await {
            Err(error) if error.kind() == Some(ErrorKind::NotFound) => tracing::info!(%error, "skipping: already gone"),
            other => {
                other?;
            }
        }
    }
    Ok(())
}

async fn create_objects(
    workspace: &Workspace,
    config: &DatabricksConfig,
    made: &mut Made,
) -> Result<(), PlatformError> {
    let catalog = config.catalog.as_str();
    let principal = principal(workspace).await?;
    workspace
        .call(
            Method::POST,
            "/api/2.1/unity-catalog/catalogs",
            Some(&json!({"name": catalog, "comment": "Warden's catalog"})),
        )
        .await?;
    made.catalog = true;
    for schema in SCHEMAS {
        let body = json!({"name": schema, "catalog_name": catalog, "comment": "Warden's objects"});
        workspace.call(Method::POST, "/api/2.1/unity-catalog/schemas", Some(&body)).await?;
    }
    if config.audit.enabled {
        audit_on(workspace, &principal.name, made).await?;
    }
    Ok(())
}

/// Sets Warden up and answers the grants it added; when a step fails, removes what this
/// create made.
pub(crate) async fn create(workspace: &Workspace, config: &DatabricksConfig) -> Result<Vec<Grant>, PlatformError> {
    let mut made = Made::default();
    let Err(cause) = create_objects(workspace, config, &mut made).await else { return Ok(made.grants) };
    if !made.catalog && made.grants.is_empty() {
        return Err(PlatformError::SetupFailed { cause: Box::new(cause), rollback: None });
    }
    tracing::warn!("a Databricks setup failed part way; removing what it made");
    let mut rollback = None;
    if !made.grants.is_empty() {
        let undone = match principal(workspace).await {
            Ok(principal) => audit_off(workspace, &principal.name, &made.grants).await,
            Err(error) => Err(error),
        };
        rollback = undone.err().map(|e| e.to_string());
    }
    if made.catalog {
        let path = format!("{}?force=true", catalog_path(config.catalog.as_str()));
        if let Err(error) = workspace.call(Method::DELETE, &path, None).await {
            rollback = Some(error.to_string());
        }
    }
    Err(PlatformError::SetupFailed { cause: Box::new(cause), rollback })
}

/// Applies the difference between `from` and `to` (audit on or off) and answers the grants
/// Warden holds for the integration afterwards; `granted` are those it held before.
pub(crate) async fn edit(
    workspace: &Workspace,
    from: &DatabricksConfig,
    to: &DatabricksConfig,
    granted: Vec<Grant>,
) -> Result<Vec<Grant>, PlatformError> {
    if from.audit.enabled == to.audit.enabled {
        return Ok(granted);
    }
    let principal = principal(workspace).await?;
    if to.audit.enabled {
        let mut made = Made { catalog: false, grants: granted };
        audit_on(workspace, &principal.name, &mut made).await?;
        // Every audit grant Warden's principal holds now is remembered as Warden's, also one
        // found already there: an edit that died after granting (its state never recorded)
        // is finished by the same PUT, which finds the grants held, and they must still be
        // taken back when audit is turned off or the integration removed.
        for grant in audit_grants() {
            if !made.grants.contains(&grant) {
                made.grants.push(grant);
            }
        }
        Ok(made.grants)
    } else {
        audit_off(workspace, &principal.name, &granted).await?;
        Ok(Vec::new())
    }
}

/// Detaches Warden's masks and row filters from every table, on the warehouse of `httpPath`:
/// the delete script's two listing queries (which sqlglot's databricks dialect reads in the
/// scripts' oracle test) give the `ALTER TABLE` statements, which run one by one.
async fn detach(workspace: &Workspace, spec: &IntegrationSpec, config: &DatabricksConfig) -> Result<(), PlatformError> {
    let Some(warehouse) = connect::warehouse_id(config.http_path.as_str()) else {
        tracing::warn!(
            "httpPath names no SQL warehouse: Warden's masks and row filters are not detached before the delete"
        );
        return Ok(());
    };
    let script =
        warden_scripts::build(ScriptKind::Delete, spec, None).map_err(|e| PlatformError::unsupported(e.to_string()))?;
    for listing in script.statements().filter(|s| s.sql.starts_with("SELECT ")) {
        let rows = match workspace.execute(warehouse, listing.sql.trim_end_matches(';')).await {
            Ok(rows) => rows,
            Err(error) if error.kind() == Some(ErrorKind::NotFound) => {
                tracing::warn!(%error, "the workspace has no such system view: nothing to detach there");
                continue;
            }
            Err(error) => return Err(error),
        };
        for statement in rows.iter().filter_map(|row| row.first().and_then(Value::as_str)) {
            workspace.execute(warehouse, statement.trim_end_matches(';')).await?;
        }
    }
    Ok(())
}

/// Removes what a setup made, going past what is already gone.
pub(crate) async fn remove(
    workspace: &Workspace,
    spec: &IntegrationSpec,
    granted: &[Grant],
) -> Result<(), PlatformError> {
    let config = crate::config(spec)?;
    match workspace.get(&catalog_path(config.catalog.as_str())).await {
        Err(error) if error.kind() == Some(ErrorKind::NotFound) => tracing::info!("Warden's catalog is already gone"),
        Err(error) => return Err(error),
        Ok(_) => {
            detach(workspace, spec, config).await?;
            let path = format!("{}?force=true", catalog_path(config.catalog.as_str()));
            match workspace.call(Method::DELETE, &path, None).await {
                Err(error) if error.kind() == Some(ErrorKind::NotFound) => {}
                other => {
                    other?;
                }
            }
        }
    }
    if !granted.is_empty() {
        let principal = principal(workspace).await?;
        audit_off(workspace, &principal.name, granted).await?;
    }
    Ok(())
}
