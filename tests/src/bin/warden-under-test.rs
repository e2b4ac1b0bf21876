//! The `warden` command line exactly as shipped (`warden_server::main_with`), with the
//! rehearsal platform standing in for the Snowflake, Redshift and Databricks adapters, so
//! the end-to-end tests can make setups slow, failing or hanging on demand.

use std::process::ExitCode;

fn main() -> ExitCode {
    warden_server::main_with(warden_e2e::rehearsal::platforms())
}
