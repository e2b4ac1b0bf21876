//! The `warden` command line with the shipped adapters, each wrapped so that it dies at the
//! failure point `WARDEN_TEST_DIE_AT` arms (see `src/dying.rs`).

use std::process::ExitCode;

fn main() -> ExitCode {
    warden_server::main_with(warden_e2e::dying::platforms())
}
