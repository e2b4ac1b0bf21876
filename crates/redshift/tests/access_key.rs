//! `authenticationType: accessKey` against a local AWS emulator (moto, server mode, which
//! checks SigV4 signatures once `xtask/moto_setup.py` has made its user and cluster; the
//! xtask names the user's key in `WARDEN_TEST_MOTO_ACCESS_KEY_ID` and `..._SECRET_KEY`) and the
//! test PostgreSQL: Warden signs `GetClusterCredentials`, gets the temporary user and
//! password, and logs in with them. PostgreSQL has no user `IAM:awsuser`, so the login
//! itself is refused by the server, naming that user: proof that the whole chain ran. A
//! wrong secret key is refused by the emulator's signature check, and never shown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

use serde_json::{Value, json};
use warden_model::IntegrationSpec;
use warden_platform::{Phase, Platform as _};
use warden_redshift::Redshift;

/// moto's URL, its test user's key id and secret, and PostgreSQL's URL.
fn environment() -> Option<(String, String, String, String)> {
    let vars = [
        "WARDEN_TEST_MOTO_URL",
        "WARDEN_TEST_MOTO_ACCESS_KEY_ID",
        "WARDEN_TEST_MOTO_SECRET_KEY",
        "WARDEN_TEST_POSTGRES_URL",
    ]
    .map(std::env::var);
    match vars {
        [Ok(moto), Ok(key), Ok(secret), Ok(postgres)] => Some((moto, key, secret, postgres)),
        _ => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI=true needs moto with its test user, and PostgreSQL (cargo xtask ci)"
            );
            eprintln!("moto or PostgreSQL is not configured: skipped");
            None
        }
    }
}

fn spec(postgres: &str, moto: &str, key: &str, secret: &str, cluster: &str) -> IntegrationSpec {
    let url = url::Url::parse(postgres).unwrap();
    let payload: Value = json!({"type": "Redshift", "autoBootstrap": false, "config": {
        "host": url.host_str().unwrap(), "port": url.port().unwrap(), "database": "postgres",
        "authenticationType": "accessKey", "databaseUser": "awsuser", "accessKeyId": key, "secretKey": secret,
        "connectArgs": format!("cluster_identifier={cluster}&region=us-east-1&aws_endpoint_url={moto}")}});
    IntegrationSpec::from_value(&payload, None).unwrap()
}

/// Opens the connection the checks of a validation run share (where the connection test's
/// failure comes from), expecting the login to fail.
async fn connection_test(spec: &IntegrationSpec) -> String {
    match Redshift::new().open(spec, Phase::Installed).await {
        Err(error) => error.to_string(),
        Ok(session) => panic!("expected the login to fail, got {session:?}"),
    }
}

#[tokio::test]
async fn access_keys_get_temporary_credentials_from_a_signed_get_cluster_credentials() {
    let Some((moto, key, secret, postgres)) = environment() else { return };
    let (key, secret) = (key.as_str(), secret.as_str());

    let message = connection_test(&spec(&postgres, &moto, key, secret, "warden-test")).await;
    assert!(message.contains("password authentication failed for user \"IAM:awsuser\""), "{message}");

    let wrong = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGKEY";
    let message = connection_test(&spec(&postgres, &moto, key, wrong, "warden-test")).await;
    assert!(message.contains("SignatureDoesNotMatch"), "{message}");
    assert!(!message.contains(wrong) && !message.contains(secret), "a secret reached the message: {message}");

    let message = connection_test(&spec(&postgres, &moto, key, secret, "no-such-cluster")).await;
    assert!(message.contains("ClusterNotFound"), "{message}");
}
