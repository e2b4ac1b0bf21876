//! The two S3 checks that read Warden's own records (through the contract's registry, here
//! one holding a single stored integration): no other integration on an overlapping
//! location of the same account and region, and a name no other integration uses, failing
//! with the reference's message and its values. They need no AWS: the run's session is not
//! opened for them when every other test is left out, so they are run here one by one.

#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use warden_model::{IntegrationId, IntegrationSpec, IntegrationType, Status};
use warden_platform::catalogue::S3Test;
use warden_platform::{
    CheckContext, CheckOutcome, DataSource, Phase, Platform as _, PlatformError, Registered, Registry, TestId,
};
use warden_s3::NativeS3;

fn payload(name: &str, path: &str) -> Value {
    json!({"type": "Native S3", "autoBootstrap": false, "config": {"name": name, "awsAccountId": "123456789012",
        "awsRegion": "us-east-1", "awsLocationRole": "arn:aws:iam::123456789012:role/grants",
        "awsLocationPath": path, "authenticationType": "auto"}})
}

/// Warden's records: integration 7, named `lake`, on `s3://acme/raw`.
struct One;

#[async_trait]
impl Registry for One {
    async fn integrations(&self, _: IntegrationType) -> Result<Vec<Registered>, PlatformError> {
        let spec = IntegrationSpec::from_value(&payload("lake", "s3://acme/raw"), None).unwrap();
        Ok(vec![Registered { id: IntegrationId::new(7).unwrap(), status: Status::Enabled, spec }])
    }

    async fn data_sources(&self, _: IntegrationType) -> Result<Vec<DataSource>, PlatformError> {
        Ok(Vec::new())
    }
}

async fn check(test: S3Test, name: &str, path: &str, me: Option<u64>) -> CheckOutcome {
    let spec = Arc::new(IntegrationSpec::from_value(&payload(name, path), None).unwrap());
    let context = CheckContext {
        spec,
        phase: Phase::Request,
        integration_id: me.and_then(IntegrationId::new),
        session: None,
        registry: Arc::new(One),
    };
    NativeS3.check(TestId::S3(test), &context).await.unwrap()
}

#[tokio::test]
async fn an_overlapping_location_of_another_integration_fails() {
    let inside = check(S3Test::NoExistingIntegration, "other", "s3://acme/raw/2026", None).await;
    assert!(matches!(&inside, CheckOutcome::Failed(f) if f.detail.contains("integration 7")), "{inside:?}");
    let outside = check(S3Test::NoExistingIntegration, "other", "s3://acme/rawer", None).await;
    assert_eq!(outside, CheckOutcome::Passed, "a sibling prefix does not overlap");
    let itself = check(S3Test::NoExistingIntegration, "lake", "s3://acme/raw", Some(7)).await;
    assert_eq!(itself, CheckOutcome::Passed, "an integration does not conflict with itself");
}

#[tokio::test]
async fn a_name_another_integration_uses_fails_with_its_values() {
    let taken = check(S3Test::NameUnique, "lake", "s3://other/x", None).await;
    let CheckOutcome::Failed(failure) = &taken else { panic!("{taken:?}") };
    assert_eq!(failure.values, [("name", "lake".to_owned()), ("id", "7".to_owned())]);
    assert_eq!(check(S3Test::NameUnique, "lake2", "s3://other/x", None).await, CheckOutcome::Passed);
}
