//! Snowflake scripts (SCRIPTS.md "Snowflake"). Names are quoted, so they keep exactly the
//! case configured; the names Warden derives (`<DB>_SYSTEM`, `<DB>_SYSTEM_ACCOUNT`) follow the
//! database's case. Objects are created as SYSADMIN, users and roles as USERADMIN, grants
//! as SECURITYADMIN.

use warden_model::config::{SnowflakeAuthentication, SnowflakeConfig};

use crate::{Created, Dialect, Draft, Ident, ScriptError, ScriptKind, rsa_key};

const SCHEMAS: [&str; 4] = ["WARDEN_PROCEDURES", "WARDEN_FUNCTIONS", "WARDEN_SYSTEM", "WARDEN_POLICIES"];
/// The prefix of the per-user roles Warden creates for table grants (the delete script drops
/// every role with it, so two Warden instances on one account must not share it).
pub const USER_ROLE_PREFIX: &str = "WARDEN_USER_";

struct Names {
    database: Ident,
    system_role: Ident,
    user: Ident,
    warehouse: Ident,
    impersonation: Ident,
    schemas: Vec<Ident>,
}

fn names(config: &SnowflakeConfig) -> Result<Names, ScriptError> {
    let d = Dialect::Snowflake;
    let db = &config.database;
    let user = match &config.authentication {
        SnowflakeAuthentication::UserPassword { username, .. } | SnowflakeAuthentication::KeyPair { username, .. } => {
            d.ident("config.username", username)?
        }
        SnowflakeAuthentication::OAuthClientCredentials { .. } => {
            d.ident("config.database", &format!("{db}_SYSTEM_ACCOUNT"))?
        }
    };
    Ok(Names {
        database: d.ident_in_block("config.database", db)?,
        system_role: d.ident("config.database", &format!("{db}_SYSTEM"))?,
        user,
        warehouse: d.ident("config.warehouse", &config.warehouse)?,
        impersonation: d.ident("config.impersonation.role", &config.impersonation.role)?,
        schemas: SCHEMAS.iter().map(|s| d.ident("config.database", s)).collect::<Result<_, _>>()?,
    })
}

pub(crate) fn build(kind: ScriptKind, to: &SnowflakeConfig, from: &SnowflakeConfig) -> Result<Draft, ScriptError> {
    let n = names(to)?;
    let run_as = match &to.role {
        Some(role) => format!("role {role} (ACCOUNTADMIN or a role with CREATE DATABASE, CREATE ROLE, CREATE USER, MANAGE GRANTS and APPLY MASKING/ROW ACCESS POLICY)"),
        None => "ACCOUNTADMIN (or a role with CREATE DATABASE, CREATE ROLE, CREATE USER, MANAGE GRANTS and APPLY MASKING/ROW ACCESS POLICY)".to_owned(),
    };
    let mut draft = Draft::new(Dialect::Snowflake, run_as);
    match kind {
        ScriptKind::Create => create(&mut draft, to, &n)?,
        ScriptKind::Edit => edit(&mut draft, to, from, &n)?,
        ScriptKind::Cleanup => remove(&mut draft, to, &n, false),
        ScriptKind::Delete => remove(&mut draft, to, &n, true),
        ScriptKind::InitialCreate | ScriptKind::PostCleanup => {}
    }
    Ok(draft)
}

fn create(d: &mut Draft, config: &SnowflakeConfig, n: &Names) -> Result<(), ScriptError> {
    let s = Dialect::Snowflake;
    d.summarise(format!("database {} with schemas {}", n.database.name(), SCHEMAS.join(", ")))
        .summarise(format!("role {} and user {}", n.system_role.name(), n.user.name()))
        .summarise("account grants for policies, grants and roles; USAGE on the warehouse");
    if config.impersonation.enabled {
        d.summarise(format!("impersonation role {}", n.impersonation.name()));
    }
    match &config.authentication {
        SnowflakeAuthentication::UserPassword { .. } => {
            d.note("The system account's password is the one in this script (config.password).");
        }
        SnowflakeAuthentication::KeyPair { .. } => {
            d.note("The system account is a service user (TYPE = SERVICE) that signs in with the key pair of config.privateKey; the script holds its public key only.");
        }
        SnowflakeAuthentication::OAuthClientCredentials { .. } => {
            d.note("Map the OAuth client's identity to this user in your security integration.");
        }
    }
    d.run("USE ROLE SYSADMIN".to_owned())
        .explain("Warden's database and schemas.", format!("CREATE DATABASE IF NOT EXISTS {}", n.database))
        .creating(Created::Database(n.database.name().to_owned()));
    for schema in &n.schemas {
        d.run(format!("CREATE SCHEMA IF NOT EXISTS {}.{schema}", n.database));
    }
    let system = format!("{}.{}", n.database, n.schemas[2]);
    d.explain(
        "Roles and users excluded from authorization checks (config.userRolePattern.exclude).",
        format!("CREATE TABLE IF NOT EXISTS {system}.\"ALLOW_LIST\" (\"NAME\" VARCHAR NOT NULL)"),
    )
    .run(format!(
        "CREATE TABLE IF NOT EXISTS {system}.\"PROFILES\" (\"USER_NAME\" VARCHAR NOT NULL, \"PROFILE\" VARIANT)"
    ))
    .run(format!("CREATE TABLE IF NOT EXISTS {system}.\"VERSION\" (\"VERSION\" VARCHAR NOT NULL)"));
    allow_list(d, config, n);
    d.run("USE ROLE USERADMIN".to_owned())
        .run(format!("CREATE ROLE IF NOT EXISTS {}", n.system_role))
        .creating(Created::Group(n.system_role.name().to_owned()));
    let credentials = match &config.authentication {
        SnowflakeAuthentication::UserPassword { password, .. } => {
            format!(" PASSWORD = {}", s.literal(password.expose()))
        }
        SnowflakeAuthentication::KeyPair { private_key, private_key_password, .. } => {
            let key = rsa_key(private_key, private_key_password.as_ref())?;
            format!(" TYPE = SERVICE RSA_PUBLIC_KEY = {}", s.literal(&key.public_key_base64()))
        }
        SnowflakeAuthentication::OAuthClientCredentials { .. } => " TYPE = SERVICE".to_owned(),
    };
    d.explain(
        "Warden's system account.",
        format!(
            "CREATE USER IF NOT EXISTS {}{credentials} DEFAULT_ROLE = {} DEFAULT_NAMESPACE = {} DEFAULT_WAREHOUSE = {}",
            n.user, n.system_role, n.database, n.warehouse
        ),
    )
    .creating(Created::User(n.user.name().to_owned()));
    if config.impersonation.enabled {
        d.run(format!("CREATE ROLE IF NOT EXISTS {}", n.impersonation))
            .creating(Created::Group(n.impersonation.name().to_owned()));
    }
    d.run("USE ROLE SECURITYADMIN".to_owned()).explain(
        "The system role owns what Warden made.",
        format!("GRANT OWNERSHIP ON USER {} TO ROLE {} COPY CURRENT GRANTS", n.user, n.system_role),
    );
    if config.impersonation.enabled {
        d.run(format!("GRANT OWNERSHIP ON ROLE {} TO ROLE {} COPY CURRENT GRANTS", n.impersonation, n.system_role));
    }
    d.run(format!("GRANT ROLE {} TO USER {}", n.system_role, n.user))
        .explain(
            "Warden applies masking and row access policies and manages table grants and per-user roles.",
            format!("GRANT APPLY MASKING POLICY ON ACCOUNT TO ROLE {}", n.system_role),
        )
        .run(format!("GRANT APPLY ROW ACCESS POLICY ON ACCOUNT TO ROLE {}", n.system_role))
        .run(format!("GRANT MANAGE GRANTS ON ACCOUNT TO ROLE {}", n.system_role))
        .run(format!("GRANT CREATE ROLE ON ACCOUNT TO ROLE {}", n.system_role))
        .run(format!("GRANT OWNERSHIP ON DATABASE {} TO ROLE {} COPY CURRENT GRANTS", n.database, n.system_role))
        .run(format!(
            "GRANT OWNERSHIP ON ALL SCHEMAS IN DATABASE {} TO ROLE {} COPY CURRENT GRANTS",
            n.database, n.system_role
        ))
        .run(format!("GRANT USAGE ON WAREHOUSE {} TO ROLE {}", n.warehouse, n.system_role));
    if config.audit.enabled {
        audit_on(d, n);
    }
    if config.workspaces.enabled {
        for warehouse in &config.workspaces.warehouses {
            workspace_warehouse(d, n, warehouse, true)?;
        }
    }
    Ok(())
}

fn allow_list(d: &mut Draft, config: &SnowflakeConfig, n: &Names) {
    let table = format!("{}.{}.\"ALLOW_LIST\"", n.database, n.schemas[2]);
    d.run(format!("DELETE FROM {table}"));
    if !config.user_role_pattern.exclude.is_empty() {
        let values: Vec<String> = config
            .user_role_pattern
            .exclude
            .iter()
            .map(|name| format!("({})", Dialect::Snowflake.literal(name)))
            .collect();
        d.run(format!("INSERT INTO {table} (\"NAME\") VALUES {}", values.join(", ")));
    }
}

fn audit_on(d: &mut Draft, n: &Names) {
    d.explain(
        "Query audit and lineage read SNOWFLAKE.ACCOUNT_USAGE.",
        format!("GRANT IMPORTED PRIVILEGES ON DATABASE \"SNOWFLAKE\" TO ROLE {}", n.system_role),
    );
}

/// Workspace users run queries on these warehouses through Warden's system role; Warden
/// creates the workspace databases itself, inside its own database, so no further account
/// privilege is granted (SCRIPTS.md leaves the rest to decide).
fn workspace_warehouse(d: &mut Draft, n: &Names, warehouse: &str, on: bool) -> Result<(), ScriptError> {
    let warehouse = Dialect::Snowflake.ident("config.workspaces.warehouses", warehouse)?;
    if on {
        d.run(format!("GRANT USAGE ON WAREHOUSE {warehouse} TO ROLE {}", n.system_role));
    } else {
        d.run(format!("REVOKE USAGE ON WAREHOUSE {warehouse} FROM ROLE {}", n.system_role));
    }
    Ok(())
}

fn edit(d: &mut Draft, to: &SnowflakeConfig, from: &SnowflakeConfig, n: &Names) -> Result<(), ScriptError> {
    d.run("USE ROLE SECURITYADMIN".to_owned());
    let mut changed = false;
    if from.audit.enabled != to.audit.enabled {
        changed = true;
        if to.audit.enabled {
            d.summarise("query audit on");
            audit_on(d, n);
        } else {
            d.summarise("query audit off");
            d.run(format!("REVOKE IMPORTED PRIVILEGES ON DATABASE \"SNOWFLAKE\" FROM ROLE {}", n.system_role));
        }
    }
    if from.impersonation.enabled != to.impersonation.enabled || from.impersonation.role != to.impersonation.role {
        changed = true;
        if from.impersonation.enabled {
            let old = Dialect::Snowflake.ident("config.impersonation.role", &from.impersonation.role)?;
            d.summarise(format!("impersonation role {} removed", old.name()));
            d.run(format!("DROP ROLE IF EXISTS {old}"));
        }
        if to.impersonation.enabled {
            d.summarise(format!("impersonation role {} created", n.impersonation.name()));
            d.run("USE ROLE USERADMIN".to_owned())
                .run(format!("CREATE ROLE IF NOT EXISTS {}", n.impersonation))
                .run("USE ROLE SECURITYADMIN".to_owned())
                .run(format!(
                    "GRANT OWNERSHIP ON ROLE {} TO ROLE {} COPY CURRENT GRANTS",
                    n.impersonation, n.system_role
                ));
        }
    }
    let before: Vec<&String> =
        if from.workspaces.enabled { from.workspaces.warehouses.iter().collect() } else { Vec::new() };
    let after: Vec<&String> =
        if to.workspaces.enabled { to.workspaces.warehouses.iter().collect() } else { Vec::new() };
    for added in after.iter().filter(|w| !before.contains(w)) {
        changed = true;
        d.summarise(format!("workspace warehouse {added} added"));
        workspace_warehouse(d, n, added, true)?;
    }
    for removed in before.iter().filter(|w| !after.contains(w)) {
        changed = true;
        d.summarise(format!("workspace warehouse {removed} removed"));
        workspace_warehouse(d, n, removed, false)?;
    }
    if from.user_role_pattern != to.user_role_pattern {
        changed = true;
        d.summarise("excluded roles and users rewritten");
        d.run("USE ROLE SYSADMIN".to_owned());
        allow_list(d, to, n);
    }
    if !changed {
        d.summary.clear();
        d.summarise("nothing: the change is Warden's configuration only");
        d.parts.clear();
        d.connect("(any)");
    }
    Ok(())
}

fn remove(d: &mut Draft, config: &SnowflakeConfig, n: &Names, delete: bool) {
    d.summarise(format!("database {}, user {}, role {}", n.database.name(), n.user.name(), n.system_role.name()))
        .summarise(format!("per-user roles {USER_ROLE_PREFIX}*"))
        .note("Objects already gone are skipped, so the script can run again after a partial failure.");
    if config.impersonation.enabled {
        d.summarise(format!("impersonation role {}", n.impersonation.name()));
    }
    d.run("USE ROLE ACCOUNTADMIN".to_owned());
    if delete {
        let db = Dialect::Snowflake.literal(n.database.name());
        d.explain(
            "Policies in Warden's database cannot be dropped while tables use them: detach them first.\nACCOUNT_USAGE lags by up to two hours; for a just-attached policy, run the script again later.",
            format!(
                "EXECUTE IMMEDIATE $$\nDECLARE\n  refs CURSOR FOR SELECT ref_database_name, ref_schema_name, ref_entity_name, ref_column_name, policy_kind, policy_name FROM \"SNOWFLAKE\".\"ACCOUNT_USAGE\".\"POLICY_REFERENCES\" WHERE policy_db = {db};\nBEGIN\n  FOR r IN refs DO\n    LET target VARCHAR := '\"' || REPLACE(r.ref_database_name, '\"', '\"\"') || '\".\"' || REPLACE(r.ref_schema_name, '\"', '\"\"') || '\".\"' || REPLACE(r.ref_entity_name, '\"', '\"\"') || '\"';\n    IF (r.policy_kind = 'MASKING_POLICY') THEN\n      EXECUTE IMMEDIATE 'ALTER TABLE ' || target || ' MODIFY COLUMN \"' || REPLACE(r.ref_column_name, '\"', '\"\"') || '\" UNSET MASKING POLICY';\n    ELSE\n      EXECUTE IMMEDIATE 'ALTER TABLE ' || target || ' DROP ALL ROW ACCESS POLICIES';\n    END IF;\n  END FOR;\nEND;\n$$"
            ),
        );
    }
    d.run(format!("DROP DATABASE IF EXISTS {}", n.database)).run(format!("DROP USER IF EXISTS {}", n.user));
    if config.impersonation.enabled {
        d.run(format!("DROP ROLE IF EXISTS {}", n.impersonation));
    }
    let pattern = Dialect::Snowflake.literal(&format!("{}%", USER_ROLE_PREFIX.replace('_', "\\_")));
    d.explain(
        "The per-user roles Warden created for table grants.",
        format!(
            "EXECUTE IMMEDIATE $$\nDECLARE\n  roles RESULTSET DEFAULT (SHOW ROLES LIKE {pattern});\n  c CURSOR FOR roles;\nBEGIN\n  FOR r IN c DO\n    EXECUTE IMMEDIATE 'DROP ROLE IF EXISTS \"' || REPLACE(r.\"name\", '\"', '\"\"') || '\"';\n  END FOR;\nEND;\n$$"
        ),
    )
    .run(format!("DROP ROLE IF EXISTS {}", n.system_role));
}

/// What undoes a failed automatic setup: the objects it had created, and nothing else,
/// dropped by the role that runs the removal scripts.
pub(crate) fn undo(created: &[Created]) -> Result<Draft, ScriptError> {
    let d = Dialect::Snowflake;
    let mut draft = Draft::new(d, "ACCOUNTADMIN");
    draft.summarise("what the failed setup had created, and nothing else");
    draft.run("USE ROLE ACCOUNTADMIN".to_owned());
    for object in created.iter().rev() {
        match object {
            Created::Database(name) => {
                draft.run(format!("DROP DATABASE IF EXISTS {}", d.ident("config.database", name)?))
            }
            Created::User(name) => draft.run(format!("DROP USER IF EXISTS {}", d.ident("config.username", name)?)),
            Created::Group(name) => {
                draft.run(format!("DROP ROLE IF EXISTS {}", d.ident("config.impersonation.role", name)?))
            }
        };
    }
    Ok(draft)
}
