//! Databricks Unity Catalog scripts (SCRIPTS.md "Databricks Unity Catalog"). Warden's
//! catalog is owned by its service principal; with audit on, the principal reads the system
//! tables. There is no connection target: a SQL warehouse reaches every catalog.

use warden_model::config::{DatabricksAuthentication, DatabricksConfig};

use crate::{Dialect, Draft, Ident, ScriptError, ScriptKind};

/// The placeholder for a principal the config does not name (token authentication).
const PRINCIPAL_PLACEHOLDER: &str = "replace-with-the-service-principal-application-id";

/// Warden's schemas in its catalog: its own tables, and the functions of its masks and
/// row filters.
pub const SCHEMAS: [&str; 2] = ["warden_system", "warden_policies"];

/// The system tables audit reads, by schema.
pub const AUDIT_TABLES: [(&str, &str); 4] =
    [("access", "audit"), ("access", "table_lineage"), ("access", "column_lineage"), ("query", "history")];

struct Names {
    catalog: Ident,
    principal: Ident,
    principal_known: bool,
}

fn names(config: &DatabricksConfig) -> Result<Names, ScriptError> {
    let d = Dialect::Databricks;
    let (principal, principal_known) = match &config.authentication {
        DatabricksAuthentication::OAuthM2M { o_auth_client_config } => {
            (d.ident("config.oAuthClientConfig.clientId", &o_auth_client_config.client_id)?, true)
        }
        DatabricksAuthentication::Token { .. } => (d.ident("config.token", PRINCIPAL_PLACEHOLDER)?, false),
    };
    Ok(Names { catalog: d.ident("config.catalog", config.catalog.as_str())?, principal, principal_known })
}

pub(crate) fn build(kind: ScriptKind, to: &DatabricksConfig, from: &DatabricksConfig) -> Result<Draft, ScriptError> {
    let n = names(to)?;
    let run_as = if to.audit.enabled {
        "an account admin with CREATE CATALOG on the metastore who is also a metastore admin (for the system tables)"
    } else {
        "an account admin with CREATE CATALOG on the metastore"
    };
    let mut draft = Draft::new(Dialect::Databricks, run_as);
    if !n.principal_known {
        draft.note(format!(
            "config uses a token, which does not name its service principal: replace {PRINCIPAL_PLACEHOLDER} with the principal's application id."
        ));
    }
    match kind {
        ScriptKind::Create => create(&mut draft, to, &n),
        ScriptKind::Edit => edit(&mut draft, to, from, &n),
        ScriptKind::Delete | ScriptKind::Cleanup => delete(&mut draft, &n),
        ScriptKind::InitialCreate | ScriptKind::PostCleanup => {}
    }
    Ok(draft)
}

fn create(d: &mut Draft, config: &DatabricksConfig, n: &Names) {
    d.summarise(format!(
        "catalog {}, owned by the service principal, with schemas {}",
        n.catalog.name(),
        SCHEMAS.join(", ")
    ));
    d.explain("Warden's catalog.", format!("CREATE CATALOG IF NOT EXISTS {}", n.catalog));
    for schema in SCHEMAS {
        d.run(format!("CREATE SCHEMA IF NOT EXISTS {}.`{schema}`", n.catalog));
    }
    d.run(format!("ALTER CATALOG {} OWNER TO {}", n.catalog, n.principal));
    if config.audit.enabled {
        audit(d, n, true);
    }
}

fn audit(d: &mut Draft, n: &Names, on: bool) {
    let (verb, to) = if on { ("GRANT", "TO") } else { ("REVOKE", "FROM") };
    d.summarise(if on {
        "read access to the audit and lineage system tables"
    } else {
        "removes read access to the system tables"
    });
    d.explain(
        "Query audit reads the system tables.",
        format!("{verb} USE CATALOG ON CATALOG `system` {to} {}", n.principal),
    );
    for schema in ["access", "query"] {
        d.run(format!("{verb} USE SCHEMA ON SCHEMA `system`.`{schema}` {to} {}", n.principal));
    }
    for (schema, table) in AUDIT_TABLES {
        d.run(format!("{verb} SELECT ON TABLE `system`.`{schema}`.`{table}` {to} {}", n.principal));
    }
}

fn edit(d: &mut Draft, to: &DatabricksConfig, from: &DatabricksConfig, n: &Names) {
    if from.audit.enabled == to.audit.enabled {
        d.summarise("nothing: the change is Warden's configuration only");
        d.connect("(any)");
        return;
    }
    audit(d, n, to.audit.enabled);
}

fn delete(d: &mut Draft, n: &Names) {
    let catalog = Dialect::Databricks.literal(n.catalog.name());
    d.summarise(format!("Warden's row filters and column masks, then catalog {}", n.catalog.name()))
        .note("Tables keep working once their Warden masks and filters are detached; run the statements the first two queries return before the DROP.");
    d.explain(
        "Lists the statements that detach Warden's column masks (functions in Warden's catalog) from every table.",
        format!(
            "SELECT concat('ALTER TABLE `', replace(table_catalog, '`', '``'), '`.`', replace(table_schema, '`', '``'), '`.`', replace(table_name, '`', '``'), '` ALTER COLUMN `', replace(column_name, '`', '``'), '` DROP MASK;') AS statement FROM `system`.`information_schema`.`column_masks` WHERE mask_catalog = {catalog}"
        ),
    )
    .explain(
        "Lists the statements that detach Warden's row filters.",
        format!(
            "SELECT concat('ALTER TABLE `', replace(table_catalog, '`', '``'), '`.`', replace(table_schema, '`', '``'), '`.`', replace(table_name, '`', '``'), '` DROP ROW FILTER;') AS statement FROM `system`.`information_schema`.`row_filters` WHERE filter_catalog = {catalog}"
        ),
    )
    .run(format!("DROP CATALOG IF EXISTS {} CASCADE", n.catalog));
}
