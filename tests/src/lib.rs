//! Support for the end-to-end tests in `tests/tests/`: a headless Chromium over the DevTools
//! protocol (`browser`), a fault-injecting TCP proxy (`fault_proxy`), the rehearsal platform that the
//! `warden-under-test` binary registers, the dying wrapper of the shipped adapters that the
//! `warden-failpoints` binary registers (`dying`), the Access Grants stand-in (`access_grants`) and the
//! Google token-endpoint stand-in (`google_token`), the Okta stand-in (`okta`), what the Snowflake tests share about fakesnow (`fakesnow`), what a platform holds read directly (`probes`), and the TDS stand-in (`tds`, with its catalogue
//! `tds_catalogue`). The harness that starts that binary lives in
//! `tests/common/` (it needs the binary's path, which Cargo gives integration tests only).

pub mod access_grants;
pub mod browser;
pub mod dying;
pub mod fakesnow;
pub mod fault_proxy;
pub mod google_token;
pub mod okta;
pub mod probes;
pub mod rehearsal;
pub mod tds;
pub mod tds_catalogue;
