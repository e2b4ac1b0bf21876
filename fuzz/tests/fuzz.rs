//! The short fuzz run of `cargo test` (and so of `cargo xtask ci`): every target over its
//! corpus and a few thousand mutated inputs from a fixed seed. `cargo xtask fuzz` runs the
//! long campaigns (`WARDEN_FUZZ_CASES`, `WARDEN_FUZZ_SEED`).

#![allow(clippy::print_stderr)] // the campaign's size is reported

fn cases() -> u64 {
    std::env::var("WARDEN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000)
}

fn seed() -> u64 {
    std::env::var("WARDEN_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed)
}

#[test]
fn payload() {
    let done = warden_fuzz::campaign("payload", seed(), cases());
    eprintln!("payload: {} executions", done.executions);
}

#[test]
fn host() {
    let done = warden_fuzz::campaign("host", seed(), cases());
    eprintln!("host: {} executions", done.executions);
}

#[test]
fn connect_args() {
    let done = warden_fuzz::campaign("connect_args", seed(), cases());
    eprintln!("connect_args: {} executions", done.executions);
}

/// The invariants are real: an input that breaks one fails its target.
#[test]
#[should_panic(expected = "no fuzz target")]
fn an_unknown_target_fails() {
    warden_fuzz::run("nothing", b"");
}
