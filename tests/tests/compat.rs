//! Issue 10: what a user migrating from the reference Integrations API hits, over HTTP
//! against the started binary: `dryRun` with `forceDisable` changes nothing, a failed create
//! can be deleted and has a cleanup script of its own that removes only what Warden made,
//! every integration in a response carries the reference's schema, DELETE's 409 text, Trino's
//! redacted key and refused PUT, and the seed's payloads that Warden used to refuse.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use common::{Answer, Server, backends, redshift};
use serde_json::{Value, json};

async fn created(server: &Server, payload: &Value) -> u64 {
    let answer = server.call("POST", "/integrations", Some(payload)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body["id"].as_u64().unwrap()
}

/// The privileged credentials a DELETE of an automatic rehearsal integration carries.
fn privileged() -> Value {
    json!({"config": {"authenticationType": "userPassword", "username": "awsuser", "password": "S3CRET-privileged-pw"}})
}

/// The fields the API reference §1 says every integration object in a response carries.
fn assert_reference_schema(what: &str, integration: &Value) {
    for field in ["id", "type", "autoBootstrap", "status", "validationResults", "config", "createdAt", "updatedAt"] {
        assert!(integration.get(field).is_some(), "{what}: no {field} in {integration}");
    }
    assert!(integration["id"].is_u64(), "{what}: id is a number");
    assert!(integration["validationResults"]["validationTests"].is_array(), "{what}: {integration}");
    assert_eq!(integration["config"]["password"], "[REDACTED]", "{what}: secrets redacted");
    let error_status = integration["status"].as_str().unwrap().ends_with("Error");
    assert_eq!(integration.get("message").is_some(), error_status, "{what}: message with an error status only");
}

/// Item 1: `dryRun=true` never changes anything, with `forceDisable=true` too.
#[tokio::test]
async fn a_dry_run_force_disable_changes_nothing() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let id = created(&server, &redshift("dryforce.example.com", false)).await;
        assert_eq!(server.settled(id).await["status"], "enabled");
        let answer = server.call("DELETE", &format!("/integrations/{id}?forceDisable=true&dryRun=true"), None).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.body["status"], "enabled", "{}: the answer shows the current status", backend.name());
        let said = answer.body["message"].as_str().unwrap();
        assert!(said.contains("nothing changed") && said.contains("disabled"), "{said}");
        let after = server.call("GET", &format!("/integrations/{id}"), None).await;
        assert_eq!(after.body["status"], "enabled", "{}: a dry run disabled the integration", backend.name());
        // The real call still works afterwards.
        let real = server.call("DELETE", &format!("/integrations/{id}?forceDisable=true"), None).await;
        assert_eq!(real.body["status"], "disabled", "{}", real.text);
    }
}

/// Items 2 and 3: a failed automatic create has a cleanup script built from what was stored
/// (the system account, never the privileged user), its message points there, and DELETE
/// removes it.
#[tokio::test]
async fn a_failed_create_has_its_own_cleanup_script_and_can_be_deleted() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let id = created(&server, &redshift("failsetup-failrollback.example.com", true)).await;
        let status = server.settled(id).await;
        assert_eq!(status["status"], "createError", "{status}");
        let message = status["message"].as_str().unwrap();
        let path = format!("/integrations/{id}/scripts/cleanup");
        assert!(message.contains(&format!("POST {path}")), "the message points at the stored cleanup: {message}");
        assert!(!message.contains("POST /integrations/scripts/cleanup"), "{message}");

        let script = server.call("POST", &path, None).await;
        assert_eq!(script.status, 200, "{}", script.text);
        assert!(script.text.contains("DROP USER IF EXISTS \"warden_system\""), "{}", script.text);
        assert!(!script.text.contains("awsuser"), "the privileged user is never in the cleanup: {}", script.text);
        let post = server.call("POST", &format!("/integrations/{id}/scripts/post-cleanup"), None).await;
        assert_eq!(post.status, 400, "post-cleanup is Synapse's: {}", post.text);

        let without = server.call("DELETE", &format!("/integrations/{id}"), None).await;
        assert_eq!(without.status, 400, "an automatic integration's removal needs the privileged credentials");
        let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&privileged())).await;
        assert_eq!(deleted.status, 200, "{}: a failed create can be deleted: {}", backend.name(), deleted.text);
        assert_eq!(server.settled(id).await["status"], "deleted");
        let log = std::fs::read_to_string(server.rehearsal_log_path()).unwrap();
        assert!(log.lines().any(|l| l.starts_with("cleanup failsetup-failrollback")), "the removal ran: {log}");
        let gone = server.call("POST", &path, None).await;
        assert_eq!(gone.status, 409, "only a failed create has a cleanup script: {}", gone.text);

        // A failed manual create has nothing of Warden's on the platform: DELETE needs no
        // credentials and no check that could not pass.
        let manual = created(&server, &redshift("failsetup.manual.example.com", false)).await;
        assert_eq!(server.settled(manual).await["status"], "createError");
        let deleted = server.call("DELETE", &format!("/integrations/{manual}"), None).await;
        assert_eq!(deleted.status, 200, "{}", deleted.text);
        assert_eq!(server.settled(manual).await["status"], "deleted");
    }
}

/// Item 13: the reference's response schema on GET one, GET list, POST, PUT and DELETE.
#[tokio::test]
async fn every_integration_in_a_response_has_the_reference_schema() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let payload = redshift("schema.example.com", false);
        let posted = server.call("POST", "/integrations", Some(&payload)).await;
        assert_reference_schema("POST", &posted.body);
        let id = posted.body["id"].as_u64().unwrap();
        server.settled(id).await;
        assert_reference_schema("GET", &server.call("GET", &format!("/integrations/{id}"), None).await.body);
        assert_reference_schema("GET list", &server.call("GET", "/integrations", None).await.body[0]);
        let mut edit = payload.clone();
        edit["config"]["impersonation"] = json!({"enabled": true});
        let put = server.call("PUT", &format!("/integrations/{id}"), Some(&edit)).await;
        assert_reference_schema("PUT", &put.body);
        assert_eq!(
            put.body["config"]["impersonation"]["enabled"], false,
            "PUT shows what is in force until the edit ends"
        );
        server.settled(id).await;
        let deleted = server.call("DELETE", &format!("/integrations/{id}"), None).await;
        assert_reference_schema("DELETE", &deleted.body);

        let failed = created(&server, &redshift("failsetup.schema.example.com", false)).await;
        server.settled(failed).await;
        let shown = server.call("GET", &format!("/integrations/{failed}"), None).await;
        assert_reference_schema("GET createError", &shown.body);
    }
}

/// Item 15: Trino's key is shown redacted after its creation, and PUT names regenerate.
#[tokio::test]
async fn trino_shows_its_key_redacted_and_refuses_put() {
    let server = Server::start(&common::Backend::Sqlite).await;
    let answer = server.call("POST", "/integrations", Some(&json!({"type": "Trino"}))).await;
    let id = answer.body["id"].as_u64().unwrap();
    assert!(answer.body["apiKey"].as_str().is_some_and(|k| k != "[REDACTED]"), "shown once: {}", answer.text);
    let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown.body["apiKey"], "[REDACTED]", "{}", shown.text);
    let listed = server.call("GET", "/integrations", None).await;
    assert_eq!(listed.body[0]["apiKey"], "[REDACTED]", "{}", listed.text);
    let put = server.call("PUT", &format!("/integrations/{id}"), Some(&json!({"type": "Trino"}))).await;
    assert_eq!(put.status, 400, "{}", put.text);
    assert!(put.text.contains(&format!("POST /integrations/{id}/regenerate")), "{}", put.text);
}

/// Items 7 to 12: payloads built from the seed's parameter tables that Warden used to refuse.
/// They pass the payload checks now: with no adapter for their platform yet, the answer is
/// the 501 that says the payload itself is valid, never a 400.
#[tokio::test]
async fn the_seeds_liberal_payloads_pass_the_payload_checks() {
    let server = Server::start(&common::Backend::Sqlite).await;
    let s3 = |config: Value| json!({"type": "Native S3", "autoBootstrap": false, "config": config});
    let s3_base = json!({"name": "lake", "awsAccountId": "123456789012", "awsRegion": "us-east-1",
        "awsLocationRole": "arn:aws:iam::123456789012:role/grants", "awsLocationPath": "s3://acme-lake/raw",
        "authenticationType": "auto"});
    let snowflake = json!({"type": "Snowflake", "autoBootstrap": false, "config": {
        "host": "my_org-my_account.snowflakecomputing.com", "warehouse": "COMPUTE_WH", "database": "WARDEN_DB",
        "authenticationType": "userPassword", "username": "WARDEN_SYSTEM", "password": "pw",
        "role": "ACCOUNTADMIN", "privilegedConnectArgs": "role=ACCOUNTADMIN",
        "audit": {"enabled": true},
        "lineage": {"enabled": true, "lineageConfig": {"tableFilter": "^(?!.*TMP).*$", "tagFilterRegex": "(?<=pii_).+"}}}});
    let synapse = json!({"type": "Azure Synapse Analytics", "autoBootstrap": false, "config": {
        "host": "acme.sql.azuresynapse.net", "database": "analytics", "schema": "warden",
        "authenticationType": "userPassword", "username": "warden", "password": "pw",
        "metadataDelimiters": {"hashDelimiter": ",", "arrayDelimiter": ","}}});
    let cases = [
        ("S3 auto without awsRoleToAssume", s3(s3_base.clone()), "application/json"),
        (
            "S3 account id as an unquoted YAML number",
            Value::String(
                "type: Native S3\nautoBootstrap: false\nconfig:\n  name: lake\n  awsAccountId: 123456789012\n  awsRegion: us-east-1\n  awsLocationRole: arn:aws:iam::123456789012:role/grants\n  awsLocationPath: s3://acme-lake/raw\n  authenticationType: auto\n".into(),
            ),
            "application/yaml",
        ),
        ("Synapse with equal delimiters", synapse, "application/json"),
    ];
    for (name, payload, content_type) in cases {
        let body = match &payload {
            Value::String(text) => text.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        };
        let answer = server.send("POST", "/integrations", Some(common::ADMIN_KEY), Some((content_type, body))).await;
        assert_eq!(answer.status, 501, "{name}: {}", answer.text);
        assert!(answer.text.contains("The payload itself is valid"), "{name}: {}", answer.text);
    }
    // Snowflake and Databricks are served by the rehearsal platform. Snowflake's privileged role
    // and connect arguments on a manual setup are accepted and never stored.
    let answer = server.call("POST", "/integrations", Some(&snowflake)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.body["config"].get("role").is_none(), "{}", answer.text);
    assert!(answer.body["config"].get("privilegedConnectArgs").is_none(), "{}", answer.text);
    assert_eq!(answer.body["config"]["host"], "my_org-my_account.snowflakecomputing.com");
    // Databricks' lenient URL, path and authority are normalised in what is stored.
    let databricks = json!({"type": "Databricks", "autoBootstrap": false, "config": {
        "workspaceUrl": "https://dbc-a1b2.cloud.databricks.com/", "httpPath": "sql/1.0/warehouses/abc",
        "authenticationType": "oAuthM2M", "oAuthClientConfig": {"clientId": "sp", "clientSecret": "s",
        "authorityUrl": "dbc-a1b2.cloud.databricks.com/oidc"}}});
    let answer: Answer = server.call("POST", "/integrations", Some(&databricks)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let config = &answer.body["config"];
    assert_eq!(config["workspaceUrl"], "dbc-a1b2.cloud.databricks.com");
    assert_eq!(config["httpPath"], "/sql/1.0/warehouses/abc");
    assert_eq!(config["oAuthClientConfig"]["authorityUrl"], "https://dbc-a1b2.cloud.databricks.com/oidc");
}

/// Items 4 and 5: Redshift names are folded as Redshift folds them, in the stored config and
/// in the scripts; the seed's own example (`REDSHIFT_SAMPLE_DATA`) is accepted.
#[tokio::test]
async fn redshift_names_are_folded_to_lower_case() {
    let server = Server::start(&common::Backend::Sqlite).await;
    let mut payload = redshift("fold.example.com", true);
    payload["config"]["database"] = json!("WARDEN_DB");
    payload["config"]["initialDatabase"] = json!("REDSHIFT_SAMPLE_DATA");
    let id = created(&server, &payload).await;
    assert_eq!(server.settled(id).await["status"], "enabled");
    let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown.body["config"]["database"], "warden_db");
    assert_eq!(shown.body["config"]["initialDatabase"], "redshift_sample_data");
    let mut manual = redshift("fold2.example.com", false);
    manual["config"]["database"] = json!("WARDEN_DB");
    let script = server.call("POST", "/integrations/scripts/create", Some(&manual)).await;
    assert_eq!(script.status, 200, "{}", script.text);
    assert!(script.text.contains("\"warden_db\""), "{}", script.text);
}

/// the API reference §2.4 (found by the review behind issue 12): a Databricks integration set up
/// automatically is set up with Warden's own service principal, so deleting it takes no
/// credentials, and credentials are refused with the Databricks text.
#[tokio::test]
async fn deleting_an_automatic_databricks_integration_takes_no_credentials() {
    let server = Server::start(&common::Backend::Sqlite).await;
    let payload = json!({"type": "Databricks", "autoBootstrap": true, "config": {
        "workspaceUrl": "dbc-auto.cloud.databricks.com", "httpPath": "/sql/1.0/warehouses/abc",
        "authenticationType": "token", "token": "S3CRET-dapi"}});
    let id = created(&server, &payload).await;
    assert_eq!(server.settled(id).await["status"], "enabled");
    let with = server.call("DELETE", &format!("/integrations/{id}"), Some(&json!({"config": {"token": "x"}}))).await;
    assert_eq!(with.status, 400, "{}", with.text);
    assert!(with.text.contains("Credentials are not required to disable a Databricks"), "{}", with.text);
    let without = server.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(without.status, 200, "{}", without.text);
    assert_eq!(server.settled(id).await["status"], "deleted");
}

/// A DELETE of an automatic Redshift integration set up with an access key carries that
/// key's fields: they are the privileged credentials, not config changes.
#[tokio::test]
async fn an_access_key_is_a_privileged_credential_in_a_delete_body() {
    let server = Server::start(&common::Backend::Sqlite).await;
    let id = created(&server, &redshift("accesskey.example.com", true)).await;
    assert_eq!(server.settled(id).await["status"], "enabled");
    let body = json!({"config": {"authenticationType": "accessKey", "databaseUser": "admin",
        "accessKeyId": "AKIAEXAMPLE", "secretKey": "S3CRET-aws"}});
    let answer = server.call("DELETE", &format!("/integrations/{id}"), Some(&body)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(server.settled(id).await["status"], "deleted");
}

/// A check that aborts (here the rehearsal's Databricks metastore lookup) answers the
/// reference's 422 `Processing Error` instead of validation results, and stores nothing.
#[tokio::test]
async fn an_aborted_validation_answers_the_processing_error() {
    let server = Server::start(&common::Backend::Sqlite).await;
    let payload = json!({"type": "Databricks", "autoBootstrap": false, "config": {
        "workspaceUrl": "abortcheck.cloud.databricks.com", "httpPath": "/sql/1.0/warehouses/abc",
        "authenticationType": "token", "token": "S3CRET-dapi"}});
    let answer = server.call("POST", "/integrations", Some(&payload)).await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    assert_eq!(answer.body["message"], "Processing Error: Error trying to get the current metastore info.");
    assert!(answer.body.get("validationResults").is_none(), "{}", answer.text);
    let listed = server.call("GET", "/integrations", None).await;
    assert_eq!(listed.body, json!([]), "{}", listed.text);
}
