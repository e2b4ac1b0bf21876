//! Azure Synapse Analytics scripts (SCRIPTS.md "Azure Synapse Analytics"), in T-SQL for a
//! dedicated SQL pool. A connection cannot switch database, so the login (in `master`) and
//! the database objects are separate parts. `CREATE SCHEMA` must open its batch, so it runs
//! through `EXEC` behind an existence check, which keeps the script re-runnable.

use warden_model::config::{SynapseAuthentication, SynapseConfig};

use crate::{Dialect, Draft, Ident, ScriptError, ScriptKind};

const SCHEMAS: [&str; 3] = ["warden_system", "warden_functions", "warden_procedures"];
const MASTER: &str = "master";

struct Names {
    database: Ident,
    user: Ident,
    role: Ident,
    /// Warden's schemas, then the configured view schema.
    schemas: Vec<Ident>,
}

fn names(config: &SynapseConfig) -> Result<Names, ScriptError> {
    let d = Dialect::Tsql;
    let SynapseAuthentication::UserPassword { username, .. } = &config.authentication;
    let mut schemas: Vec<Ident> = SCHEMAS.iter().map(|s| d.ident("config.schema", s)).collect::<Result<_, _>>()?;
    schemas.push(d.ident("config.schema", &config.schema)?);
    Ok(Names {
        database: d.ident("config.database", &config.database)?,
        user: d.ident("config.username", username)?,
        role: d.ident("config.impersonation.role", &config.impersonation.role)?,
        schemas,
    })
}

pub(crate) fn build(kind: ScriptKind, to: &SynapseConfig, from: &SynapseConfig) -> Result<Draft, ScriptError> {
    let n = names(to)?;
    let mut draft = Draft::new(
        Dialect::Tsql,
        "a user who can create logins (in master) and manage users, schemas and grants in the database",
    );
    match kind {
        ScriptKind::InitialCreate => initial_create(&mut draft, to, &n),
        ScriptKind::Create => create(&mut draft, to, &n),
        ScriptKind::Edit => edit(&mut draft, to, from, &n),
        ScriptKind::Cleanup => cleanup(&mut draft, to, &n),
        ScriptKind::PostCleanup => post_cleanup(&mut draft, &n),
        ScriptKind::Delete => {
            cleanup(&mut draft, to, &n);
            post_cleanup(&mut draft, &n);
        }
    }
    Ok(draft)
}

fn literal(text: &str) -> String {
    Dialect::Tsql.literal(text)
}

fn initial_create(d: &mut Draft, config: &SynapseConfig, n: &Names) {
    let SynapseAuthentication::UserPassword { password, .. } = &config.authentication;
    d.summarise(format!("login {} (Warden's system account)", n.user.name()))
        .note("The system account's password is the one in this script (config.password).")
        .note(format!("Then run the create script connected to {}.", n.database.name()));
    d.connect(MASTER).run(format!(
        "IF NOT EXISTS (SELECT 1 FROM sys.sql_logins WHERE name = {}) CREATE LOGIN {} WITH PASSWORD = {}",
        literal(n.user.name()),
        n.user,
        literal(password.expose())
    ));
}

fn schema_create(n: &Names, schema: &Ident) -> String {
    let inner = format!("CREATE SCHEMA {schema} AUTHORIZATION {}", n.user);
    format!("IF SCHEMA_ID({}) IS NULL EXEC({})", literal(schema.name()), literal(&inner))
}

fn create(d: &mut Draft, config: &SynapseConfig, n: &Names) {
    let names: Vec<&str> = n.schemas.iter().map(Ident::name).collect();
    d.summarise(format!("user {} for the login", n.user.name()))
        .summarise(format!("schemas {}, owned by the system account", names.join(", ")))
        .note("Run the initial-create script (connected to master) first.")
        .note("User profile data is stored with config.metadataDelimiters, which cannot change after creation.");
    if config.impersonation.enabled {
        d.summarise(format!("impersonation role {}", n.role.name()));
    }
    d.connect(n.database.name()).run(format!(
        "IF DATABASE_PRINCIPAL_ID({}) IS NULL CREATE USER {} FOR LOGIN {}",
        literal(n.user.name()),
        n.user,
        n.user
    ));
    for schema in &n.schemas {
        d.run(schema_create(n, schema));
    }
    d.explain(
        "Warden creates its views, functions, procedures and tables itself.",
        format!("GRANT CREATE VIEW, CREATE FUNCTION, CREATE PROCEDURE, CREATE TABLE TO {}", n.user),
    );
    if config.impersonation.enabled {
        impersonation_on(d, n);
    }
}

fn impersonation_on(d: &mut Draft, n: &Names) {
    d.run(format!(
        "IF DATABASE_PRINCIPAL_ID({}) IS NULL CREATE ROLE {} AUTHORIZATION {}",
        literal(n.role.name()),
        n.role,
        n.user
    ));
}

fn edit(d: &mut Draft, to: &SynapseConfig, from: &SynapseConfig, n: &Names) {
    d.connect(n.database.name());
    match (from.impersonation.enabled, to.impersonation.enabled) {
        (false, true) => {
            d.summarise(format!("impersonation role {}", n.role.name()));
            impersonation_on(d, n);
        }
        (true, false) => {
            d.summarise(format!("removes impersonation role {}", n.role.name()));
            d.run(format!("IF DATABASE_PRINCIPAL_ID({}) IS NOT NULL DROP ROLE {}", literal(n.role.name()), n.role));
        }
        _ => {
            d.summarise("nothing: the change is Warden's configuration only");
        }
    }
}

fn cleanup(d: &mut Draft, config: &SynapseConfig, n: &Names) {
    let names: Vec<String> = n.schemas.iter().map(|s| literal(s.name())).collect();
    d.summarise(format!(
        "everything in schemas {}, the schemas, the role and user {}",
        names.join(", "),
        n.user.name()
    ))
    .note("Objects already gone are skipped, so the script can run again after a partial failure.");
    d.connect(n.database.name());
    d.explain(
        "Drop every view, procedure, function and table in Warden's schemas so the schemas can go.",
        "DECLARE @drop NVARCHAR(MAX)".to_owned(),
    )
    .run(format!(
        "SELECT @drop = STRING_AGG(CAST(N'DROP ' + CASE o.type WHEN 'V' THEN N'VIEW' WHEN 'P' THEN N'PROCEDURE' WHEN 'U' THEN N'TABLE' ELSE N'FUNCTION' END + N' ' + QUOTENAME(s.name) + N'.' + QUOTENAME(o.name) AS NVARCHAR(MAX)), N'; ') FROM sys.objects AS o JOIN sys.schemas AS s ON o.schema_id = s.schema_id WHERE s.name IN ({}) AND o.type IN ('V', 'P', 'U', 'FN', 'IF', 'TF')",
        names.join(", ")
    ))
    .run("IF @drop IS NOT NULL EXEC sp_executesql @drop".to_owned());
    for schema in &n.schemas {
        d.run(format!("IF SCHEMA_ID({}) IS NOT NULL DROP SCHEMA {schema}", literal(schema.name())));
    }
    if config.impersonation.enabled {
        d.run(format!("IF DATABASE_PRINCIPAL_ID({}) IS NOT NULL DROP ROLE {}", literal(n.role.name()), n.role));
    }
    d.run(format!("IF DATABASE_PRINCIPAL_ID({}) IS NOT NULL DROP USER {}", literal(n.user.name()), n.user));
}

fn post_cleanup(d: &mut Draft, n: &Names) {
    d.summarise(format!("login {}", n.user.name()));
    d.connect(MASTER).run(format!(
        "IF EXISTS (SELECT 1 FROM sys.sql_logins WHERE name = {}) DROP LOGIN {}",
        literal(n.user.name()),
        n.user
    ));
}
