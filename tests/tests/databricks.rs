//! Databricks end to end: the shipped `warden` binary with its real Databricks adapter,
//! driven over HTTP, against the minilake server `cargo xtask ci` starts over HTTPS
//! (`WARDEN_TEST_MINILAKE_URL`; see `xtask/minilake_server.py` for what its launcher adds).
//! A dry run, an automatic create to `enabled` with Warden's catalog made for real, an edit
//! that turns audit on (the system-table grants there afterwards), a delete that takes no
//! credentials and drops the catalog, the 422 of a metastore that cannot be read, the
//! manual flow, and the token in no response, log line or store file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::{Backend, SHIPPED, Server};
use serde_json::{Value, json};

fn minilake() -> Option<url::Url> {
    let Ok(url) = std::env::var("WARDEN_TEST_MINILAKE_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_MINILAKE_URL");
        eprintln!("WARDEN_TEST_MINILAKE_URL is not set: skipped");
        return None;
    };
    Some(url::Url::parse(&url).unwrap())
}

static NAMES: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), NAMES.fetch_add(1, Ordering::SeqCst))
}

/// A client that trusts the test CA (`WARDEN_CA_FILE`), to set minilake up and read it back.
fn lake_client() -> reqwest::Client {
    warden_http::https_client(None).unwrap()
}

async fn lake(url: &url::Url, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = lake_client().request(method, format!("{}{path}", url.as_str().trim_end_matches('/')));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn warehouse(url: &url::Url) -> String {
    let (_, created) =
        lake(url, reqwest::Method::POST, "/api/2.0/sql/warehouses", Some(json!({"name": unique("wh")}))).await;
    created["id"].as_str().unwrap().to_owned()
}

fn payload(url: &url::Url, warehouse: &str, catalog: &str, token: &str, auto: bool) -> Value {
    json!({"type": "Databricks", "autoBootstrap": auto, "config": {"workspaceUrl": url.host_str().unwrap(),
        "port": url.port().unwrap(), "httpPath": format!("/sql/1.0/warehouses/{warehouse}"),
        "authenticationType": "token", "token": token, "catalog": catalog}})
}

async fn shipped() -> Server {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    Server::start_binary(SHIPPED, &Backend::Sqlite, &dir, Some(temp), &[]).await
}

fn secret_free(server: &Server, answers: &[&common::Answer], token: &str) {
    for answer in answers {
        assert!(!answer.text.contains(token), "the token reached a response: {}", answer.text);
    }
    assert!(server.logs().contains("DEBUG"), "the log is at debug level");
    assert!(!server.logs().contains(token), "the token reached the log");
    for file in ["warden.db", "warden.db-wal"] {
        if let Ok(bytes) = std::fs::read(server.data_dir().join(file)) {
            assert!(!String::from_utf8_lossy(&bytes).contains(token), "the token is in the store in clear");
        }
    }
}

async fn audit_grant(url: &url::Url) -> bool {
    let path = "/api/2.1/unity-catalog/permissions/table/system.access.audit?principal=minilake-user";
    let (_, answer) = lake(url, reqwest::Method::GET, path, None).await;
    answer.to_string().contains("SELECT")
}

#[tokio::test]
async fn automatic_setup_edit_and_delete_against_minilake() {
    let Some(url) = minilake() else { return };
    let server = shipped().await;
    // Grants on the system tables are the workspace's, shared by every test: revoke the
    // audit grant first so this test sees its own.
    let revoke = json!({"changes": [{"principal": "minilake-user", "remove": ["SELECT"]}]});
    lake(&url, reqwest::Method::PATCH, "/api/2.1/unity-catalog/permissions/table/system.access.audit", Some(revoke))
        .await;
    let (wh, catalog, token) = (warehouse(&url).await, unique("wcat"), format!("dapi{}", unique("tok")));
    let auto = payload(&url, &wh, &catalog, &token, true);

    let dry = server.call("POST", "/integrations?dryRun=true", Some(&auto)).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let statuses: Vec<&str> = dry.body["validationResults"]["validationTests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["passed", "skipped", "passed"],
        "manual catalog setup applies to a manual setup only: {}",
        dry.text
    );

    let created = server.call("POST", "/integrations", Some(&auto)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    let (status, found) =
        lake(&url, reqwest::Method::GET, &format!("/api/2.1/unity-catalog/catalogs/{catalog}"), None).await;
    assert_eq!(status, 200, "the setup made the catalog: {found}");
    assert!(!audit_grant(&url).await, "audit is off");

    let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown.body["config"]["token"], "[REDACTED]", "{}", shown.text);

    let mut on = auto.clone();
    on["config"]["audit"] = json!({"enabled": true});
    on["config"]["token"] = json!("[REDACTED]");
    let edit = server.call("PUT", &format!("/integrations/{id}"), Some(&on)).await;
    assert_eq!((edit.status, edit.body["status"].as_str()), (200, Some("editing")), "{}", edit.text);
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    assert!(audit_grant(&url).await, "audit on granted SELECT on system.access.audit");

    let refused = server.call("DELETE", &format!("/integrations/{id}"), Some(&json!({"config": {"token": "x"}}))).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("Credentials are not required to disable a Databricks Unity Catalog integration."));
    let deleted = server.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(deleted.body["status"], "deleting", "{}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", server.logs());
    let (status, _) =
        lake(&url, reqwest::Method::GET, &format!("/api/2.1/unity-catalog/catalogs/{catalog}"), None).await;
    assert_eq!(status, 404, "delete drops the catalog");
    assert!(!audit_grant(&url).await, "delete takes the audit grants back");
    secret_free(&server, &[&dry, &created, &shown, &edit, &refused, &deleted], &token);
}

#[tokio::test]
async fn an_unreadable_metastore_answers_the_processing_error_and_the_manual_flow_works() {
    let Some(url) = minilake() else { return };
    let server = shipped().await;
    let (wh, catalog) = (warehouse(&url).await, unique("wcat"));
    let broken = payload(&url, &wh, &catalog, &unique("broken-metastore"), true);
    let answer = server.call("POST", "/integrations", Some(&broken)).await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    assert_eq!(answer.body["message"], "Processing Error: Error trying to get the current metastore info.");

    // Manual: the administrator made the catalog (the create script; here its REST equal).
    let manual = payload(&url, &wh, &catalog, &format!("dapi{}", unique("tok")), false);
    let missing = server.call("POST", "/integrations", Some(&manual)).await;
    assert_eq!(missing.status, 422, "{}", missing.text);
    lake(&url, reqwest::Method::POST, "/api/2.1/unity-catalog/catalogs", Some(json!({"name": catalog}))).await;
    let created = server.call("POST", "/integrations", Some(&manual)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    let deleted = server.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", deleted.text);
    let (status, _) =
        lake(&url, reqwest::Method::GET, &format!("/api/2.1/unity-catalog/catalogs/{catalog}"), None).await;
    assert_eq!(status, 200, "a manual delete leaves the platform to the administrator");
}
