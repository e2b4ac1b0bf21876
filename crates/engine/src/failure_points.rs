//! The worker stopped on purpose at each named failure point, as a process that dies there
//! would stop, for a create, an edit and a delete: after a restart (a new engine over the
//! same store) no integration is left in a transitional status, each has its error status and
//! the recovery message, and an edit that was stopped left the previous config in force.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::watch;
use warden_model::{IntegrationType, Status};
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, Descriptor, Platform, PlatformError, SetupModel, TestId,
};
use warden_store::{MasterKey, Store};

use crate::{Actor, Engine, EngineOptions, FailurePoint, Outcome, Platforms};

/// A platform whose checks pass and which counts the changes it is asked to make.
#[derive(Default)]
struct Counting {
    applied: AtomicUsize,
}

static COUNTING: Descriptor = Descriptor::new(IntegrationType::Redshift, SetupModel::PrivilegedOnce, &[]);

#[async_trait]
impl Platform for Counting {
    fn descriptor(&self) -> &'static Descriptor {
        &COUNTING
    }

    async fn check(&self, _test: TestId, _context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        Ok(CheckOutcome::Passed)
    }

    async fn apply(&self, _change: Change<'_>) -> Result<Applied, PlatformError> {
        self.applied.fetch_add(1, Ordering::SeqCst);
        Ok(Applied::NOTHING)
    }
}

fn payload(impersonation: bool) -> serde_json::Value {
    json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": "failpoint.example.com",
        "database": "warden", "authenticationType": "userPassword", "username": "warden_system",
        "password": "pw", "impersonation": {"enabled": impersonation}}})
}

fn options() -> EngineOptions {
    EngineOptions {
        poll_interval: Duration::from_millis(20),
        shutdown_grace: Duration::from_millis(200),
        lease: Duration::from_secs(3),
        ..EngineOptions::default()
    }
}

/// Waits until the integration leaves `status` or 2 s pass (a job stopped on purpose leaves
/// it there), and a moment more for the job to end.
async fn work(engine: &Arc<Engine>, id: warden_model::IntegrationId, status: Status) {
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if engine.store.get_integration(id).await.unwrap().unwrap().status != status {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn accepted(outcome: Outcome) -> warden_model::IntegrationId {
    match outcome {
        Outcome::Accepted(accepted) => accepted.integration.id,
        Outcome::DryRun(_) => panic!("a dry run"),
    }
}

#[tokio::test]
async fn a_worker_stopped_at_any_point_leaves_an_error_status_and_the_previous_config() {
    let points = [FailurePoint::BeforeChange, FailurePoint::AfterChange];
    for point in points {
        for operation in ["create", "edit", "delete"] {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(Store::open_sqlite(dir.path(), MasterKey::generate().unwrap()).await.unwrap());
            let platform = Arc::new(Counting::default());
            let platforms = Platforms::new().with(Arc::clone(&platform) as Arc<dyn Platform>);
            let engine = Engine::new(Arc::clone(&store), platforms.clone(), options());
            let (stop, stopped) = watch::channel(false);
            let worker = tokio::spawn(Arc::clone(&engine).run_worker(stopped));
            let actor = Actor::warden();
            if operation != "create" {
                let id = accepted(engine.create(&payload(false), false, &actor, "http://x").await.unwrap());
                work(&engine, id, Status::Creating).await;
                assert_eq!(store.get_integration(id).await.unwrap().unwrap().status, Status::Enabled);
            }
            *engine.fail_at.lock().unwrap() = Some(point);
            let applied_before = platform.applied.load(Ordering::SeqCst);
            let (id, running) = match operation {
                "create" => (
                    accepted(engine.create(&payload(false), false, &actor, "http://x").await.unwrap()),
                    Status::Creating,
                ),
                "edit" => {
                    let id = store.list_integrations(false).await.unwrap()[0].id;
                    accepted(engine.update(id, &payload(true), false, &actor).await.unwrap());
                    (id, Status::Editing)
                }
                _ => {
                    let id = store.list_integrations(false).await.unwrap()[0].id;
                    accepted(engine.delete(id, None, false, false, &actor).await.unwrap());
                    (id, Status::Deleting)
                }
            };
            work(&engine, id, running).await;
            stop.send(true).unwrap();
            worker.await.unwrap();
            let stopped = store.get_integration(id).await.unwrap().unwrap();
            assert_eq!(stopped.status, running, "{point:?}/{operation}: the job stopped in {running}");
            let expected_applies = usize::from(point == FailurePoint::AfterChange);
            assert_eq!(platform.applied.load(Ordering::SeqCst) - applied_before, expected_applies, "{point:?}");

            // A restart: a new engine over the same store recovers before it serves.
            let restarted = Engine::new(Arc::clone(&store), platforms, options());
            restarted.recover_on_start().await.unwrap();
            let after = store.get_integration(id).await.unwrap().unwrap();
            let expected = match operation {
                "create" => Status::CreateError,
                "edit" => Status::EditError,
                _ => Status::DeleteError,
            };
            assert_eq!(after.status, expected, "{point:?}/{operation}");
            let message = after.status_message.unwrap_or_default();
            assert!(message.contains("Warden stopped while"), "{point:?}/{operation}: {message}");
            let config = after.spec.redacted();
            if operation == "edit" {
                assert_eq!(
                    config["config"]["impersonation"]["enabled"], false,
                    "{point:?}: the previous config is in force"
                );
            }
        }
    }
}
