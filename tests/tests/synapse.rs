//! Azure Synapse Analytics end to end: the shipped `warden` binary with its real Synapse
//! adapter, driven over HTTP, against the TDS stand-in of `tests/src/tds.rs` and its
//! catalogue (written from MS-TDS; no TDS server runs here), which this test starts with the
//! test CA's certificate (`WARDEN_TEST_TLS_CERT`, trusted by the binary through
//! `WARDEN_CA_FILE`). A dry run, an automatic create to `enabled` with the system account's
//! objects in the catalogue, GET with the password redacted, a PUT turning impersonation on,
//! a DELETE with the privileged credentials to `deleted` with everything gone, and a wrong
//! password as a failed connection test with the server's words.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::sync::Arc;

use common::{Backend, SHIPPED, Server};
use serde_json::{Value, json};
use warden_e2e::tds;
use warden_e2e::tds_catalogue::Catalogue;

const ADMIN: &str = "sqladmin";
const ADMIN_PASSWORD: &str = "Adm1n-e2e-Passw0rd!";

fn automatic(port: u16, password: &str, impersonation: bool) -> Value {
    json!({"type": "Azure Synapse Analytics", "autoBootstrap": true, "config": {"host": "127.0.0.1", "port": port,
        "database": "analytics", "schema": "warden_views", "authenticationType": "userPassword",
        "username": ADMIN, "password": password, "impersonation": {"enabled": impersonation}}})
}

fn privileged() -> Value {
    json!({"config": {"authenticationType": "userPassword", "username": ADMIN, "password": ADMIN_PASSWORD}})
}

fn statuses(answer: &Value) -> Vec<String> {
    answer["validationResults"]["validationTests"]
        .as_array()
        .map(|tests| tests.iter().map(|t| t["status"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_automatic_integration_end_to_end() {
    let Some((cert, key)) = tds::test_certificate() else { return };
    let catalogue = Arc::new(Catalogue::new("analytics", ADMIN, ADMIN_PASSWORD));
    let port = tds::start(catalogue.clone(), &cert, &key).await;
    let server = Server::start_binary_with_env(SHIPPED, &Backend::Sqlite, tempfile::tempdir().unwrap(), &[]).await;

    let wrong =
        server.call("POST", "/integrations?dryRun=true", Some(&automatic(port, "not-the-password", false))).await;
    assert_eq!(wrong.status, 200, "{}", wrong.text);
    let connect = &wrong.body["validationResults"]["validationTests"][0];
    assert_eq!(connect["status"], "failed", "{}", wrong.text);
    let message = connect["message"].as_str().unwrap();
    assert!(
        message.starts_with("Unable to connect to host.") && message.contains("Login failed for user 'sqladmin'."),
        "{message}"
    );

    let dry = server.call("POST", "/integrations?dryRun=true", Some(&automatic(port, ADMIN_PASSWORD, false))).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(statuses(&dry.body), ["passed", "passed", "skipped", "passed"], "{}", dry.text);

    let created = server.call("POST", "/integrations", Some(&automatic(port, ADMIN_PASSWORD, false))).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    let state = catalogue.snapshot();
    let system_password = state.logins.get("analytics_system").cloned().expect("the system login");
    assert_eq!(state.databases["analytics"].schemas.len(), 4, "{:?}", state.databases["analytics"]);

    let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown.body["config"]["username"], "analytics_system", "{}", shown.text);
    assert_eq!(shown.body["config"]["password"], "[REDACTED]", "{}", shown.text);

    let edit = server.call("PUT", &format!("/integrations/{id}"), Some(&automatic(port, ADMIN_PASSWORD, true))).await;
    assert_eq!((edit.status, edit.body["status"].as_str()), (200, Some("editing")), "{}", edit.text);
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    let after_edit = catalogue.snapshot();
    let made = after_edit.databases["analytics"].roles.contains_key("WARDEN_IMPERSONATION");
    assert!(made, "the edit made the role: {:#?}", after_edit.batches);

    let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&privileged())).await;
    assert_eq!(deleted.body["status"], "deleting", "{}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", server.logs());
    let state = catalogue.snapshot();
    assert!(!state.logins.contains_key("analytics_system"), "the login is gone");
    assert!(state.databases["analytics"].schemas.is_empty() && state.databases["analytics"].roles.is_empty());

    let logs = server.logs();
    for answer in [&wrong, &dry, &created, &shown, &edit, &deleted] {
        assert!(
            !answer.text.contains(ADMIN_PASSWORD) && !answer.text.contains(&system_password),
            "a password reached a response"
        );
    }
    assert!(!logs.contains(ADMIN_PASSWORD) && !logs.contains(&system_password), "a password reached the log");
}
