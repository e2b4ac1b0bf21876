//! The `warden` binary: the command line of [`warden_server`] with the adapters this build
//! ships.

use std::process::ExitCode;

fn main() -> ExitCode {
    warden_server::main_with(warden_server::shipped_platforms())
}
