//! The script endpoints (the API reference §5) over HTTP: text by default, JSON on request, the
//! accepted types, `autoBootstrap` refused, names that cannot be made safe, and the id
//! routes' 404/409.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use common::{ADMIN_KEY, Server, backends};
use serde_json::{Value, json};

fn redshift(host: &str, impersonation: bool) -> Value {
    json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": host, "database": "warden",
        "initialDatabase": "dev", "authenticationType": "userPassword", "username": "warden_system",
        "password": "Sys-Passw0rd-1", "impersonation": {"enabled": impersonation}}})
}

#[tokio::test]
async fn scripts_answer_text_or_json_and_refuse_what_the_contract_refuses() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let body = redshift("rs.example.com", false).to_string().into_bytes();
        let text = server
            .send(
                "POST",
                "/integrations/scripts/initial-create",
                Some(ADMIN_KEY),
                Some(("application/json", body.clone())),
            )
            .await;
        assert_eq!(text.status, 200, "{}", text.text);
        assert!(
            text.text.starts_with("-- Warden initial-create script for the Redshift integration on rs.example.com."),
            "{}",
            text.text
        );
        assert!(text.text.contains("CREATE DATABASE \"warden\";"), "{}", text.text);
        assert!(text.text.contains("CREATE USER \"warden_system\" PASSWORD 'Sys-Passw0rd-1';"));

        let response = common::http()
            .post(format!("{}/integrations/scripts/create", server.base))
            .header("Authorization", ADMIN_KEY)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-type"], "application/json");
        let json: Value = response.json().await.unwrap();
        assert_eq!(
            (json["dialect"].as_str(), json["connectTo"].as_str()),
            (Some("redshift"), Some("warden")),
            "{json}"
        );
        assert!(json["runAs"].as_str().unwrap().contains("superuser"));
        assert!(json["script"].as_str().unwrap().contains("CREATE SCHEMA IF NOT EXISTS \"warden_system\";"));
        let plain = common::http()
            .post(format!("{}/integrations/scripts/cleanup", server.base))
            .header("Authorization", ADMIN_KEY)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(plain.headers()["content-type"], "text/plain; charset=utf-8");

        let mut no_password = redshift("rs.example.com", false);
        no_password["config"].as_object_mut().unwrap().remove("password");
        let generated = server.call("POST", "/integrations/scripts/initial-create", Some(&no_password)).await;
        assert_eq!(generated.status, 200, "{}", generated.text);
        assert!(generated.text.contains("Warden generated the system account's password"), "{}", generated.text);
        let password = generated.text.split("PASSWORD '").nth(1).unwrap().split('\'').next().unwrap();
        assert!(warden_scripts::meets_policy(password), "{password}");
        let again = server.call("POST", "/integrations/scripts/initial-create", Some(&no_password)).await;
        assert!(!again.text.contains(password), "each script generates its own password");

        let trino = server.call("POST", "/integrations/scripts/create", Some(&json!({"type": "Trino"}))).await;
        assert_eq!(trino.status, 400, "{}", trino.text);
        assert_eq!(
            trino.body["message"],
            "type must be one of: Azure Synapse Analytics, Databricks, Google BigQuery, Redshift, Snowflake for this script."
        );
        let snowflake = json!({"type": "Snowflake", "autoBootstrap": false, "config": {"host": "acme.snowflakecomputing.com",
            "warehouse": "WH", "database": "WARDEN_DB", "authenticationType": "userPassword", "username": "U", "password": "P"}});
        let answer = server.call("POST", "/integrations/scripts/post-cleanup", Some(&snowflake)).await;
        assert_eq!(
            answer.body["message"], "type must be one of: Azure Synapse Analytics for this script.",
            "{}",
            answer.text
        );

        let mut auto = redshift("rs.example.com", false);
        auto["autoBootstrap"] = json!(true);
        let answer = server.call("POST", "/integrations/scripts/create", Some(&auto)).await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.body["errors"][0]["path"], "autoBootstrap", "{}", answer.text);

        // A name Redshift cannot hold is refused with the field named; an upper-case one is
        // folded, as Redshift folds it (issue 10, item 5), and quoted, never spliced.
        let mut unsafe_name = redshift("rs.example.com", false);
        unsafe_name["config"]["database"] = json!(format!("{}\"; DROP DATABASE prod; --", "x".repeat(120)));
        let answer = server.call("POST", "/integrations/scripts/create", Some(&unsafe_name)).await;
        assert_eq!(answer.status, 400, "{}", answer.text);
        assert_eq!(answer.body["errors"][0]["path"], "config.database", "{}", answer.text);
        assert!(answer.body["errors"][0]["message"].as_str().unwrap().contains("127 bytes"), "{}", answer.text);
        let mut upper = redshift("rs.example.com", false);
        upper["config"]["database"] = json!("REDSHIFT_SAMPLE_DATA\"; DROP DATABASE prod; --");
        let answer = server.call("POST", "/integrations/scripts/create", Some(&upper)).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert!(answer.text.contains("\"redshift_sample_data\"\"; drop database prod; --\""), "{}", answer.text);
    }
}

#[tokio::test]
async fn edit_and_delete_scripts_read_the_stored_integration() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        for (path, body) in [
            ("/integrations/99/scripts/edit", Some(redshift("x.example.com", true))),
            ("/integrations/99/scripts/delete", None),
        ] {
            let answer = server.call("POST", path, body.as_ref()).await;
            assert_eq!(
                (answer.status, answer.body["message"].as_str()),
                (404, Some("No integration found with ID 99."))
            );
        }
        let created = server.call("POST", "/integrations", Some(&redshift("slowedit.example.com", false))).await;
        let id = created.body["id"].as_u64().unwrap();
        server.settled(id).await;

        let mut on = redshift("slowedit.example.com", true);
        on["config"]["password"] = json!("[REDACTED]");
        let edit = server.call("POST", &format!("/integrations/{id}/scripts/edit"), Some(&on)).await;
        assert_eq!(edit.status, 200, "{}", edit.text);
        assert!(edit.text.contains("CREATE GROUP \"warden_impersonation\";"), "{}", edit.text);
        assert!(!edit.text.contains("CREATE SCHEMA"), "an edit script holds only the difference: {}", edit.text);
        let same = server
            .call("POST", &format!("/integrations/{id}/scripts/edit"), Some(&redshift("slowedit.example.com", false)))
            .await;
        assert!(same.text.contains("Nothing to change on the platform."), "{}", same.text);
        let moved = server
            .call("POST", &format!("/integrations/{id}/scripts/edit"), Some(&redshift("other.example.com", false)))
            .await;
        assert_eq!((moved.status, &moved.body["attributes"]), (400, &json!(["config.host"])), "{}", moved.text);

        let delete = server.call("POST", &format!("/integrations/{id}/scripts/delete"), None).await;
        assert!(delete.text.contains("DROP DATABASE IF EXISTS \"warden\";"), "{}", delete.text);
        assert!(!delete.text.contains("Sys-Passw0rd-1"), "the delete script needs no password");

        assert_eq!(server.call("PUT", &format!("/integrations/{id}"), Some(&on)).await.status, 200);
        let busy = server.call("POST", &format!("/integrations/{id}/scripts/delete"), None).await;
        assert_eq!(busy.status, 409, "{}", busy.text);
        let busy = server.call("POST", &format!("/integrations/{id}/scripts/edit"), Some(&on)).await;
        assert_eq!(busy.body["message"], format!("Unable to edit integration with ID {id} in current state editing."));
    }
}
