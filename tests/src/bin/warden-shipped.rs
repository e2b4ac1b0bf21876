//! The `warden` binary exactly as shipped (the same `main` as `crates/server/src/main.rs`),
//! built inside this package so the end-to-end tests of real adapters can start it.

use std::process::ExitCode;

fn main() -> ExitCode {
    warden_server::main_with(warden_server::shipped_platforms())
}
