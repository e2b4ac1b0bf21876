//! The adapter contract exercised through the engine by a probe adapter, one instance per
//! setup model: privileged credentials once (with platform state that later changes get
//! back), the platform's own identity (no DELETE body), manual only (with data sources and a
//! check that reads Warden's records), and nothing to set up (a callback key, no edits). A
//! check that aborts ends the request with its error code, and a change that hangs ends at
//! the change deadline in the error status.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::watch;
use warden_model::{ErrorCode, IntegrationId, IntegrationSpec, IntegrationType, Problem, Secret, Status};
use warden_platform::catalogue::{DatabricksTest, S3Test};
use warden_platform::{
    Applied, CallbackKey, Change, CheckContext, CheckOutcome, DataSourceRequest, Descriptor, Failure, Platform,
    PlatformError, SetupModel, TestId,
};
use warden_store::{MasterKey, Store};

use crate::{Actor, Engine, EngineError, EngineOptions, Outcome, Platforms};

/// What the probe was asked to do, in order: `(change, privileged given, state given)`.
type Seen = Mutex<Vec<(&'static str, bool, Option<Value>)>>;

/// A stand-in adapter that records what the engine gives it.
struct Probe {
    descriptor: &'static Descriptor,
    seen: Seen,
    /// Migrations that failed so far (a `failmigrate` host fails its first one only).
    failed_migrations: std::sync::atomic::AtomicUsize,
}

static PRIVILEGED: Descriptor = Descriptor::new(IntegrationType::Redshift, SetupModel::PrivilegedOnce, &["username"]);
static OWN_IDENTITY: Descriptor = Descriptor::new(IntegrationType::Databricks, SetupModel::OwnIdentity, &[]);
static MANUAL: Descriptor =
    Descriptor { data_sources: true, ..Descriptor::new(IntegrationType::NativeS3, SetupModel::ManualOnly, &[]) };
/// The same platforms, by a later Warden whose adapters create their objects differently.
static PRIVILEGED_V2: Descriptor = Descriptor {
    objects_version: 2,
    ..Descriptor::new(IntegrationType::Redshift, SetupModel::PrivilegedOnce, &["username"])
};
static MANUAL_V2: Descriptor = Descriptor {
    data_sources: true,
    objects_version: 2,
    ..Descriptor::new(IntegrationType::NativeS3, SetupModel::ManualOnly, &[])
};
static NOTHING: Descriptor = Descriptor {
    editable: false,
    callback_key: Some(CallbackKey { config_lines: |url, key| format!("endpoint={url}\nkey={key}\n") }),
    ..Descriptor::new(IntegrationType::Trino, SetupModel::Nothing, &[])
};

impl Probe {
    fn new(descriptor: &'static Descriptor) -> Arc<Self> {
        Arc::new(Self { descriptor, seen: Mutex::new(Vec::new()), failed_migrations: Default::default() })
    }

    fn seen(&self) -> Vec<(&'static str, bool, Option<Value>)> {
        self.seen.lock().unwrap().clone()
    }
}

fn host_has(spec: &IntegrationSpec, word: &str) -> bool {
    spec.host().contains(word)
}

#[async_trait]
impl Platform for Probe {
    fn descriptor(&self) -> &'static Descriptor {
        self.descriptor
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        Ok(match test {
            TestId::Databricks(DatabricksTest::Metastore) if host_has(&context.spec, "abort") => {
                CheckOutcome::Abort(ErrorCode::MetastoreLookupFailed)
            }
            // The probe's rule for the registry: no other S3 integration of the same account.
            TestId::S3(S3Test::NameUnique) => {
                let account = |spec: &IntegrationSpec| spec.redacted()["config"]["awsAccountId"].clone();
                let others = context.others().await?;
                match others.iter().find(|other| account(&other.spec) == account(&context.spec)) {
                    Some(other) => CheckOutcome::Failed(
                        Failure::new("")
                            .with("name", context.spec.redacted()["config"]["name"].as_str().unwrap_or(""))
                            .with("id", other.id),
                    ),
                    None => CheckOutcome::Passed,
                }
            }
            _ => CheckOutcome::Passed,
        })
    }

    fn system_account(
        &self,
        requested: &IntegrationSpec,
        current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        let password = match current {
            Some(current) => current.secrets().get("config.password").cloned().unwrap(),
            None => Secret::new("generated-by-the-probe".to_owned()),
        };
        let mut payload = requested.redacted();
        payload["config"]["username"] = json!("warden_system");
        let mut secrets = requested.secrets();
        secrets.insert("config.password".into(), password);
        IntegrationSpec::from_value(&payload, Some(&secrets)).map_err(|p| PlatformError::other(format!("{p:?}")))
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        let state = match change {
            Change::Create { .. } => None,
            Change::Edit { state, .. }
            | Change::Delete { state, .. }
            | Change::Migrate { state, .. }
            | Change::Cleanup { state, .. } => state.cloned(),
        };
        self.seen.lock().unwrap().push((change.name(), change.privileged().is_some(), state));
        if host_has(change.spec(), "hang") {
            std::future::pending::<()>().await;
        }
        Ok(match change {
            Change::Create { .. } => Applied::with_state(json!({"object": "made-by-create"})),
            Change::Edit { .. } => Applied::with_state(json!({"object": "moved-by-edit"})),
            Change::Migrate { from, spec, .. } => {
                if host_has(spec, "failmigrate")
                    && self.failed_migrations.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0
                {
                    return Err(PlatformError::new(
                        warden_platform::ErrorKind::Forbidden,
                        "the probe refused its first migration",
                    ));
                }
                Applied::with_state(json!({"object": format!("migrated-from-{from}")}))
            }
            Change::Delete { .. } | Change::Cleanup { .. } => Applied::NOTHING,
        })
    }

    fn check_data_source(&self, spec: &IntegrationSpec, request: &DataSourceRequest) -> Result<(), Problem> {
        let location = spec.redacted()["config"]["awsLocationPath"].as_str().unwrap_or_default().to_owned();
        if request.location.starts_with(&location) {
            Ok(())
        } else {
            Err(Problem { path: "prefix".into(), message: format!("must lie under {location}") })
        }
    }

    async fn register_data_source(
        &self,
        _spec: &IntegrationSpec,
        state: Option<&Value>,
        request: &DataSourceRequest,
    ) -> Result<Applied, PlatformError> {
        if request.name.contains("refused") {
            return Err(PlatformError::new(warden_platform::ErrorKind::Forbidden, "AccessDenied"));
        }
        Ok(Applied::with_state(json!({"grant": format!("grant-for-{}", request.name), "integration": state})))
    }
}

struct Harness {
    engine: Arc<Engine>,
    store: Arc<Store>,
    stop: watch::Sender<bool>,
    worker: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn harness(probes: &[Arc<Probe>], change_timeout: Duration) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_sqlite(dir.path(), MasterKey::generate().unwrap()).await.unwrap());
    harness_over(store, dir, probes, change_timeout)
}

/// A harness over an existing store (a later Warden over the same data).
fn harness_over(store: Arc<Store>, dir: tempfile::TempDir, probes: &[Arc<Probe>], change_timeout: Duration) -> Harness {
    let platforms =
        probes.iter().fold(Platforms::new(), |platforms, probe| platforms.with(Arc::clone(probe) as Arc<dyn Platform>));
    let options =
        EngineOptions { poll_interval: Duration::from_millis(20), change_timeout, ..EngineOptions::default() };
    let engine = Engine::new(Arc::clone(&store), platforms, options);
    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(Arc::clone(&engine).run_worker(stopped));
    Harness { engine, store, stop, worker, _dir: dir }
}

impl Harness {
    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.worker.await.unwrap();
    }

    /// Stops the worker and hands back the store (and its directory) for a later Warden.
    async fn stop_keeping_the_store(self) -> (Arc<Store>, tempfile::TempDir) {
        self.stop.send(true).unwrap();
        self.worker.await.unwrap();
        (self.store, self._dir)
    }

    /// Waits (up to 5 s) until the integration leaves its transitional status.
    async fn settled(&self, id: IntegrationId) -> warden_store::StoredIntegration {
        for _ in 0..250 {
            let integration = self.store.get_integration(id).await.unwrap().unwrap();
            if !integration.status.is_transitional() {
                return integration;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("integration {id} stayed transitional");
    }
}

fn accepted(outcome: Outcome) -> Box<crate::Accepted> {
    match outcome {
        Outcome::Accepted(accepted) => accepted,
        Outcome::DryRun(_) => panic!("a dry run"),
    }
}

fn rejected(error: EngineError) -> crate::Rejection {
    match error {
        EngineError::Rejected(rejection) => *rejection,
        other => panic!("expected a rejection, got {other}"),
    }
}

fn redshift(host: &str, impersonation: bool) -> Value {
    json!({"type": "Redshift", "autoBootstrap": true, "config": {"host": host, "database": "warden",
        "initialDatabase": "dev", "authenticationType": "userPassword", "username": "admin", "password": "pw",
        "impersonation": {"enabled": impersonation}}})
}

fn s3(name: &str, account: &str) -> Value {
    json!({"type": "Native S3", "autoBootstrap": false, "config": {"name": name, "awsAccountId": account,
        "awsRegion": "us-east-1", "awsLocationRole": format!("arn:aws:iam::{account}:role/grants"),
        "awsLocationPath": format!("s3://{name}/raw"), "authenticationType": "auto"}})
}

/// Privileged credentials once: every change gets them, the stored config is the system
/// account, and the platform state a change returns is stored and handed to the next change
/// (and cleared once the integration is removed).
#[tokio::test]
async fn privileged_setups_get_the_credentials_once_and_their_state_back() {
    let probe = Probe::new(&PRIVILEGED);
    let h = harness(&[Arc::clone(&probe)], Duration::from_secs(30)).await;
    let actor = Actor::warden();
    let id = accepted(h.engine.create(&redshift("probe.example.com", false), false, &actor, "http://x").await.unwrap())
        .integration
        .id;
    let created = h.settled(id).await;
    assert_eq!(created.status, Status::Enabled, "{:?}", created.status_message);
    assert_eq!(created.spec.redacted()["config"]["username"], "warden_system");
    assert_eq!(created.platform_state, Some(json!({"object": "made-by-create"})));

    h.engine.update(id, &redshift("probe.example.com", true), false, &actor).await.unwrap();
    let edited = h.settled(id).await;
    assert_eq!(edited.status, Status::Enabled);
    assert_eq!(edited.platform_state, Some(json!({"object": "moved-by-edit"})));

    let missing = h.engine.delete(id, None, false, false, &actor).await.unwrap_err();
    assert_eq!(rejected(missing).code, ErrorCode::PrivilegedCredentialsRequired);
    let body = json!({"config": {"username": "admin", "password": "pw"}});
    h.engine.delete(id, Some(&body), false, false, &actor).await.unwrap();
    let deleted = h.settled(id).await;
    assert_eq!(deleted.status, Status::Deleted);
    assert_eq!(deleted.platform_state, None, "a removed integration keeps no platform state");
    assert_eq!(
        probe.seen(),
        vec![
            ("create", true, None),
            ("edit", true, Some(json!({"object": "made-by-create"}))),
            ("delete", true, Some(json!({"object": "moved-by-edit"}))),
        ]
    );
    h.stop().await;
}

/// The platform's own identity: the automatic setup runs without credentials from the
/// request, and DELETE takes no body (a body is refused with Databricks' message).
#[tokio::test]
async fn own_identity_setups_need_no_credentials_in_any_request() {
    let probe = Probe::new(&OWN_IDENTITY);
    let h = harness(&[Arc::clone(&probe)], Duration::from_secs(30)).await;
    let actor = Actor::warden();
    let payload = json!({"type": "Databricks", "autoBootstrap": true, "config": {"workspaceUrl": "dbc-1.cloud.databricks.com",
        "httpPath": "/sql/1.0/warehouses/abc", "authenticationType": "token", "token": "dapi-secret"}});
    let id = accepted(h.engine.create(&payload, false, &actor, "http://x").await.unwrap()).integration.id;
    assert_eq!(h.settled(id).await.status, Status::Enabled);
    let body = json!({"config": {"token": "dapi-secret"}});
    let refused = h.engine.delete(id, Some(&body), false, false, &actor).await.unwrap_err();
    assert_eq!(rejected(refused).code, ErrorCode::DatabricksCredentialsNotRequired);
    h.engine.delete(id, None, false, false, &actor).await.unwrap();
    assert_eq!(h.settled(id).await.status, Status::Deleted);
    assert_eq!(
        probe.seen(),
        vec![("create", false, None), ("delete", false, Some(json!({"object": "made-by-create"})))]
    );
    h.stop().await;
}

/// A check that aborts ends the request with its error code (Databricks' 422), and nothing
/// is stored.
#[tokio::test]
async fn an_aborting_check_answers_its_error_code_and_stores_nothing() {
    let h = harness(&[Probe::new(&OWN_IDENTITY)], Duration::from_secs(30)).await;
    let payload = json!({"type": "Databricks", "autoBootstrap": false, "config": {"workspaceUrl": "abort.cloud.databricks.com",
        "httpPath": "/sql/1.0/warehouses/abc", "authenticationType": "token", "token": "dapi-secret"}});
    let error = h.engine.create(&payload, false, &Actor::warden(), "http://x").await.unwrap_err();
    let rejection = rejected(error);
    assert_eq!(rejection.code, ErrorCode::MetastoreLookupFailed);
    assert_eq!(rejection.code.http_status(), 422);
    assert_eq!(rejection.code.message(), "Processing Error: Error trying to get the current metastore info.");
    assert!(h.store.list_integrations(true).await.unwrap().is_empty());
    h.stop().await;
}

/// Manual only, with data sources: a check compares the request with Warden's records (and
/// names the integration in the way); data sources are checked by the adapter, registered
/// with the state it returns, unique by name, and a platform refusal keeps nothing.
#[tokio::test]
async fn manual_setups_read_the_registry_and_register_data_sources() {
    let probe = Probe::new(&MANUAL);
    let h = harness(&[Arc::clone(&probe)], Duration::from_secs(30)).await;
    let actor = Actor::warden();
    let first = accepted(h.engine.create(&s3("lake", "123456789012"), false, &actor, "http://x").await.unwrap());
    let id = first.integration.id;
    assert_eq!(h.settled(id).await.status, Status::Enabled);

    let error = h.engine.create(&s3("pond", "123456789012"), false, &actor, "http://x").await.unwrap_err();
    let results = rejected(error).validation_results.unwrap();
    let name_test =
        results.validation_tests.iter().find(|t| t.name.starts_with("The provided integration name")).unwrap();
    assert_eq!(
        name_test.message.as_deref(),
        Some(format!("The integration name [pond] is already used by S3 integration with ID {id}.").as_str())
    );

    let request = |name: &str, location: &str| DataSourceRequest { name: name.into(), location: location.into() };
    let outside = h.engine.register_data_sources(id, &[request("sales", "s3://elsewhere/x")], &actor).await;
    let outside = rejected(outside.unwrap_err());
    assert_eq!(outside.code.http_status(), 400);
    assert_eq!(outside.errors[0].path, "dataSources[0].prefix");

    let registered = h
        .engine
        .register_data_sources(
            id,
            &[request("sales", "s3://lake/raw/sales"), request("hr", "s3://lake/raw/hr")],
            &actor,
        )
        .await
        .unwrap();
    assert_eq!(registered.len(), 2);
    assert_eq!(
        registered[0].state,
        Some(json!({"grant": "grant-for-sales", "integration": {"object": "made-by-create"}}))
    );
    let taken = h.engine.register_data_sources(id, &[request("sales", "s3://lake/raw/other")], &actor).await;
    assert_eq!(rejected(taken.unwrap_err()).code, ErrorCode::DataSourceNameTaken { name: "sales".into() });
    let refused = h.engine.register_data_sources(id, &[request("refused", "s3://lake/raw/r")], &actor).await;
    assert_eq!(rejected(refused.unwrap_err()).code.http_status(), 502);
    let audit = h.store.audit_of(id).await.unwrap();
    let entry = audit.iter().find(|(_, action, _, _)| action == "dataSources.register").unwrap();
    let after = entry.3.as_deref().unwrap();
    assert!(
        after.contains("\"sales\"") && after.contains("s3://lake/raw/hr"),
        "the audit names what was registered: {after}"
    );
    let kept = h.store.data_sources(warden_store::DataSourcesOf::Integration(id)).await.unwrap();
    assert_eq!(
        kept.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["sales", "hr"],
        "the refused one is not kept"
    );
    h.stop().await;
}

/// Nothing to set up: the create hands out the callback key once, in the platform's config
/// lines; the integration cannot be edited, its key can be rotated, and a platform without
/// data sources refuses them.
#[tokio::test]
async fn platforms_with_nothing_to_set_up_get_a_callback_key_and_no_edits() {
    let h = harness(&[Probe::new(&NOTHING)], Duration::from_secs(30)).await;
    let actor = Actor::warden();
    let created =
        accepted(h.engine.create(&json!({"type": "Trino"}), false, &actor, "https://warden.example").await.unwrap());
    let shown = created.callback_key.expect("the key is shown once");
    assert_eq!(
        shown.config_lines.expose(),
        &format!("endpoint=https://warden.example\nkey={}\n", shown.api_key.expose())
    );
    let id = created.integration.id;
    let edit = h.engine.update(id, &json!({"type": "Trino"}), false, &actor).await.unwrap_err();
    assert_eq!(rejected(edit).code, ErrorCode::TrinoNotEditable { id });
    let rotated = h.engine.regenerate(id, &actor).await.unwrap();
    assert_ne!(rotated.expose(), shown.api_key.expose());
    let no_sources = h.engine.register_data_sources(id, &[], &actor).await.unwrap_err();
    assert_eq!(rejected(no_sources).code, ErrorCode::NoDataSources { id, integration_type: IntegrationType::Trino });
    h.stop().await;
}

/// A change that never ends is stopped at the change deadline: the integration gets its
/// error status and a message that says so, never stays in `creating`.
#[tokio::test]
async fn a_change_that_hangs_ends_at_the_deadline_in_the_error_status() {
    let h = harness(&[Probe::new(&PRIVILEGED)], Duration::from_millis(300)).await;
    let id = accepted(
        h.engine.create(&redshift("hang.example.com", false), false, &Actor::warden(), "http://x").await.unwrap(),
    )
    .integration
    .id;
    let failed = h.settled(id).await;
    assert_eq!(failed.status, Status::CreateError);
    let message = failed.status_message.unwrap_or_default();
    assert!(message.contains("did not finish within"), "{message}");
    h.stop().await;
}

/// A later Warden whose adapter creates its objects differently migrates what an earlier
/// one set up, at start: an integration its own identity can migrate goes `migrating` then
/// `enabled`, with the new state; one set up with privileged credentials gets `migrateError`
/// with the request that migrates it, and that PUT does (migration first, then the edit); a
/// migration that fails leaves `migrateError`, and its advice (a PUT) works.
#[tokio::test]
async fn a_later_version_migrates_what_an_earlier_one_set_up() {
    let before = harness(&[Probe::new(&MANUAL), Probe::new(&PRIVILEGED)], Duration::from_secs(30)).await;
    let actor = Actor::warden();
    let create = |payload: Value| {
        let engine = Arc::clone(&before.engine);
        async move { accepted(engine.create(&payload, false, &Actor::warden(), "http://x").await.unwrap()).integration.id }
    };
    let manual = create(s3("lake", "111111111111")).await;
    let failing = create(s3("failmigrate", "222222222222")).await;
    let automatic = create(redshift("auto.example.com", false)).await;
    for id in [manual, failing, automatic] {
        assert_eq!(before.settled(id).await.status, Status::Enabled);
        assert_eq!(before.store.get_integration(id).await.unwrap().unwrap().objects_version, 1);
    }
    let (store, dir) = before.stop_keeping_the_store().await;

    let (manual_probe, privileged_probe) = (Probe::new(&MANUAL_V2), Probe::new(&PRIVILEGED_V2));
    let after =
        harness_over(store, dir, &[Arc::clone(&manual_probe), Arc::clone(&privileged_probe)], Duration::from_secs(30));
    assert_eq!(after.engine.migrate_outdated().await.unwrap(), 3);
    let migrated = after.settled(manual).await;
    assert_eq!(migrated.status, Status::Enabled, "{:?}", migrated.status_message);
    assert_eq!(migrated.objects_version, 2);
    assert_eq!(migrated.platform_state, Some(json!({"object": "migrated-from-1"})));

    let refused = after.settled(failing).await;
    assert_eq!(refused.status, Status::MigrateError);
    let message = refused.status_message.unwrap();
    assert!(message.contains(&format!("send PUT /integrations/{failing} with its current configuration")), "{message}");
    after.engine.update(failing, &s3("failmigrate", "222222222222"), false, &actor).await.unwrap();
    let retried = after.settled(failing).await;
    assert_eq!((retried.status, retried.objects_version), (Status::Enabled, 2), "{:?}", retried.status_message);

    let waiting = after.settled(automatic).await;
    assert_eq!(waiting.status, Status::MigrateError);
    let message = waiting.status_message.unwrap();
    assert!(
        message.contains(&format!(
            "send PUT /integrations/{automatic} with its configuration and the privileged credentials"
        )),
        "{message}"
    );
    assert_eq!(
        after.engine.migrate_outdated().await.unwrap(),
        3 - 2,
        "only the one waiting for credentials is left, and it is not told twice"
    );
    after.engine.update(automatic, &redshift("auto.example.com", false), false, &actor).await.unwrap();
    let updated = after.settled(automatic).await;
    assert_eq!((updated.status, updated.objects_version), (Status::Enabled, 2), "{:?}", updated.status_message);
    assert_eq!(
        privileged_probe.seen(),
        vec![
            ("migrate", true, Some(json!({"object": "made-by-create"}))),
            ("edit", true, Some(json!({"object": "migrated-from-1"}))),
        ],
        "the PUT migrated with the credentials it brought, then edited"
    );
    after.stop().await;
}
