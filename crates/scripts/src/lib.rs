//! Warden's SQL scripts (the API reference §5, SCRIPTS.md): for Snowflake, Redshift, Azure
//! Synapse Analytics and Databricks Unity Catalog, the create, initial-create, edit,
//! cleanup, post-cleanup and delete scripts, built from a checked [`IntegrationSpec`].
//!
//! A [`Script`] is data, not one opaque string: parts, each with the database to connect
//! to, each a list of statements, some marked as running only on the vendor's own platform.
//! The script endpoints render it as text ([`Script::render`]); the platform adapters run
//! its statements. No other crate writes platform SQL: every identifier goes through
//! [`Dialect::ident`] and every literal through [`Dialect::literal`].

mod bigquery;
mod databricks;
mod dialect;
mod password;
mod redshift;
mod rsa_key;
mod snowflake;
mod synapse;

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use warden_model::{IntegrationSpec, IntegrationType};

pub use bigquery::{DEFAULT_SERVICE_ACCOUNT as BIGQUERY_DEFAULT_SERVICE_ACCOUNT, PERMISSIONS as BIGQUERY_PERMISSIONS};
pub use databricks::{AUDIT_TABLES as DATABRICKS_AUDIT_TABLES, SCHEMAS as DATABRICKS_SCHEMAS};
pub use dialect::{Dialect, Ident};
pub use password::{PasswordForm, generate_password, meets_policy};
pub use rsa_key::{RsaKey, rsa_key};
pub use snowflake::USER_ROLE_PREFIX as SNOWFLAKE_USER_ROLE_PREFIX;

/// Why a script could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// A configured name the dialect cannot hold as written.
    #[error("{field} {reason}")]
    UnsafeName {
        /// The config field (`config.database`).
        field: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The script does not exist for this integration type.
    #[error("this script is for {accepted:?} integrations")]
    TypeNotAccepted {
        /// The types it exists for.
        accepted: Vec<IntegrationType>,
    },
    /// The OS gave no randomness for a password.
    #[error("no randomness for a password: {0}")]
    Randomness(String),
    /// A key-pair login's private key cannot be read: what is wrong and what to do.
    #[error("the private key {0}")]
    PrivateKey(&'static str),
    /// A payload field the script needs is missing.
    #[error("{field} {reason}")]
    Payload {
        /// The config field (`config.projectId`).
        field: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// Which script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScriptKind {
    /// Sets the platform up (manual setup).
    Create,
    /// The first setup step, connected to an existing database (Synapse, Redshift).
    InitialCreate,
    /// Moves the platform from the stored config to a new one.
    Edit,
    /// Removes what a failed create left.
    Cleanup,
    /// The second removal step, connected to `master` (Synapse).
    PostCleanup,
    /// Removes what a successful create made.
    Delete,
}

impl ScriptKind {
    /// Every kind.
    pub const ALL: [Self; 6] =
        [Self::Create, Self::InitialCreate, Self::Edit, Self::Cleanup, Self::PostCleanup, Self::Delete];

    /// The integration types the script exists for (the API reference §2).
    pub fn accepted(self) -> &'static [IntegrationType] {
        use IntegrationType::{AzureSynapseAnalytics as Synapse, Databricks, GoogleBigQuery, Redshift, Snowflake};
        match self {
            Self::Create => &[Synapse, Databricks, GoogleBigQuery, Redshift, Snowflake],
            Self::Edit | Self::Delete => &[Synapse, Databricks, Redshift, Snowflake],
            Self::InitialCreate => &[Synapse, Redshift],
            Self::Cleanup => &[Synapse, Redshift, Snowflake],
            Self::PostCleanup => &[Synapse],
        }
    }

    /// The name in paths and headers (`initial-create`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::InitialCreate => "initial-create",
            Self::Edit => "edit",
            Self::Cleanup => "cleanup",
            Self::PostCleanup => "post-cleanup",
            Self::Delete => "delete",
        }
    }
}

/// A top-level object a statement creates. A setup records each one as its statement
/// succeeds, so that when a later statement fails it removes exactly those ([`undo`]) and
/// never an object that existed before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "name")]
pub enum Created {
    /// A database.
    Database(String),
    /// A user (login).
    User(String),
    /// A group or role.
    Group(String),
}

/// One SQL statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// The statement, without the closing `;`.
    pub sql: String,
    /// Why it is there, shown as a comment above it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Set when the statement only runs on the vendor's own platform (not on a compatible
    /// server, such as PostgreSQL for Redshift): the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_only: Option<&'static str>,
    /// The object the statement creates, when it creates one that a rollback must remove.
    #[serde(skip)]
    pub creates: Option<Created>,
}

impl Statement {
    /// The statement as an automatic setup runs it. One that creates an object a rollback
    /// must remove ([`Statement::creates`]) runs without its `IF NOT EXISTS`, so that it fails
    /// when the object is already there and its success means the setup made it; the script
    /// an administrator runs keeps `IF NOT EXISTS`, so it can run again.
    pub fn setup_sql(&self) -> std::borrow::Cow<'_, str> {
        match (&self.creates, self.sql.find(" IF NOT EXISTS ")) {
            (Some(_), Some(at))
                if self.sql[..at].starts_with("CREATE ") && !self.sql[..at].contains(['"', '`', '\'']) =>
            {
                std::borrow::Cow::Owned(format!("{}{}", &self.sql[..at], &self.sql[at + " IF NOT EXISTS".len()..]))
            }
            _ => std::borrow::Cow::Borrowed(&self.sql),
        }
    }

    /// The statement's opening words for logs and error messages: its first line, cut
    /// before its first string literal, since a literal may be a password
    /// (`CREATE USER "u" PASSWORD '...'` shows as `CREATE USER "u" PASSWORD ...`).
    pub fn label(&self) -> String {
        label(&self.sql)
    }
}

/// A statement's opening words for logs and error messages: its first line, cut before its
/// first string literal, since a literal may be a secret (see [`Statement::label`]).
pub fn label(sql: &str) -> String {
    let first_line = sql.lines().next().unwrap_or_default();
    match first_line.find('\'') {
        Some(quote) => format!("{} ...", first_line[..quote].trim_end()),
        None => first_line.to_owned(),
    }
}

/// Statements run in one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// The database to connect to (`(any)` where the platform has no such notion).
    pub connect_to: String,
    /// The statements, in order.
    pub statements: Vec<Statement>,
}

/// A generated script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Script {
    /// The platform.
    pub integration_type: IntegrationType,
    /// Which script.
    pub kind: ScriptKind,
    /// Its dialect.
    pub dialect: Dialect,
    /// The privileges whoever runs it needs.
    pub run_as: String,
    /// The integration's host (or workspace), for the header.
    pub host: String,
    /// What it creates or removes, one item per line of the header.
    pub summary: Vec<String>,
    /// Further header lines (passwords it sets, what to do next).
    pub notes: Vec<String>,
    /// The connections and their statements.
    pub parts: Vec<Part>,
}

impl Script {
    /// The database to connect to first.
    pub fn connect_to(&self) -> &str {
        self.parts.first().map_or("(any)", |p| p.connect_to.as_str())
    }

    /// Every statement, in order.
    pub fn statements(&self) -> impl Iterator<Item = &Statement> {
        self.parts.iter().flat_map(|p| &p.statements)
    }

    /// The script as text: the header comment, then each part's statements, each ending
    /// with `;` on its own line, parts separated by a reconnect marker.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let c = self.dialect.comment();
        let verb = if matches!(self.kind, ScriptKind::Cleanup | ScriptKind::PostCleanup | ScriptKind::Delete) {
            "Removes"
        } else {
            "Creates"
        };
        if self.dialect == Dialect::Bash {
            out.push_str("#!/usr/bin/env bash\n");
        }
        let _ = writeln!(
            out,
            "{c} Warden {} script for the {} integration on {}.",
            self.kind.name(),
            self.integration_type,
            self.host
        );
        let _ = writeln!(out, "{c} Run as:     {}", self.run_as);
        let targets: Vec<String> =
            self.parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    if self.parts.len() > 1 {
                        format!("{} (part {})", p.connect_to, i + 1)
                    } else {
                        p.connect_to.clone()
                    }
                })
                .collect();
        let _ = writeln!(
            out,
            "{c} Connect to: {}",
            if targets.is_empty() { "(any)".to_owned() } else { targets.join(", then ") }
        );
        let _ = writeln!(out, "{c} Dialect:    {}", self.dialect.name());
        for (i, item) in self.summary.iter().enumerate() {
            let _ = writeln!(out, "{c} {:<11} {item}", if i == 0 { format!("{verb}:") } else { String::new() });
        }
        for note in &self.notes {
            let _ = writeln!(out, "{c} {note}");
        }
        let vendor_only: Vec<&Statement> = self.statements().filter(|s| s.vendor_only.is_some()).collect();
        if !vendor_only.is_empty() {
            let _ = writeln!(
                out,
                "{c} Statements marked [{} only] do not run on compatible servers.",
                self.integration_type
            );
        }
        if self.statements().next().is_none() {
            let _ = writeln!(out, "{c}\n{c} Nothing to change on the platform.");
        }
        if self.dialect == Dialect::Bash {
            // Stop at the first command that fails, and at an unset variable.
            out.push_str("\nset -euo pipefail\n");
        }
        for (i, part) in self.parts.iter().enumerate() {
            if self.parts.len() > 1 {
                let _ = writeln!(
                    out,
                    "\n{c} ==== Part {} of {}: connect to {} and run what follows ====",
                    i + 1,
                    self.parts.len(),
                    part.connect_to
                );
            }
            for statement in &part.statements {
                out.push('\n');
                if let Some(comment) = &statement.comment {
                    for line in comment.lines() {
                        let _ = writeln!(out, "{c} {line}");
                    }
                }
                if let Some(reason) = statement.vendor_only {
                    let _ = writeln!(out, "{c} [{} only] {reason}", self.integration_type);
                }
                let _ = writeln!(out, "{}{}", statement.sql, self.dialect.terminator());
            }
        }
        out
    }
}

/// Builds the `kind` script for `spec`. `stored` is the integration's stored config, which
/// an edit starts from (for an edit `spec` is the new config). Passwords are written as
/// themselves: this is the script a person reads and runs.
pub fn build(
    kind: ScriptKind,
    spec: &IntegrationSpec,
    stored: Option<&IntegrationSpec>,
) -> Result<Script, ScriptError> {
    build_with(kind, spec, stored, PasswordForm::Plain)
}

/// Like [`build`], with the passwords the script sets written in `form` (an adapter running
/// the script sends them pre-hashed, so no password travels in statement text).
pub fn build_with(
    kind: ScriptKind,
    spec: &IntegrationSpec,
    stored: Option<&IntegrationSpec>,
    form: PasswordForm,
) -> Result<Script, ScriptError> {
    let integration_type = spec.integration_type();
    if !kind.accepted().contains(&integration_type) {
        return Err(ScriptError::TypeNotAccepted { accepted: kind.accepted().to_vec() });
    }
    let from = stored.unwrap_or(spec);
    let mut draft = match (&spec.config, &from.config) {
        (warden_model::PlatformConfig::Redshift(to), warden_model::PlatformConfig::Redshift(from)) => {
            redshift::build(kind, to, from, form)?
        }
        (warden_model::PlatformConfig::Snowflake(to), warden_model::PlatformConfig::Snowflake(from)) => {
            snowflake::build(kind, to, from)?
        }
        (warden_model::PlatformConfig::AzureSynapse(to), warden_model::PlatformConfig::AzureSynapse(from)) => {
            synapse::build(kind, to, from)?
        }
        (warden_model::PlatformConfig::Databricks(to), warden_model::PlatformConfig::Databricks(from)) => {
            databricks::build(kind, to, from)?
        }
        (warden_model::PlatformConfig::BigQuery(to), warden_model::PlatformConfig::BigQuery(_)) => {
            bigquery::build(kind, to)?
        }
        _ => return Err(ScriptError::TypeNotAccepted { accepted: kind.accepted().to_vec() }),
    };
    draft.parts.retain(|p| !p.statements.is_empty() || kind == ScriptKind::Edit);
    if draft.parts.len() > 1 {
        draft.parts.retain(|p| !p.statements.is_empty());
    }
    Ok(Script {
        integration_type,
        kind,
        dialect: draft.dialect,
        run_as: draft.run_as,
        host: spec.host(),
        summary: draft.summary,
        notes: draft.notes,
        parts: draft.parts,
    })
}

/// The script that removes `created` (what a failed setup had made when it stopped), and
/// nothing else. Redshift: databases first (which takes every grant on them away), then users
/// and groups, connected to `connect_to`, the database the setup started from. Snowflake: in
/// the reverse order of their creation (`connect_to` is not used: a session is account-wide).
pub fn undo(integration_type: IntegrationType, created: &[Created], connect_to: &str) -> Result<Script, ScriptError> {
    let mut draft = match integration_type {
        IntegrationType::Redshift => redshift::undo(created, connect_to)?,
        IntegrationType::Snowflake => snowflake::undo(created)?,
        _ => {
            return Err(ScriptError::TypeNotAccepted {
                accepted: vec![IntegrationType::Redshift, IntegrationType::Snowflake],
            });
        }
    };
    draft.parts.retain(|p| !p.statements.is_empty());
    Ok(Script {
        integration_type,
        kind: ScriptKind::Cleanup,
        dialect: draft.dialect,
        run_as: draft.run_as,
        host: String::new(),
        summary: draft.summary,
        notes: draft.notes,
        parts: draft.parts,
    })
}

/// What a platform builder returns; [`build`] adds what every script shares.
struct Draft {
    dialect: Dialect,
    run_as: String,
    summary: Vec<String>,
    notes: Vec<String>,
    parts: Vec<Part>,
}

impl Draft {
    fn new(dialect: Dialect, run_as: impl Into<String>) -> Self {
        Self { dialect, run_as: run_as.into(), summary: Vec::new(), notes: Vec::new(), parts: Vec::new() }
    }

    /// Starts a part connected to `database`.
    fn connect(&mut self, database: impl Into<String>) -> &mut Self {
        self.parts.push(Part { connect_to: database.into(), statements: Vec::new() });
        self
    }

    fn push(&mut self, sql: String, comment: Option<&str>, vendor_only: Option<&'static str>) -> &mut Self {
        if self.parts.is_empty() {
            self.connect("(any)");
        }
        if let Some(part) = self.parts.last_mut() {
            part.statements.push(Statement { sql, comment: comment.map(str::to_owned), vendor_only, creates: None });
        }
        self
    }

    /// Adds a statement.
    fn run(&mut self, sql: String) -> &mut Self {
        self.push(sql, None, None)
    }

    /// Adds a statement with a comment saying why.
    fn explain(&mut self, comment: &str, sql: String) -> &mut Self {
        self.push(sql, Some(comment), None)
    }

    /// Adds a statement that only the vendor's platform runs.
    fn vendor_only(&mut self, reason: &'static str, sql: String) -> &mut Self {
        self.push(sql, None, Some(reason))
    }

    /// Marks the last statement as creating `object`.
    fn creating(&mut self, object: Created) -> &mut Self {
        if let Some(statement) = self.parts.last_mut().and_then(|p| p.statements.last_mut()) {
            statement.creates = Some(object);
        }
        self
    }

    fn summarise(&mut self, item: impl Into<String>) -> &mut Self {
        self.summary.push(item.into());
        self
    }

    fn note(&mut self, line: impl Into<String>) -> &mut Self {
        self.notes.push(line.into());
        self
    }
}

/// What the script endpoints do to a payload before reading it (they call it first):
///
/// - for a script that creates the system account, when the payload asks for a password
///   login (`authenticationType: userPassword`) but leaves `config.password` out, Warden
///   generates one (CSPRNG, every platform's policy) and the script's header says so; a
///   script that creates no account holds no password, so there a missing or `[REDACTED]`
///   password (a config copied from `GET /integrations/{id}`) is accepted as it is;
/// - the BigQuery create script, which makes the key `config.credential` holds, may be asked
///   for with `config.projectId` and `config.serviceAccount` instead (see `bigquery`).
///
/// Returns the payload to read and whether a password was generated.
pub fn prepare_payload(kind: ScriptKind, payload: &Value) -> Result<(Value, bool), ScriptError> {
    let is_bigquery = payload.get("type").and_then(Value::as_str) == Some(IntegrationType::GoogleBigQuery.wire_name());
    if is_bigquery && kind == ScriptKind::Create {
        return Ok((bigquery::prepare_payload(payload)?.unwrap_or_else(|| payload.clone()), false));
    }
    let creates_account = matches!(kind, ScriptKind::Create | ScriptKind::InitialCreate);
    let config = payload.get("config").and_then(Value::as_object);
    let wants_password = config.is_some_and(|c| {
        c.get("authenticationType").and_then(Value::as_str) == Some("userPassword")
            && c.get("password").is_none_or(|p| p.as_str() == Some(warden_model::REDACTED))
    });
    if !creates_account && wants_password {
        let mut payload = payload.clone();
        if let Some(config) = payload.get_mut("config").and_then(Value::as_object_mut) {
            config.insert("password".into(), Value::String("(not used by this script)".into()));
        }
        return Ok((payload, false));
    }
    let has_account_in_script = payload
        .get("type")
        .and_then(Value::as_str)
        .and_then(|name| IntegrationType::parse(name).ok())
        .is_some_and(|t| {
            matches!(t, IntegrationType::Redshift | IntegrationType::Snowflake | IntegrationType::AzureSynapseAnalytics)
        });
    if !(creates_account && wants_password && has_account_in_script) {
        return Ok((payload.clone(), false));
    }
    let password = generate_password()?;
    let mut payload = payload.clone();
    if let Some(config) = payload.get_mut("config").and_then(Value::as_object_mut) {
        config.insert("password".into(), Value::String(password));
    }
    Ok((payload, true))
}
