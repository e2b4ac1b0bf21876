//! What the Snowflake tests share about fakesnow (`xtask/fakesnow_server.py`): the
//! statements it cannot run, answered with success without effect through its `nop_regexes`
//! login parameter (sent as a `privilegedConnectArgs` session parameter), and an
//! administrator's session to read back what a test made.

use serde_json::json;
use warden_snowflake::client::{Endpoint, Login, Session, login};

/// The statements fakesnow cannot run: roles, users with keys, grants and Snowflake
/// Scripting blocks.
pub const NOP: [&str; 7] = [
    "^GRANT .*",
    "^REVOKE .*",
    "^CREATE ROLE .*",
    "^CREATE USER .*",
    "^DROP USER .*",
    "^DROP ROLE .*",
    "^EXECUTE IMMEDIATE .*",
];

/// The `privilegedConnectArgs` of an automatic setup on fakesnow.
pub fn nop_args() -> String {
    format!("protocol=http&nop_regexes={}", json!(NOP))
}

/// A session of fakesnow's administrator, with the same statement rules.
///
/// # Panics
/// When fakesnow does not answer: a failed test.
pub async fn admin(url: &url::Url) -> Session {
    let endpoint = Endpoint { base_url: url.as_str().trim_end_matches('/').to_owned(), account: "X".into() };
    let mut parameters = serde_json::Map::new();
    parameters.insert("nop_regexes".into(), json!(NOP));
    let login_as = Login { session_parameters: parameters, ..Login::password("ADMIN", "pw") };
    login(&endpoint, &login_as).await.expect("fakesnow's administrator signs in")
}

/// The databases fakesnow holds.
///
/// # Panics
/// When fakesnow does not answer: a failed test.
pub async fn databases(url: &url::Url) -> Vec<String> {
    let admin = admin(url).await;
    let rows = admin.query("SHOW DATABASES").await.expect("SHOW DATABASES");
    admin.close().await;
    rows.column("name").unwrap_or_default().into_iter().flatten().map(str::to_owned).collect()
}
