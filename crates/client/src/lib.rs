//! The `warden` command line as a client of a Warden server: `apply`, `plan` and `export`
//! keep integrations as code (documents in git, secrets from the environment or files), and
//! `get`, `list`, `status`, `wait` and `scripts` replace curl loops. [`ClientCommand`] is the
//! clap surface the `warden` binary merges into its own; [`run`] runs one and answers its
//! exit code: 0 done (or nothing to do), 2 changes pending (`plan`), 1 failure.

mod commands;
pub mod documents;
mod error;
pub mod output;
pub mod plan;
pub mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub use error::ClientError;
use server::ServerArgs;

/// The client commands.
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Make the server match integration documents: create, update and (with --prune) delete.
    Apply(ApplyArgs),
    /// Show what apply would do, field by field, and validate the changes on the server (dryRun).
    /// Exit code 0: no change; 2: changes pending; 1: failure.
    Plan(PlanArgs),
    /// Write the server's integrations as documents apply accepts (secrets as references).
    Export(ExportArgs),
    /// Show one integration (by id or name).
    Get(TargetArgs),
    /// List the integrations.
    List(ListArgs),
    /// Show an integration's status and what to do about an error status.
    Status(TargetArgs),
    /// Wait until an integration reaches a status.
    Wait(WaitArgs),
    /// Print a setup script for a document (create, initial-create, cleanup, post-cleanup).
    Scripts(ScriptsArgs),
    /// Print the JSON Schema of a type's payload or document (no server needed).
    Schema(SchemaArgs),
}

/// `warden schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaArgs {
    /// The integration type: its name (`Native S3`) or its name without spaces (`NativeS3`).
    pub integration_type: String,
    /// The schema of a `warden apply` document (the payload and its `name`).
    #[arg(long)]
    pub document: bool,
}

/// Which documents, and how to read them.
#[derive(Debug, Clone, clap::Args)]
pub struct DocumentArgs {
    /// A document file or a directory of them (.yaml, .yml, .json); repeatable.
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<PathBuf>,
    /// Accept secrets written in the documents instead of ${env:VAR} or ${file:path}.
    #[arg(long)]
    pub allow_literal_secrets: bool,
    /// Also delete the server's named integrations that no document names.
    #[arg(long)]
    pub prune: bool,
}

/// `warden apply`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// The documents.
    #[command(flatten)]
    pub documents: DocumentArgs,
    /// Only show what would be done (as `warden plan`).
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for each change to settle (30s, 10m, 1h).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Where a created integration's callback configuration (Trino's, shown once) is written.
    #[arg(long, default_value = ".")]
    pub callback_dir: PathBuf,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `warden plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// The documents.
    #[command(flatten)]
    pub documents: DocumentArgs,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `warden export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Only integrations of this type (Redshift, Snowflake, ...).
    #[arg(long = "type")]
    pub integration_type: Option<String>,
    /// Write one file per integration into this directory instead of printing them.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// An integration, by id or name.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Its id, or its name (the label apply sets).
    pub target: String,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `warden list`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Only integrations of this type.
    #[arg(long = "type")]
    pub integration_type: Option<String>,
    /// Only integrations in this status.
    #[arg(long)]
    pub status: Option<String>,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `warden wait`.
#[derive(Debug, Clone, clap::Args)]
pub struct WaitArgs {
    /// Its id, or its name.
    pub target: String,
    /// The status to wait for.
    #[arg(long = "for", default_value = "enabled")]
    pub status: String,
    /// How long to wait (30s, 10m, 1h).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `warden scripts`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScriptsArgs {
    /// create, initial-create, cleanup or post-cleanup.
    #[arg(value_parser = ["create", "initial-create", "cleanup", "post-cleanup"])]
    pub kind: String,
    /// The integration document.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Accept secrets written in the document.
    #[arg(long)]
    pub allow_literal_secrets: bool,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Reads `30s`, `10m`, `1h` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (digits, unit) = text.find(|c: char| !c.is_ascii_digit()).map_or((text, ""), |at| text.split_at(at));
    let n: u64 = digits.parse().map_err(|_| format!("{text} is not a duration: use 30s, 10m or 1h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{text} is not a duration: use 30s, 10m or 1h")),
    };
    Ok(Duration::from_secs(seconds))
}

/// What a command ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Done, or nothing to do.
    Done,
    /// `plan` found changes to make.
    ChangesPending,
}

/// Runs a client command; its error is printed on stderr.
pub async fn run(command: ClientCommand) -> ExitCode {
    match commands::run(command).await {
        Ok(Finished::Done) => ExitCode::SUCCESS,
        Ok(Finished::ChangesPending) => ExitCode::from(2),
        Err(error) => {
            output::note(&format!("error: {error}"));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse_duration;

    #[test]
    fn durations_read_seconds_minutes_and_hours() {
        for (text, seconds) in [("90", 90), ("30s", 30), ("10m", 600), ("1h", 3600)] {
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(seconds)), "{text}");
        }
        for text in ["", "m", "10d", "1.5h", "-1s"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }
}
