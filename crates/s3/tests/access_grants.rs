//! Access Grants against the STAND-IN of `tests/src/access_grants.rs` (included here; it says
//! what it follows and that it checks every request's SigV4 signature): a location
//! registered, checked and removed with its grants, and the requests the adapter made.

#![allow(clippy::unwrap_used)] // a panic is a failed test

#[path = "../../../tests/src/access_grants.rs"]
mod stand_in;

use std::sync::Arc;

use serde_json::json;
use stand_in::{ACCOUNT, Grants, KEY_ID, SECRET};
use warden_model::IntegrationSpec;
use warden_platform::catalogue::S3Test;
use warden_platform::{Change, CheckContext, CheckOutcome, NoRecords, Phase, Platform as _, Session, TestId};
use warden_s3::NativeS3;

fn spec(secret: &str, path: &str) -> IntegrationSpec {
    IntegrationSpec::from_value(
        &json!({"type": "Native S3", "autoBootstrap": false, "config": {"name": "lake", "awsAccountId": ACCOUNT,
            "awsRegion": "us-east-1", "awsLocationRole": "arn:aws:iam::123456789012:role/grants-location",
            "awsLocationPath": path, "authenticationType": "accessKey", "awsAccessKeyId": KEY_ID,
            "awsSecretAccessKey": secret}}),
        None,
    )
    .unwrap()
}

/// One test: the stand-in's endpoint is process-wide, so its steps run in order.
#[tokio::test]
async fn a_location_is_registered_checked_and_removed_with_its_grants() {
    let (url, grants) = stand_in::start(Grants { instance: true, ..Grants::default() }).await;
    warden_platform::reach::set_aws_endpoint("S3_CONTROL", &url);
    let spec = spec(SECRET, "s3://acme-lake/raw");
    let applied = NativeS3.apply(Change::Create { spec: &spec, privileged: None }).await.unwrap();
    let state = applied.state.unwrap();
    assert_eq!(state, json!({"accessGrantsLocationId": "loc0001"}));
    {
        let g = grants.lock().unwrap();
        assert_eq!(
            g.locations,
            [(
                "loc0001".to_owned(),
                "s3://acme-lake/raw".to_owned(),
                "arn:aws:iam::123456789012:role/grants-location".to_owned()
            )]
        );
    }
    // The location now exists: a second create is refused by the service.
    let again = NativeS3.apply(Change::Create { spec: &spec, privileged: None }).await.unwrap_err().to_string();
    assert!(
        again.contains("name [AccessGrantsLocationAlreadyExistsError]") && again.contains("request ID [standin-req-1]"),
        "{again}"
    );

    // A grant inside the location (made there by Warden's data sources) goes with it.
    grants.lock().unwrap().grants.push(("grant-1".into(), "loc0001".into()));
    grants.lock().unwrap().requests.clear();
    NativeS3.apply(Change::Delete { spec: &spec, privileged: None, state: Some(&state) }).await.unwrap();
    {
        let g = grants.lock().unwrap();
        assert!(g.locations.is_empty() && g.grants.is_empty());
        let asked: Vec<String> = g.requests.iter().map(|(m, p)| format!("{m} {p}")).collect();
        assert_eq!(
            asked,
            [
                "GET /v20180820/accessgrantsinstance/grants",
                "DELETE /v20180820/accessgrantsinstance/grant/grant-1",
                "DELETE /v20180820/accessgrantsinstance/location/loc0001",
            ]
        );
    }
    // A delete again (after one that stopped part way) goes past what is gone.
    NativeS3.apply(Change::Delete { spec: &spec, privileged: None, state: Some(&state) }).await.unwrap();

    // A key the service does not know is refused by its signature check, never shown.
    let wrong = spec_with_wrong_key();
    let refused = NativeS3.apply(Change::Create { spec: &wrong, privileged: None }).await.unwrap_err().to_string();
    assert!(refused.contains("name [SignatureDoesNotMatch]"), "{refused}");
    assert!(!refused.contains("Wrong"), "{refused}");

    // The two Access Grants checks, on a session of the same clients: a location already
    // registered for the path fails the one, an account without an instance the other.
    NativeS3.apply(Change::Create { spec: &spec, privileged: None }).await.unwrap();
    let outcome = |test| check(&spec, test);
    let registered = outcome(S3Test::NoAccessGrantsLocation).await;
    assert!(
        matches!(&registered, CheckOutcome::Failed(f) if f.detail == "(location loc0002 is registered for s3://acme-lake/raw)"),
        "{registered:?}"
    );
    assert_eq!(outcome(S3Test::AccessGrantsInstance).await, CheckOutcome::Passed);
    grants.lock().unwrap().instance = false;
    let missing = outcome(S3Test::AccessGrantsInstance).await;
    assert!(
        matches!(&missing, CheckOutcome::Failed(f) if f.detail.starts_with("AWS responded with code [404], name [NoSuchAccessGrantsInstanceError]")),
        "{missing:?}"
    );
}

async fn check(spec: &IntegrationSpec, test: S3Test) -> CheckOutcome {
    let warden_model::PlatformConfig::NativeS3(config) = &spec.config else { panic!() };
    let clients = warden_s3::aws::clients(config).await.unwrap();
    let session = Session::new(warden_s3::Run { clients, identity: String::new() });
    let context = CheckContext {
        spec: Arc::new(spec.clone()),
        phase: Phase::Request,
        integration_id: None,
        session: Some(Arc::new(session)),
        registry: Arc::new(NoRecords),
    };
    NativeS3.check(TestId::S3(test), &context).await.unwrap()
}

fn spec_with_wrong_key() -> IntegrationSpec {
    spec("Wrong/Secret+Key0123456789abcdefghijkl", "s3://acme-lake/other")
}
