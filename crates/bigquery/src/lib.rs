//! Warden's Google BigQuery adapter. BigQuery is set up by hand only (`autoBootstrap: false`):
//! the administrator makes a custom role, a service account bound to it and its key
//! (`warden-scripts` writes the `gcloud` script), and Warden proves, check by check, that the
//! account can do what Warden needs, over BigQuery's REST API ([`client`]):
//!
//! - the connection: an access token for the key file's account, and `SELECT SESSION_USER()`,
//!   which names the account BigQuery sees the calls as;
//! - that the account's email ends with `@<project>.iam.gserviceaccount.com`, and that it is
//!   the account BigQuery sees (a key file whose token is another account's fails);
//! - that no data source Warden registered uses the account (the contract's registry: a data
//!   source's state names its `serviceAccount`);
//! - that Warden's metadata dataset (`dataset`) is free: missing (Warden creates it), or made
//!   by the administrator in `location` (Warden adopts it); one labelled `managed-by: warden`
//!   belongs to another Warden installation, one in another location cannot be used;
//! - the seven "Validate manual" checks, for real ([`probe`]).
//!
//! A create makes or adopts the metadata dataset and labels it `managed-by: warden` (one it
//! made also `created-by: warden`, so a removal knows it even without the create's state); an edit
//! makes it again if it is gone; a delete removes the dataset Warden made, or only the label
//! of the one it adopted. Nothing else on the platform is Warden's.

pub mod client;
pub mod probe;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use warden_model::config::BigQueryConfig;
use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig, Problem};
use warden_platform::catalogue::BigQueryTest;
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, Descriptor, Failure, Phase, Platform, PlatformError, Session,
    SetupModel, TestId,
};

use crate::client::{Client, KeyFile};
use crate::probe::{Probe, Step};

/// Google BigQuery as the engine sees it: set up by hand, changed with the service account.
pub static DESCRIPTOR: Descriptor = Descriptor::new(IntegrationType::GoogleBigQuery, SetupModel::ManualOnly, &[]);

/// The label that marks Warden's metadata dataset, and its value.
pub const MANAGED_BY: (&str, &str) = ("managed-by", "warden");

/// The label a metadata dataset Warden created carries besides [`MANAGED_BY`] (an adopted
/// one does not), so that a removal knows Warden made it even when the create's state was
/// never recorded: a process that died right after the create. Found by the failure points
/// of `tests/failpoints.rs`: without it such a dataset was left behind by the DELETE.
pub const CREATED_BY: (&str, &str) = ("created-by", "warden");

/// The key of a data source's state that names the service account it reads with.
pub const DATA_SOURCE_ACCOUNT: &str = "serviceAccount";

/// The Google BigQuery adapter.
#[derive(Debug, Default)]
pub struct BigQuery;

/// What the checks of one run share (its session).
#[derive(Debug)]
pub struct Run {
    client: Client,
    /// Who BigQuery sees the calls as.
    session_user: String,
    /// The "Validate manual" steps, run by the first check that asks.
    probe: OnceCell<Probe>,
}

fn config(spec: &IntegrationSpec) -> Result<&BigQueryConfig, PlatformError> {
    match &spec.config {
        PlatformConfig::BigQuery(config) => Ok(config),
        _ => Err(PlatformError::unsupported("the BigQuery adapter was given another platform's config")),
    }
}

/// The email a service account of `project` ends with.
fn account_domain(project: &str) -> String {
    format!("@{project}.iam.gserviceaccount.com")
}

/// What Warden remembers of its metadata dataset: whether Warden created it (and so removes
/// it), or adopted one the administrator made (and so only takes its label back).
fn created_dataset(state: Option<&Value>) -> bool {
    state.and_then(|s| s["createdDataset"].as_bool()).unwrap_or(false)
}

/// Makes or adopts the metadata dataset and labels it; answers whether Warden created it.
async fn ensure_dataset(client: &Client, config: &BigQueryConfig) -> Result<bool, PlatformError> {
    let dataset = config.dataset.as_str();
    if client.dataset(dataset).await?.is_some() {
        client.set_label(dataset, MANAGED_BY.0, Some(MANAGED_BY.1)).await?;
        return Ok(false);
    }
    client.create_dataset(dataset, &json!({MANAGED_BY.0: MANAGED_BY.1, CREATED_BY.0: CREATED_BY.1})).await?;
    Ok(true)
}

/// Removes what Warden made of the metadata dataset: the dataset it created (as its state
/// or the dataset's own [`CREATED_BY`] label says), else its label.
async fn release_dataset(client: &Client, config: &BigQueryConfig, state: Option<&Value>) -> Result<(), PlatformError> {
    let dataset = config.dataset.as_str();
    let labelled_ours = |found: &Value| found["labels"][CREATED_BY.0].as_str() == Some(CREATED_BY.1);
    if created_dataset(state) || client.dataset(dataset).await?.as_ref().is_some_and(labelled_ours) {
        client.delete_dataset(dataset, true).await
    } else {
        client.set_label(dataset, MANAGED_BY.0, None).await
    }
}

/// The metadata-dataset check.
async fn dataset_check(run: &Run, config: &BigQueryConfig, phase: Phase) -> Result<CheckOutcome, PlatformError> {
    let name = config.dataset.as_str();
    let project = &run.client.key().project_id;
    let Some(found) = run.client.dataset(name).await? else {
        return Ok(match phase {
            Phase::Request => CheckOutcome::Passed,
            // Set up, and gone since: an edit makes it again.
            Phase::Installed | Phase::Removal => CheckOutcome::Warning(format!(
                "Warden's dataset {project}:{name} no longer exists; an edit of this integration (PUT with its config) creates it again."
            )),
        });
    };
    let label = found["labels"][MANAGED_BY.0].as_str();
    let location = found["location"].as_str().unwrap_or_default();
    Ok(if phase == Phase::Request && label == Some(MANAGED_BY.1) {
        CheckOutcome::failed(format!(
            "(dataset {project}:{name} is labelled {}: {} by another Warden installation or integration)",
            MANAGED_BY.0, MANAGED_BY.1
        ))
    } else if !location.eq_ignore_ascii_case(&config.location) {
        CheckOutcome::failed(format!(
            "(dataset {project}:{name} is in location {location}, and the config's location is {}: a dataset's location cannot change)",
            config.location
        ))
    } else {
        CheckOutcome::Passed
    })
}

#[async_trait]
impl Platform for BigQuery {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check_config(&self, spec: &IntegrationSpec) -> Vec<Problem> {
        let Ok(config) = config(spec) else { return Vec::new() };
        let Ok(key) = KeyFile::read(&config.credential) else { return Vec::new() };
        let mut problems = Vec::new();
        if let Err(mut problem) = warden_platform::reach::check_url("config.credential", &key.token_uri) {
            problem.message = format!("the key file's token_uri: {}", problem.message);
            problems.push(problem);
        }
        problems
    }

    async fn open(&self, spec: &IntegrationSpec, _phase: Phase) -> Result<Session, PlatformError> {
        let client = Client::new(config(spec)?)?;
        let session_user = client.session_user().await?;
        Ok(Session::new(Run { client, session_user, probe: OnceCell::new() }))
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        let TestId::BigQuery(test) = test else { return Err(PlatformError::UnknownCheck(format!("{test:?}"))) };
        let config = config(&context.spec)?;
        let key = &config.key_info;
        let step = |step: Step| async move {
            let run = context.session::<Run>()?;
            Ok(run.probe.get_or_init(|| probe::run(&run.client)).await.outcome(step))
        };
        match test {
            BigQueryTest::Connection => Ok(CheckOutcome::Passed),
            BigQueryTest::ServiceAccountPostfix => {
                let domain = account_domain(&key.project_id);
                Ok(if key.client_email.to_ascii_lowercase().ends_with(&domain) {
                    CheckOutcome::Passed
                } else {
                    CheckOutcome::failed(format!(
                        "({} is not a service account of project {}: its email must end with {domain})",
                        key.client_email, key.project_id
                    ))
                })
            }
            BigQueryTest::KeyFileServiceAccount => {
                let seen = &context.session::<Run>()?.session_user;
                Ok(if seen.eq_ignore_ascii_case(&key.client_email) {
                    CheckOutcome::Passed
                } else {
                    CheckOutcome::failed(format!(
                        "(BigQuery sees the key's calls as {seen}; the key file names {})",
                        key.client_email
                    ))
                })
            }
            BigQueryTest::NotUsedForDataSources => {
                let sources = context.registry.data_sources(IntegrationType::GoogleBigQuery).await?;
                let used = sources.iter().find(|source| {
                    source
                        .state
                        .as_ref()
                        .and_then(|s| s[DATA_SOURCE_ACCOUNT].as_str())
                        .is_some_and(|account| account.eq_ignore_ascii_case(&key.client_email))
                });
                Ok(match used {
                    Some(source) => CheckOutcome::Failed(Failure::new(format!(
                        "(data source {} (id {}) reads with {})",
                        source.name, source.id, key.client_email
                    ))),
                    None => CheckOutcome::Passed,
                })
            }
            BigQueryTest::DatasetExists => dataset_check(context.session::<Run>()?, config, context.phase).await,
            BigQueryTest::DatasetCreate => step(Step::DatasetCreate).await,
            BigQueryTest::DatasetDelete => step(Step::DatasetDelete).await,
            BigQueryTest::TableCreate => step(Step::TableCreate).await,
            BigQueryTest::TableDelete => step(Step::TableDelete).await,
            BigQueryTest::TableGet => step(Step::TableGet).await,
            BigQueryTest::TableInsert => step(Step::TableInsert).await,
            BigQueryTest::TableUpdate => step(Step::TableUpdate).await,
        }
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        let config = config(change.spec())?;
        let client = Client::new(config)?;
        let remember = |created: bool| Applied::with_state(json!({"createdDataset": created}));
        match change {
            Change::Create { .. } => ensure_dataset(&client, config).await.map(remember),
            Change::Edit { state, .. } => {
                let created = ensure_dataset(&client, config).await?;
                Ok(remember(created || created_dataset(state)))
            }
            Change::Delete { state, .. } | Change::Cleanup { state, .. } => {
                release_dataset(&client, config, state).await.map(|()| Applied::NOTHING)
            }
            Change::Migrate { .. } => Ok(Applied::NOTHING),
        }
    }
}
