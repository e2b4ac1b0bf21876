//! Redshift with `authenticationType: okta`, end to end through the shipped binary: the Okta
//! stand-in (`src/okta.rs`, Okta's authentication API and app SSO link), moto for STS
//! `AssumeRoleWithSAML` and Redshift `GetClusterCredentials` (the instance `cargo xtask ci`
//! starts without signature checks, since AWS takes `AssumeRoleWithSAML` unsigned), and the
//! test PostgreSQL, which trusts the one database user the assertion names
//! (`IAM:okta_trusted`; moto makes its password up). A dry run passes through all four steps
//! and the login, and fails at each step with a message that names the step and the
//! provider's error code; no secret of the chain reaches an answer or the log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::collections::HashMap;

use common::{Backend, SHIPPED, Server, pg_admin};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};
use warden_e2e::okta::{Org, User};

const ROLE: &str = "arn:aws:iam::123456789012:role/warden-redshift";
const PROVIDER: &str = "arn:aws:iam::123456789012:saml-provider/Okta";
const APP_ID: &str = "0oa1warden";
const OKTA_PASSWORD: &str = "S3CRET-okta-password";

fn moto_unsigned() -> Option<String> {
    match std::env::var("WARDEN_TEST_MOTO_UNSIGNED_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs the unsigned moto (cargo xtask ci)");
            eprintln!("WARDEN_TEST_MOTO_UNSIGNED_URL is not set: skipped");
            None
        }
    }
}

/// Creates the cluster `GetClusterCredentials` names, in moto (routed by the credential
/// scope of an Authorization header moto does not check).
async fn create_cluster(moto: &str, cluster: &str) {
    let form = [
        ("Action", "CreateCluster"),
        ("Version", "2012-12-01"),
        ("ClusterIdentifier", cluster),
        ("NodeType", "dc2.large"),
        ("MasterUsername", "admin"),
        ("MasterUserPassword", "Passw0rd1"),
    ];
    let answer = common::http()
        .post(moto)
        .header("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/us-east-1/redshift/aws4_request, SignedHeaders=host, Signature=0")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
}

fn payload(
    pg: &common::PgAdmin,
    okta_port: u16,
    username: &str,
    password: &str,
    app_id: &str,
    role: &str,
    cluster: &str,
) -> Value {
    json!({"type": "Redshift", "autoBootstrap": false, "config": {
        "host": pg.host, "port": pg.port, "database": "postgres", "authenticationType": "okta",
        "okta": {"username": username, "password": password, "appId": app_id, "idpHost": "127.0.0.1", "role": role},
        "connectArgs": format!("cluster_identifier={cluster};region=us-east-1;idp_port={okta_port}")}})
}

/// The connection test's status and message of a dry run.
async fn connection_test(server: &Server, payload: &Value) -> (String, String) {
    let answer = server.call("POST", "/integrations?dryRun=true", Some(payload)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let test = &answer.body["validationResults"]["validationTests"][0];
    assert_eq!(test["name"], "Initial validation: basic connection test", "{}", answer.text);
    (test["status"].as_str().unwrap().to_owned(), answer.text.clone())
}

#[tokio::test]
async fn a_dry_run_signs_in_through_okta_and_each_step_names_its_failure() {
    let (Some(pg), Some(moto)) = (pg_admin(), moto_unsigned()) else { return };
    let cluster = format!("warden-okta-{}", std::process::id());
    create_cluster(&moto, &cluster).await;
    // The database user the assertion names logs in without a password (the test
    // PostgreSQL trusts it; see xtask/src/postgres.rs); it must exist.
    let mut admin = PgConnection::connect(&pg.admin_url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'IAM:okta_trusted') THEN CREATE ROLE \"IAM:okta_trusted\" LOGIN; END IF; END $$".to_owned(),
    ))
    .execute(&mut admin)
    .await
    .unwrap();

    let users = [("svc-warden", false), ("mfa-user", true)].map(|(name, mfa)| {
        (name.to_owned(), User { username: name.to_owned(), password: OKTA_PASSWORD.to_owned(), mfa })
    });
    let okta = warden_e2e::okta::start(Org {
        users: HashMap::from(users),
        app_id: APP_ID.to_owned(),
        roles: vec![format!("{ROLE},{PROVIDER}")],
        db_user: "okta_trusted".to_owned(),
        ..Org::default()
    })
    .await;
    let temp = tempfile::tempdir().unwrap();
    let server = Server::start_binary_with_env(
        SHIPPED,
        &Backend::Sqlite,
        temp,
        &[("AWS_ENDPOINT_URL", moto.as_str()), ("RUST_LOG", "debug")],
    )
    .await;
    let good = || payload(&pg, okta.port, "svc-warden", OKTA_PASSWORD, APP_ID, ROLE, &cluster);

    // All four steps and the login: the dry run passes.
    let answer = server.call("POST", "/integrations?dryRun=true", Some(&good())).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["validationResults"]["status"], "passed", "{}", answer.text);

    // Each step fails for its own reason, named.
    let mut cases = vec![
        (
            payload(&pg, okta.port, "svc-warden", "wrong-password", APP_ID, ROLE, &cluster),
            vec!["step 1", "E0000004", "okta.username and okta.password"],
        ),
        (
            payload(&pg, okta.port, "mfa-user", OKTA_PASSWORD, APP_ID, ROLE, &cluster),
            vec!["step 1", "MFA_REQUIRED", "exempts from MFA"],
        ),
        (
            payload(&pg, okta.port, "svc-warden", OKTA_PASSWORD, "0oaNOPE", ROLE, &cluster),
            vec!["step 2", "HTTP 404", "okta.appId"],
        ),
        (
            payload(
                &pg,
                okta.port,
                "svc-warden",
                OKTA_PASSWORD,
                APP_ID,
                "arn:aws:iam::123456789012:role/other",
                &cluster,
            ),
            vec!["step 3", "does not offer okta.role", "warden-redshift"],
        ),
        (
            payload(&pg, okta.port, "svc-warden", OKTA_PASSWORD, APP_ID, ROLE, "no-such-cluster"),
            vec!["step 4", "ClusterNotFound"],
        ),
    ];
    // Okta not answering at all is step 1 too.
    let mut silent = good();
    silent["config"]["connectArgs"] = json!(format!("cluster_identifier={cluster};region=us-east-1;idp_port=9"));
    cases.push((silent, vec!["step 1", "could not connect"]));
    for (payload, expected) in cases {
        let (status, text) = connection_test(&server, &payload).await;
        assert_eq!(status, "failed", "{text}");
        for words in expected {
            assert!(text.contains(words), "{words:?} missing from {text}");
        }
        assert!(!text.contains(OKTA_PASSWORD), "the Okta password reached an answer: {text}");
    }

    // No secret of the chain reached the log: the password, the session tokens, the SAML
    // responses (and so nothing of the AWS credentials read from them).
    let logs = server.logs();
    assert!(logs.contains("DEBUG"), "the log is at debug level");
    assert!(!logs.contains(OKTA_PASSWORD), "the Okta password reached the log");
    for issued in okta.issued() {
        assert!(!logs.contains(&issued), "a session token or SAML response reached the log");
    }
    assert!(!logs.contains("SecretAccessKey") && !logs.contains("SessionToken"), "AWS credentials reached the log");
}
