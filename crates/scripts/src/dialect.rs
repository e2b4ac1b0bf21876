//! The four SQL dialects Warden writes (SCRIPTS.md "Common rules"), and the shell of the
//! BigQuery setup script: how each quotes an identifier and a string literal, how it folds
//! case, how long a name may be, and how it comments and ends a statement. A name a dialect
//! cannot hold as written is refused with the config field it came from; it is never changed
//! silently.

use std::fmt;

use serde::Serialize;

use crate::ScriptError;

/// A SQL dialect. The wire name is sqlglot's name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Snowflake.
    Snowflake,
    /// Amazon Redshift (PostgreSQL-derived).
    Redshift,
    /// T-SQL, as Azure Synapse Analytics dedicated SQL pools speak it.
    Tsql,
    /// Databricks SQL (Unity Catalog).
    Databricks,
    /// Bash running `gcloud` and `bq` (the BigQuery setup script, which is not SQL).
    Bash,
}

impl Dialect {
    /// The name used in answers and by sqlglot.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Snowflake => "snowflake",
            Self::Redshift => "redshift",
            Self::Tsql => "tsql",
            Self::Databricks => "databricks",
            Self::Bash => "bash",
        }
    }

    /// What starts a comment line.
    pub const fn comment(self) -> &'static str {
        match self {
            Self::Bash => "#",
            _ => "--",
        }
    }

    /// What ends a statement.
    pub const fn terminator(self) -> &'static str {
        match self {
            Self::Bash => "",
            _ => ";",
        }
    }

    /// The longest name the dialect holds, and the unit it counts in.
    const fn max_len(self) -> (usize, &'static str) {
        match self {
            Self::Snowflake | Self::Databricks | Self::Bash => (255, "characters"),
            Self::Redshift => (127, "bytes"),
            Self::Tsql => (128, "characters"),
        }
    }

    /// Checks `name` (from config field `field`) and quotes it. `suffix_note` names what
    /// Warden appended to a configured name, for the length message.
    pub fn ident(self, field: &str, name: &str) -> Result<Ident, ScriptError> {
        let refuse = |reason: String| Err(ScriptError::UnsafeName { field: field.to_owned(), reason });
        if name.is_empty() {
            return refuse("must not be empty".into());
        }
        if name.chars().any(char::is_control) {
            return refuse("must not contain control characters (such as a newline)".into());
        }
        let (max, unit) = self.max_len();
        let len = if unit == "bytes" { name.len() } else { name.chars().count() };
        if len > max {
            return refuse(format!(
                "gives the name {}, which is longer than the {max} {unit} {self} allows",
                preview(name)
            ));
        }
        match self {
            Self::Redshift => {
                // The payload checks fold and check names by this same rule, so a payload
                // they accept never fails here.
                if let Err(why) = warden_model::names::check_redshift_name(name) {
                    return refuse(format!("gives the name {}, which {why}", preview(name)));
                }
            }
            Self::Databricks if name.chars().any(|c| c == '.' || c == ' ' || c == '/') => {
                return refuse(format!(
                    "gives the name {}; Unity Catalog names cannot contain '.', ' ' or '/'",
                    preview(name)
                ));
            }
            Self::Databricks if name.to_lowercase() != name => {
                return refuse(format!(
                    "gives the name {}, which has upper-case letters; Unity Catalog stores names in lower case, so write it as {}",
                    preview(name),
                    preview(&name.to_lowercase())
                ));
            }
            _ => {}
        }
        let quoted = match self {
            Self::Snowflake | Self::Redshift => format!("\"{}\"", name.replace('"', "\"\"")),
            Self::Tsql => format!("[{}]", name.replace(']', "]]")),
            Self::Databricks => format!("`{}`", name.replace('`', "``")),
            Self::Bash => self.literal(name),
        };
        Ok(Ident { name: name.to_owned(), quoted })
    }

    /// Like [`Dialect::ident`], for a name that also appears inside a `$$ ... $$` block (a
    /// procedure body or a scripting block): it must not contain `$$`, which would end the
    /// block early.
    pub fn ident_in_block(self, field: &str, name: &str) -> Result<Ident, ScriptError> {
        if name.contains("$$") {
            return Err(ScriptError::UnsafeName {
                field: field.to_owned(),
                reason: "must not contain \"$$\": it would end the script block the name is used in".into(),
            });
        }
        self.ident(field, name)
    }

    /// A string literal holding `text`: single quotes doubled; Snowflake and Databricks
    /// also read `\` as an escape, so it is doubled too; T-SQL literals are `N'...'`. In
    /// bash, one single-quoted word (inside which nothing is special; a `'` is written
    /// `'\''`).
    pub fn literal(self, text: &str) -> String {
        let doubled = || text.replace('\'', "''");
        match self {
            Self::Snowflake | Self::Databricks => format!("'{}'", doubled().replace('\\', "\\\\")),
            Self::Redshift => format!("'{}'", doubled()),
            Self::Tsql => format!("N'{}'", doubled()),
            Self::Bash => format!("'{}'", text.replace('\'', "'\\''")),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Snowflake => "Snowflake",
            Self::Redshift => "Redshift",
            Self::Tsql => "Azure Synapse Analytics",
            Self::Databricks => "Databricks",
            Self::Bash => "bash",
        })
    }
}

/// A name shown in a message: quoted, and cut short when long.
fn preview(name: &str) -> String {
    let short: String = name.chars().take(40).collect();
    if short.len() < name.len() { format!("\"{short}...\"") } else { format!("\"{name}\"") }
}

/// A checked, quoted identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    name: String,
    quoted: String,
}

impl Ident {
    /// The name as configured.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted)
    }
}
