//! Redshift scripts (SCRIPTS.md "Redshift"), written in the SQL that Redshift and
//! PostgreSQL share wherever Redshift allows it, so the same scripts run on both; the few
//! statements only Redshift has are marked `vendor_only`.

use warden_model::config::{RedshiftAuthentication, RedshiftConfig};

use crate::{Created, Dialect, Draft, Ident, PasswordForm, ScriptError, ScriptKind};

const SCHEMAS: [&str; 3] = ["warden_system", "warden_functions", "warden_procedures"];
const DEFAULT_INITIAL_DATABASE: &str = "dev";

/// The names a Redshift script uses, checked.
struct Names {
    database: Ident,
    initial: Ident,
    user: Ident,
    group: Ident,
    schemas: Vec<Ident>,
}

fn names(config: &RedshiftConfig) -> Result<Names, ScriptError> {
    let d = Dialect::Redshift;
    let user = match &config.authentication {
        RedshiftAuthentication::UserPassword { username, .. } => d.ident("config.username", username)?,
        RedshiftAuthentication::AccessKey { database_user, .. } => d.ident("config.databaseUser", database_user)?,
        RedshiftAuthentication::Okta { .. } => d.ident("config.okta", "warden_system")?,
    };
    let initial = config.initial_database.as_deref().unwrap_or(DEFAULT_INITIAL_DATABASE);
    Ok(Names {
        database: d.ident("config.database", &config.database)?,
        initial: d.ident("config.initialDatabase", initial)?,
        user,
        group: d.ident_in_block("config.impersonation.role", &config.impersonation.role)?,
        schemas: SCHEMAS.iter().map(|s| d.ident("config.database", s)).collect::<Result<_, _>>()?,
    })
}

const RUN_AS: &str = "a superuser, or a user with CREATEDB and CREATEUSER who may grant on the database (and create groups, for impersonation)";

pub(crate) fn build(
    kind: ScriptKind,
    to: &RedshiftConfig,
    from: &RedshiftConfig,
    form: PasswordForm,
) -> Result<Draft, ScriptError> {
    let n = names(to)?;
    let mut draft = Draft::new(Dialect::Redshift, RUN_AS);
    match kind {
        ScriptKind::InitialCreate => initial_create(&mut draft, to, &n, form)?,
        ScriptKind::Create => create(&mut draft, to, &n),
        ScriptKind::Edit => edit(&mut draft, to, from, &n),
        ScriptKind::Cleanup | ScriptKind::Delete => remove(&mut draft, to, &n),
        ScriptKind::PostCleanup => {}
    }
    Ok(draft)
}

fn password_clause(config: &RedshiftConfig, user: &Ident, form: PasswordForm) -> Result<String, ScriptError> {
    match &config.authentication {
        RedshiftAuthentication::UserPassword { password, .. } => {
            let written = form.render(user.name(), password.expose())?;
            Ok(format!("PASSWORD {}", Dialect::Redshift.literal(&written)))
        }
        RedshiftAuthentication::AccessKey { .. } | RedshiftAuthentication::Okta { .. } => {
            Ok("PASSWORD DISABLE".to_owned())
        }
    }
}

fn initial_create(d: &mut Draft, config: &RedshiftConfig, n: &Names, form: PasswordForm) -> Result<(), ScriptError> {
    d.summarise(format!("database {}", n.database.name()))
        .summarise(format!("user {} (Warden's system account)", n.user.name()))
        .note("Then run the create script connected to the new database.")
        .note("CREATE DATABASE and CREATE USER have no IF NOT EXISTS on Redshift: run this script once.");
    if matches!(config.authentication, RedshiftAuthentication::UserPassword { .. }) {
        d.note(format!(
            "The system account's password is the one in this script (config.password); Warden connects as {}.",
            n.user.name()
        ));
    }
    d.connect(n.initial.name());
    d.explain(
        "Warden's own database; CREATE DATABASE cannot run inside a transaction.",
        format!("CREATE DATABASE {}", n.database),
    )
    .creating(Created::Database(n.database.name().to_owned()))
    .explain("Warden's system account.", format!("CREATE USER {} {}", n.user, password_clause(config, &n.user, form)?))
    .creating(Created::User(n.user.name().to_owned()))
    .explain(
        "Only the grants below may use Warden's database.",
        format!("REVOKE ALL ON DATABASE {} FROM PUBLIC", n.database),
    )
    .run(format!("GRANT CREATE, TEMP ON DATABASE {} TO {}", n.database, n.user));
    Ok(())
}

fn create(d: &mut Draft, config: &RedshiftConfig, n: &Names) {
    d.summarise(format!("schemas {} in database {}", SCHEMAS.join(", "), n.database.name()))
        .summarise(format!("grants to {} and PUBLIC", n.user.name()));
    if config.impersonation.enabled {
        d.summarise(format!("group {} and the impersonation procedures", n.group.name()));
    }
    d.note("Run the initial-create script first.");
    d.connect(n.database.name());
    d.vendor_only(
        "Redshift clusters must fold identifiers to lower case; PostgreSQL always does and has no such setting.",
        "SET enable_case_sensitive_identifier TO false".to_owned(),
    );
    for schema in &n.schemas {
        d.run(format!("CREATE SCHEMA IF NOT EXISTS {schema}"));
    }
    d.explain(
        "The system account manages everything in Warden's database.",
        format!("GRANT ALL ON DATABASE {} TO {}", n.database, n.user),
    );
    for schema in &n.schemas {
        d.run(format!("GRANT ALL ON SCHEMA {schema} TO {}", n.user));
    }
    d.vendor_only(
        "PostgreSQL names this privilege class FUNCTIONS or ROUTINES; Redshift has PROCEDURES.",
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT EXECUTE ON PROCEDURES TO {}", n.schemas[2], n.user),
    );
    d.explain(
        "Every user may use Warden's functions and read its policy tables. (Redshift's database USAGE privilege only applies to datashares, so none is granted.)",
        format!("GRANT TEMP ON DATABASE {} TO PUBLIC", n.database),
    );
    for schema in &n.schemas {
        d.run(format!("GRANT USAGE ON SCHEMA {schema} TO PUBLIC"));
    }
    d.run(format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT EXECUTE ON FUNCTIONS TO PUBLIC", n.schemas[1]))
        .run(format!("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO PUBLIC", n.schemas[0]))
        .run(format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO PUBLIC", n.schemas[0]));
    if config.impersonation.enabled {
        impersonation_on(d, n);
    }
}

fn impersonation_on(d: &mut Draft, n: &Names) {
    d.explain(
        "Users who may impersonate others (Redshift has no CREATE GROUP IF NOT EXISTS).",
        format!("CREATE GROUP {}", n.group),
    )
    .creating(Created::Group(n.group.name().to_owned()));
    for (procedure, verb) in [("grant_impersonation", "ADD"), ("revoke_impersonation", "DROP")] {
        let group = Dialect::Redshift.literal(&n.group.to_string());
        d.run(format!(
            "CREATE OR REPLACE PROCEDURE {}.{procedure}(username VARCHAR) AS $$\nBEGIN\n  EXECUTE 'ALTER GROUP ' || {group} || ' {verb} USER ' || QUOTE_IDENT(username);\nEND;\n$$ LANGUAGE plpgsql SECURITY DEFINER",
            n.schemas[2]
        ));
        d.run(format!("GRANT EXECUTE ON PROCEDURE {}.{procedure}(VARCHAR) TO {}", n.schemas[2], n.user));
    }
}

fn impersonation_off(d: &mut Draft, n: &Names) {
    for procedure in ["grant_impersonation", "revoke_impersonation"] {
        d.run(format!("DROP PROCEDURE IF EXISTS {}.{procedure}(VARCHAR)", n.schemas[2]));
    }
    d.explain(
        "Fails if the group is already gone; the rest of the script does not depend on it.",
        format!("DROP GROUP {}", n.group),
    );
}

fn edit(d: &mut Draft, to: &RedshiftConfig, from: &RedshiftConfig, n: &Names) {
    d.connect(n.database.name());
    match (from.impersonation.enabled, to.impersonation.enabled) {
        (false, true) => {
            d.summarise(format!("group {} and the impersonation procedures", n.group.name()));
            impersonation_on(d, n);
        }
        (true, false) => {
            d.summarise(format!("removes group {} and the impersonation procedures", n.group.name()));
            impersonation_off(d, n);
        }
        _ => {
            d.summarise("nothing: the change is Warden's configuration only");
        }
    }
}

fn remove(d: &mut Draft, config: &RedshiftConfig, n: &Names) {
    d.summarise(format!("schemas {} (part 1)", SCHEMAS.join(", ")))
        .summarise(format!("database {}, user {} (part 2)", n.database.name(), n.user.name()))
        .note("Objects already gone are skipped, so the script can run again after a partial failure.");
    if config.impersonation.enabled {
        d.summarise(format!("group {} (part 2)", n.group.name()));
    }
    d.connect(n.database.name());
    for schema in &n.schemas {
        d.run(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
    d.connect(n.initial.name());
    d.explain(
        "Dropping the database drops every grant on it, so the user can go next.",
        format!("DROP DATABASE IF EXISTS {}", n.database),
    )
    .run(format!("DROP USER IF EXISTS {}", n.user));
    if config.impersonation.enabled {
        d.explain(
            "Fails if the group is already gone; nothing after it depends on it.",
            format!("DROP GROUP {}", n.group),
        );
    }
}

/// The removal of what a failed setup created, databases first.
pub(crate) fn undo(created: &[Created], connect_to: &str) -> Result<Draft, ScriptError> {
    let d = Dialect::Redshift;
    let mut draft = Draft::new(d, RUN_AS);
    draft.connect(d.ident("config.initialDatabase", connect_to)?.name());
    draft.summarise("what the failed setup had created, and nothing else");
    let rank = |c: &Created| match c {
        Created::Database(_) => 0,
        Created::User(_) => 1,
        Created::Group(_) => 2,
    };
    let mut ordered: Vec<&Created> = created.iter().collect();
    ordered.sort_by_key(|c| rank(c));
    for object in ordered {
        match object {
            Created::Database(name) => {
                draft.run(format!("DROP DATABASE IF EXISTS {}", d.ident("config.database", name)?))
            }
            Created::User(name) => draft.run(format!("DROP USER IF EXISTS {}", d.ident("config.username", name)?)),
            Created::Group(name) => draft.run(format!("DROP GROUP {}", d.ident("config.impersonation.role", name)?)),
        };
    }
    Ok(draft)
}
