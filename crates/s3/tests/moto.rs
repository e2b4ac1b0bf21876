//! The S3 adapter's checks over the AWS SDK against moto (server mode, which `cargo xtask ci`
//! starts and names in `WARDEN_TEST_MOTO_URL`; it checks every request's SigV4 signature with
//! the key of the test user `xtask/moto_setup.py` made, named in
//! `WARDEN_TEST_MOTO_ACCESS_KEY_ID` / `..._SECRET_KEY`): the caller's identity (STS) and the
//! listable path (S3) passing and failing for real. moto has no Access Grants: its S3 Control
//! answers their calls with 404, which the two Access Grants checks report in the
//! reference's words.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use warden_model::{IntegrationSpec, TestStatus};
use warden_platform::{CheckContext, NoRecords, Phase};
use warden_s3::NativeS3;
use warden_validation::{RunOptions, validate};

struct Moto {
    key_id: String,
    secret: String,
}

/// moto, with every AWS client of this process sent to it.
fn moto() -> Option<Moto> {
    let vars =
        ["WARDEN_TEST_MOTO_URL", "WARDEN_TEST_MOTO_ACCESS_KEY_ID", "WARDEN_TEST_MOTO_SECRET_KEY"].map(std::env::var);
    let [Ok(url), Ok(key_id), Ok(secret)] = vars else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs moto and its test user (cargo xtask ci)");
        eprintln!("moto is not configured: skipped");
        return None;
    };
    for service in ["STS", "S3", "S3_CONTROL"] {
        warden_platform::reach::set_aws_endpoint(service, &url);
    }
    Some(Moto { key_id, secret })
}

fn payload(moto: &Moto, secret: &str, path: &str) -> Value {
    json!({"type": "Native S3", "autoBootstrap": false, "config": {"name": "lake", "awsAccountId": "123456789012",
        "awsRegion": "us-east-1", "awsLocationRole": "arn:aws:iam::123456789012:role/access-grants-location",
        "awsLocationPath": path, "authenticationType": "accessKey", "awsAccessKeyId": moto.key_id,
        "awsSecretAccessKey": secret}})
}

async fn run(payload: &Value) -> HashMap<String, (TestStatus, Option<String>)> {
    let spec = Arc::new(IntegrationSpec::from_value(payload, None).unwrap());
    let context = CheckContext {
        spec,
        phase: Phase::Request,
        integration_id: None,
        session: None,
        registry: Arc::new(NoRecords),
    };
    let results = validate(Arc::new(NativeS3), context, RunOptions::default()).await.unwrap();
    results.validation_tests.into_iter().map(|t| (t.name, (t.status, t.message))).collect()
}

const STS: &str = "The provided AWS credentials allow fetching the caller's identity via the AWS STS API";
const PATH: &str = "The provided S3 path exists and Warden can list prefixes";
const INSTANCE: &str = "An AWS Access Grants instance is configured in the provided AWS account and region";

/// A bucket with one object under `raw/`, made with the test user's key.
async fn bucket(moto: &Moto, name: &str) {
    let spec = IntegrationSpec::from_value(&payload(moto, &moto.secret, &format!("s3://{name}")), None).unwrap();
    let warden_model::PlatformConfig::NativeS3(config) = &spec.config else { panic!() };
    let clients = warden_s3::aws::clients(config).await.unwrap();
    clients.s3.create_bucket().bucket(name).send().await.unwrap();
    let body = aws_sdk_s3::primitives::ByteStream::from_static(b"{}");
    clients.s3.put_object().bucket(name).key("raw/2026/part-0.json").body(body).send().await.unwrap();
}

#[tokio::test]
async fn the_identity_and_the_path_pass_and_fail_for_real() {
    let Some(moto) = moto() else { return };
    let name = format!("warden-lake-{}", std::process::id());
    bucket(&moto, &name).await;
    let found = run(&payload(&moto, &moto.secret, &format!("s3://{name}/raw"))).await;
    assert_eq!(found[STS].0, TestStatus::Passed, "{found:?}");
    let identity = found[STS].1.as_deref().unwrap();
    assert!(
        identity.starts_with("Found user ID [")
            && identity.contains("ARN [arn:aws:iam::123456789012:user/warden] using STS."),
        "{identity}"
    );
    assert_eq!(found[PATH].0, TestStatus::Passed, "{found:?}");
    let (status, message) = &found[INSTANCE];
    assert_eq!(*status, TestStatus::Failed, "moto has no Access Grants");
    let message = message.as_deref().unwrap();
    assert!(
        message.starts_with("Unable to retrieve the access grants instance for the account and region."),
        "{message}"
    );
    assert!(message.contains("AWS responded with code [404]"), "{message}");

    let missing = run(&payload(&moto, &moto.secret, &format!("s3://{name}-gone/raw"))).await;
    let (status, message) = &missing[PATH];
    assert_eq!(*status, TestStatus::Failed);
    let message = message.as_deref().unwrap();
    assert!(message.starts_with("Warden does not have access to the requested path."), "{message}");
    assert!(message.contains("name [NoSuchBucket]") && message.contains("for request ID ["), "{message}");
}

#[tokio::test]
async fn a_wrong_secret_fails_the_identity_test_and_never_shows() {
    let Some(moto) = moto() else { return };
    let wrong = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGKEY";
    let found = run(&payload(&moto, wrong, "s3://warden-any-bucket/raw")).await;
    let (status, message) = &found[STS];
    assert_eq!(*status, TestStatus::Failed, "{found:?}");
    let message = message.as_deref().unwrap();
    assert!(
        message.starts_with("Unable to fetch the caller's identity with the provided AWS credentials."),
        "{message}"
    );
    assert!(message.contains("SignatureDoesNotMatch") || message.contains("InvalidClientTokenId"), "{message}");
    assert!(!message.contains(wrong) && !message.contains(&moto.secret), "{message}");
    assert_eq!(found[PATH].0, TestStatus::Skipped, "{found:?}");
}

/// A data source's prefix must lie under the location, exist and be listable.
#[tokio::test]
async fn data_sources_lie_under_the_location_and_are_listed_for_real() {
    use warden_platform::{DataSourceRequest, Platform as _};
    let Some(moto) = moto() else { return };
    let name = format!("warden-sources-{}", std::process::id());
    bucket(&moto, &name).await;
    let spec = IntegrationSpec::from_value(&payload(&moto, &moto.secret, &format!("s3://{name}/raw")), None).unwrap();
    let request = |location: &str| DataSourceRequest { name: "events".into(), location: location.to_owned() };
    let outside = NativeS3.check_data_source(&spec, &request(&format!("s3://{name}/rawer"))).unwrap_err();
    assert_eq!(outside.path, "prefix");
    assert!(outside.message.contains("is not under the integration's awsLocationPath"), "{}", outside.message);
    assert!(NativeS3.check_data_source(&spec, &request(&format!("s3://{name}/raw/2026"))).is_ok());
    NativeS3.register_data_source(&spec, None, &request(&format!("s3://{name}/raw/2026"))).await.unwrap();
    let empty =
        NativeS3.register_data_source(&spec, None, &request(&format!("s3://{name}/raw/2027"))).await.unwrap_err();
    assert_eq!(empty.kind(), Some(warden_platform::ErrorKind::NotFound), "{empty}");
}

/// With `awsRoleToAssume`, the key assumes the role through STS and every call runs as it.
#[tokio::test]
async fn a_role_to_assume_is_assumed_with_the_key() {
    let Some(moto) = moto() else { return };
    let mut assumed = payload(&moto, &moto.secret, "s3://warden-any-bucket/raw");
    assumed["config"]["awsRoleToAssume"] = json!("arn:aws:iam::123456789012:role/warden-reader");
    let spec = IntegrationSpec::from_value(&assumed, None).unwrap();
    let warden_model::PlatformConfig::NativeS3(config) = &spec.config else { panic!() };
    let clients = warden_s3::aws::clients(config).await.unwrap();
    let identity = clients.sts.get_caller_identity().send().await.unwrap();
    let arn = identity.arn().unwrap_or_default();
    assert!(arn.contains(":assumed-role/warden-reader/warden"), "{arn}");
}
