//! The Access Grants location of an integration (S3 Control): registered for
//! `awsLocationPath` with `awsLocationRole` when the integration is created (the instance is
//! the customer's, never created or removed by Warden), its id kept as the integration's
//! platform state; removed with the grants inside it, going past what is already gone.

use serde_json::Value;
use warden_model::config::S3Config;
use warden_platform::{ErrorKind, PlatformError};

use crate::aws::{self, Clients};

/// The platform-state key of the location id.
pub(crate) const STATE_KEY: &str = "accessGrantsLocationId";

/// Registers the location; answers its id.
pub(crate) async fn register(clients: &Clients, config: &S3Config) -> Result<String, PlatformError> {
    let created = clients
        .s3control
        .create_access_grants_location()
        .account_id(config.aws_account_id.as_str())
        .location_scope(config.aws_location_path.to_string())
        .iam_role_arn(config.aws_location_role.as_str())
        .send()
        .await
        .map_err(|e| aws::error("S3 Control CreateAccessGrantsLocation", &e))?;
    created
        .access_grants_location_id()
        .map(str::to_owned)
        .ok_or_else(|| PlatformError::other("CreateAccessGrantsLocation answered without a location id"))
}

/// The location's id: the stored one, else the location registered for the path.
async fn location_id(
    clients: &Clients,
    config: &S3Config,
    state: Option<&Value>,
) -> Result<Option<String>, PlatformError> {
    if let Some(id) = state.and_then(|s| s[STATE_KEY].as_str()) {
        return Ok(Some(id.to_owned()));
    }
    let listed = clients
        .s3control
        .list_access_grants_locations()
        .account_id(config.aws_account_id.as_str())
        .location_scope(config.aws_location_path.to_string())
        .send()
        .await
        .map_err(|e| aws::error("S3 Control ListAccessGrantsLocations", &e))?;
    Ok(listed.access_grants_locations_list().first().and_then(|l| l.access_grants_location_id()).map(str::to_owned))
}

/// Whether `result` failed only because its object is gone.
fn gone<T>(result: &Result<T, PlatformError>) -> bool {
    matches!(result, Err(error) if error.kind() == Some(ErrorKind::NotFound))
}

/// Removes the grants in the location, then the location.
pub(crate) async fn remove(clients: &Clients, config: &S3Config, state: Option<&Value>) -> Result<(), PlatformError> {
    let account = config.aws_account_id.as_str();
    let Some(id) = location_id(clients, config, state).await? else {
        tracing::info!("no Access Grants location is registered for the path: nothing to remove");
        return Ok(());
    };
    let grants = clients
        .s3control
        .list_access_grants()
        .account_id(account)
        .send()
        .await
        .map_err(|e| aws::error("S3 Control ListAccessGrants", &e))?;
    for grant in grants.access_grants_list().iter().filter(|g| g.access_grants_location_id() == Some(id.as_str())) {
        let Some(grant_id) = grant.access_grant_id() else { continue };
        let deleted = clients
            .s3control
            .delete_access_grant()
            .account_id(account)
            .access_grant_id(grant_id)
            .send()
            .await
            .map_err(|e| aws::error("S3 Control DeleteAccessGrant", &e));
        if !gone(&deleted) {
            deleted?;
        }
    }
    let deleted = clients
        .s3control
        .delete_access_grants_location()
        .account_id(account)
        .access_grants_location_id(&id)
        .send()
        .await
        .map_err(|e| aws::error("S3 Control DeleteAccessGrantsLocation", &e));
    if !gone(&deleted) {
        deleted?;
    }
    Ok(())
}
