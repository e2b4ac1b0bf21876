//! Native S3 end to end: the shipped `warden` binary with its real S3 adapter, driven over
//! HTTP, against moto (STS and S3, which `cargo xtask ci` starts and whose test user's key it
//! names) and the Access Grants stand-in of `tests/src/access_grants.rs` (S3 Control), each
//! reached through the endpoint variables the AWS SDKs read. A dry run, a create to
//! `enabled` with the location registered, two data sources created, listed, soft-deleted
//! and removed, a prefix outside the location refused, an overlapping second integration
//! refused, and a delete to `deleted` with the location gone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use common::{Backend, SHIPPED, Server};
use serde_json::{Value, json};
use warden_e2e::access_grants::{self, Grants};

struct Aws {
    moto: String,
    key_id: String,
    secret: String,
}

fn aws() -> Option<Aws> {
    let vars =
        ["WARDEN_TEST_MOTO_URL", "WARDEN_TEST_MOTO_ACCESS_KEY_ID", "WARDEN_TEST_MOTO_SECRET_KEY"].map(std::env::var);
    let [Ok(moto), Ok(key_id), Ok(secret)] = vars else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs moto and its test user (cargo xtask ci)");
        eprintln!("moto is not configured: skipped");
        return None;
    };
    Some(Aws { moto, key_id, secret })
}

/// A bucket in moto with objects under `raw/events/` and `raw/clicks/`, made over moto's S3
/// REST API with the test user's key (the same SDK the adapter uses).
async fn bucket(aws: &Aws, name: &str) {
    warden_platform::reach::set_aws_endpoint("S3", &aws.moto);
    let spec = warden_model::IntegrationSpec::from_value(&payload(aws, name, "raw"), None).unwrap();
    let warden_model::PlatformConfig::NativeS3(config) = &spec.config else { panic!() };
    let clients = warden_s3::aws::clients(config).await.unwrap();
    clients.s3.create_bucket().bucket(name).send().await.unwrap();
    for key in ["raw/events/part-0.json", "raw/clicks/part-0.json"] {
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"{}");
        clients.s3.put_object().bucket(name).key(key).body(body).send().await.unwrap();
    }
}

fn payload(aws: &Aws, bucket: &str, prefix: &str) -> Value {
    json!({"type": "Native S3", "autoBootstrap": false, "config": {"name": format!("lake-{prefix}"),
        "awsAccountId": access_grants::ACCOUNT, "awsRegion": "us-east-1",
        "awsLocationRole": "arn:aws:iam::123456789012:role/grants-location",
        "awsLocationPath": format!("s3://{bucket}/{prefix}"), "authenticationType": "accessKey",
        "awsAccessKeyId": aws.key_id, "awsSecretAccessKey": aws.secret}})
}

#[tokio::test]
async fn a_location_and_its_data_sources_end_to_end() {
    let Some(aws) = aws() else { return };
    let name = format!("warden-e2e-{}", std::process::id());
    bucket(&aws, &name).await;
    let grants = Grants { instance: true, key: Some((aws.key_id.clone(), aws.secret.clone())), ..Grants::default() };
    let (control, stand_in) = access_grants::start(grants).await;
    let env = [
        ("AWS_ENDPOINT_URL_STS", aws.moto.as_str()),
        ("AWS_ENDPOINT_URL_S3", aws.moto.as_str()),
        ("AWS_ENDPOINT_URL_S3_CONTROL", control.as_str()),
    ];
    let server = Server::start_binary_with_env(SHIPPED, &Backend::Sqlite, tempfile::tempdir().unwrap(), &env).await;
    let lake = payload(&aws, &name, "raw");

    let dry = server.call("POST", "/integrations?dryRun=true", Some(&lake)).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let statuses: Vec<&str> = dry.body["validationResults"]["validationTests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["passed"; 7], "{}", dry.text);

    let created = server.call("POST", "/integrations", Some(&lake)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    assert_eq!(stand_in.lock().unwrap().locations.len(), 1, "the location is registered");

    // An overlapping second integration is refused before anything is asked of AWS.
    let inner = server.call("POST", "/integrations", Some(&payload(&aws, &name, "raw/events"))).await;
    assert_eq!(inner.status, 409, "{}", inner.text);

    let sources = json!({"type": "Native S3", "integrationId": id, "dataSources": [
        {"dataSourceName": "events", "prefix": format!("s3://{name}/raw/events")},
        {"dataSourceName": "clicks", "prefix": format!("s3://{name}/raw/clicks")}]});
    let registered = server.call("POST", "/native-s3/handler", Some(&sources)).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let ids: Vec<u64> =
        registered.body.as_array().unwrap().iter().map(|d| d["dataSourceId"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{}", registered.text);
    let again = server.call("POST", "/native-s3/handler", Some(&sources)).await;
    assert_eq!(again.status, 409, "names are unique: {}", again.text);
    let outside = json!({"type": "Native S3", "integrationId": id,
        "dataSources": [{"dataSourceName": "elsewhere", "prefix": format!("s3://{name}/other")}]});
    let refused = server.call("POST", "/native-s3/handler", Some(&outside)).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["errors"][0]["path"], "dataSources[0].prefix", "{}", refused.text);

    let listed = server.call("GET", &format!("/native-s3/handler/{id}"), None).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(2), "{}", listed.text);
    let first = server.call("DELETE", &format!("/dataSource/{}", ids[0]), None).await;
    assert_eq!((first.status, first.body["status"].as_str()), (200, Some("deleted")), "{}", first.text);
    let second = server.call("DELETE", &format!("/dataSource/{}", ids[0]), None).await;
    assert_eq!(second.status, 204, "{}", second.text);
    let third = server.call("DELETE", &format!("/dataSource/{}", ids[0]), None).await;
    assert_eq!(third.status, 404, "{}", third.text);

    // A removal AWS refuses leaves the integration, and its data sources, as they were.
    stand_in.lock().unwrap().deny_deletes = true;
    let refused = server.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(refused.status, 200, "{}", refused.text);
    let status = server.settled(id).await;
    assert_eq!(status["status"], "deleteError", "{status}");
    let kept = server.call("GET", &format!("/native-s3/handler/{id}"), None).await;
    assert_eq!(kept.body[0]["status"], "active", "a failed removal takes no data source: {}", kept.text);
    assert_eq!(stand_in.lock().unwrap().locations.len(), 1);
    stand_in.lock().unwrap().deny_deletes = false;

    let deleted = server.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", server.logs());
    assert!(stand_in.lock().unwrap().locations.is_empty(), "the location is gone");
    let left = server.call("GET", &format!("/native-s3/handler/{id}"), None).await;
    assert_eq!(left.body[0]["status"], "deleted", "the data source went with its integration: {}", left.text);
    for answer in [&dry, &created, &registered, &listed, &deleted] {
        assert!(!answer.text.contains(&aws.secret), "the secret key reached a response");
    }
    assert!(!server.logs().contains(&aws.secret), "the secret key reached the log");
}
