//! Warden's Amazon S3 Access Grants adapter (issue 15, in progress), over the official AWS SDK
//! for Rust ([`aws`]: keys, the default chain, an assumed role, endpoint overrides for
//! emulators). The seven checks of the API reference §4: no existing integration with this
//! account, region and an overlapping location, and a unique name (both from Warden's own
//! records, through the contract's registry); the location role's ARN; the caller's identity
//! (STS); the Access Grants instance and the absence of a location for the path (S3
//! Control); that the path can be listed (S3). A create registers the Access Grants location
//! (`location`), a removal takes back the grants in it and then the location. Not built yet:
//! the data-source routes; the server does not register this adapter, so a Native S3 create
//! still answers `501`.

pub mod aws;
mod location;

use async_trait::async_trait;
use warden_model::config::S3Config;
use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig};
use warden_model::{Problem, names::S3Path};
use warden_platform::catalogue::S3Test;
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, DataSourceRequest, Descriptor, ErrorKind, Failure, Phase, Platform,
    PlatformError, Session, SetupModel, TestId,
};

/// Native S3 as the engine sees it: set up by hand (the Access Grants instance is the
/// customer's), changed with Warden's own AWS identity.
pub static DESCRIPTOR: Descriptor =
    Descriptor { data_sources: true, ..Descriptor::new(IntegrationType::NativeS3, SetupModel::ManualOnly, &[]) };

/// The Native S3 adapter.
#[derive(Debug, Default)]
pub struct NativeS3;

/// What the checks of one run share (its session): the clients, and who the credentials are
/// (STS's answer, as the reference reports it).
#[derive(Debug)]
pub struct Run {
    /// The run's AWS clients.
    pub clients: aws::Clients,
    /// `Found user ID [...], ARN [...] using STS.`
    pub identity: String,
}

fn config(spec: &IntegrationSpec) -> Result<&S3Config, PlatformError> {
    match &spec.config {
        PlatformConfig::NativeS3(config) => Ok(config),
        _ => Err(PlatformError::unsupported("the S3 adapter was given another platform's config")),
    }
}

/// The S3 integrations Warden holds besides the one being checked.
async fn others(context: &CheckContext) -> Result<Vec<(u64, S3Config)>, PlatformError> {
    let registered = context.registry.integrations(IntegrationType::NativeS3).await?;
    Ok(registered
        .into_iter()
        .filter(|r| Some(r.id) != context.integration_id)
        .filter_map(|r| match &r.spec.config {
            PlatformConfig::NativeS3(config) => Some((r.id.get(), config.clone())),
            _ => None,
        })
        .collect())
}

/// The caller's identity, as the reference reports it.
async fn caller_identity(clients: &aws::Clients) -> Result<String, PlatformError> {
    let identity =
        clients.sts.get_caller_identity().send().await.map_err(|e| aws::error("STS GetCallerIdentity", &e))?;
    Ok(format!(
        "Found user ID [{}], ARN [{}] using STS.",
        identity.user_id().unwrap_or_default(),
        identity.arn().unwrap_or_default()
    ))
}

#[async_trait]
impl Platform for NativeS3 {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    async fn open(&self, spec: &IntegrationSpec, _phase: Phase) -> Result<Session, PlatformError> {
        let clients = aws::clients(config(spec)?).await?;
        // The connection test: who the credentials are.
        let identity = caller_identity(&clients).await?;
        Ok(Session::new(Run { clients, identity }))
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        let TestId::S3(test) = test else { return Err(PlatformError::UnknownCheck(format!("{test:?}"))) };
        let config = config(&context.spec)?;
        let path = &config.aws_location_path;
        Ok(match test {
            S3Test::NoExistingIntegration => {
                let same = others(context).await?.into_iter().find(|(_, other)| {
                    other.aws_account_id == config.aws_account_id
                        && other.aws_region == config.aws_region
                        && other.aws_location_path.overlaps(path)
                });
                match same {
                    Some((id, _)) => CheckOutcome::failed(format!("(integration {id} uses this location)")),
                    None => CheckOutcome::Passed,
                }
            }
            S3Test::NameUnique => match others(context).await?.into_iter().find(|(_, other)| other.name == config.name)
            {
                Some((id, _)) => {
                    CheckOutcome::Failed(Failure::new("").with("name", config.name.clone()).with("id", id))
                }
                None => CheckOutcome::Passed,
            },
            // The payload rules read the ARN already (a malformed one is a 400 naming the field).
            S3Test::LocationRoleArn => CheckOutcome::Passed,
            // Who the credentials are was read when the run's session opened.
            S3Test::CallerIdentity => CheckOutcome::PassedWith(context.session::<Run>()?.identity.clone()),
            S3Test::AccessGrantsInstance => {
                let clients = &context.session::<Run>()?.clients;
                let asked = clients.s3control.get_access_grants_instance().account_id(config.aws_account_id.as_str());
                match asked.send().await {
                    Ok(_) => CheckOutcome::Passed,
                    Err(error) => CheckOutcome::failed(aws::describe(&error).1),
                }
            }
            S3Test::PathListable => {
                let clients = &context.session::<Run>()?.clients;
                let prefix = if path.prefix().is_empty() { String::new() } else { format!("{}/", path.prefix()) };
                let listed =
                    clients.s3.list_objects_v2().bucket(path.bucket()).prefix(prefix).delimiter("/").max_keys(1);
                match listed.send().await {
                    Ok(_) => CheckOutcome::Passed,
                    Err(error) => CheckOutcome::failed(aws::describe(&error).1),
                }
            }
            S3Test::NoAccessGrantsLocation => {
                let clients = &context.session::<Run>()?.clients;
                let listed = clients
                    .s3control
                    .list_access_grants_locations()
                    .account_id(config.aws_account_id.as_str())
                    .location_scope(path.to_string());
                match listed.send().await {
                    Ok(found) if found.access_grants_locations_list().is_empty() => CheckOutcome::Passed,
                    Ok(found) => CheckOutcome::failed(format!(
                        "(location {} is registered for {path})",
                        found.access_grants_locations_list()[0].access_grants_location_id().unwrap_or("unknown")
                    )),
                    Err(error) => CheckOutcome::failed(aws::describe(&error).1),
                }
            }
        })
    }

    /// A data source's prefix lies under the integration's `awsLocationPath` (the API reference §7).
    fn check_data_source(&self, spec: &IntegrationSpec, request: &DataSourceRequest) -> Result<(), Problem> {
        let location =
            &config(spec).map_err(|e| Problem { path: "prefix".into(), message: e.to_string() })?.aws_location_path;
        let refuse = |message: String| Problem { path: "prefix".into(), message };
        let prefix = S3Path::parse(&request.location).map_err(refuse)?;
        if location.contains(&prefix) {
            Ok(())
        } else {
            Err(refuse(format!("{prefix} is not under the integration's awsLocationPath {location}")))
        }
    }

    /// Registers a data source once its prefix exists and Warden can list it.
    async fn register_data_source(
        &self,
        spec: &IntegrationSpec,
        _state: Option<&serde_json::Value>,
        request: &DataSourceRequest,
    ) -> Result<Applied, PlatformError> {
        let prefix = S3Path::parse(&request.location).map_err(PlatformError::unsupported)?;
        let clients = aws::clients(config(spec)?).await?;
        let listed_prefix = if prefix.prefix().is_empty() { String::new() } else { format!("{}/", prefix.prefix()) };
        let listed = clients
            .s3
            .list_objects_v2()
            .bucket(prefix.bucket())
            .prefix(listed_prefix)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| aws::error("S3 ListObjectsV2", &e))?;
        if listed.key_count().unwrap_or(0) == 0 {
            return Err(PlatformError::new(ErrorKind::NotFound, format!("{prefix} holds no object")));
        }
        Ok(Applied::NOTHING)
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        match change {
            Change::Create { spec, .. } => {
                let id = location::register(&aws::clients(config(spec)?).await?, config(spec)?).await?;
                Ok(Applied::with_state(serde_json::json!({ location::STATE_KEY: id })))
            }
            Change::Delete { spec, state, .. } | Change::Cleanup { spec, state, .. } => {
                location::remove(&aws::clients(config(spec)?).await?, config(spec)?, state).await?;
                Ok(Applied::NOTHING)
            }
            // Only Warden's own credentials can change: nothing on AWS does.
            Change::Edit { .. } | Change::Migrate { .. } => Ok(Applied::NOTHING),
        }
    }
}
