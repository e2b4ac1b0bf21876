//! Trino (Starburst) as a platform: Warden makes nothing on a Trino cluster. The cluster's
//! access-control plugin calls Warden with an API key that the create hands out once; the
//! engine manages that key. So the adapter has no checks and every change is a no-op.

use async_trait::async_trait;
use warden_model::{IntegrationSpec, IntegrationType};
use warden_platform::{Change, CheckOutcome, Descriptor, Phase, Platform, PlatformError, SetupModel};

/// The Trino "adapter".
#[derive(Debug, Default, Clone, Copy)]
pub struct Trino;

#[async_trait]
impl Platform for Trino {
    fn descriptor(&self) -> &'static Descriptor {
        static TRINO: Descriptor = Descriptor {
            integration_type: IntegrationType::Trino,
            setup: SetupModel::Nothing,
            delete_credential_fields: &[],
        };
        &TRINO
    }

    async fn check(&self, test: &str, _spec: &IntegrationSpec, _phase: Phase) -> Result<CheckOutcome, PlatformError> {
        Err(PlatformError::UnknownCheck(test.to_owned()))
    }

    fn system_account(
        &self,
        requested: &IntegrationSpec,
        _current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        Ok(requested.clone())
    }

    async fn apply(&self, _change: Change<'_>) -> Result<(), PlatformError> {
        Ok(())
    }
}

/// The lines a Trino administrator adds to the cluster's access-control config, for a
/// Warden reachable at `public_url`.
pub fn config_snippet(public_url: &str, api_key: &str) -> String {
    format!("access-control.name=warden\nwarden.endpoint={public_url}\nwarden.api-key={api_key}\n")
}
