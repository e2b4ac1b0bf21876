//! Warden's Trino (Starburst) adapter. Warden makes nothing on a Trino cluster: the
//! cluster's access-control plugin calls Warden with an API key that the create hands out
//! once, inside the config lines the cluster's administrator pastes. The key is Warden's
//! (the engine issues and revokes it, as the descriptor's [`CallbackKey`] asks); the adapter
//! says how the lines read. There are no checks, no edits, and every change is a no-op.

use async_trait::async_trait;
use warden_model::IntegrationType;
use warden_platform::{
    Applied, CallbackKey, Change, CheckContext, CheckOutcome, Descriptor, Platform, PlatformError, SetupModel, TestId,
};

/// Trino as the engine sees it.
pub static DESCRIPTOR: Descriptor = Descriptor {
    editable: false,
    callback_key: Some(CallbackKey { config_lines }),
    ..Descriptor::new(IntegrationType::Trino, SetupModel::Nothing, &[])
};

/// The Trino adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct Trino;

#[async_trait]
impl Platform for Trino {
    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    async fn check(&self, test: TestId, _context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        Err(PlatformError::UnknownCheck(format!("{test:?}")))
    }

    async fn apply(&self, _change: Change<'_>) -> Result<Applied, PlatformError> {
        Ok(Applied::NOTHING)
    }
}

/// The lines a Trino administrator adds to the cluster's access-control config, for a
/// Warden reachable at `public_url`.
pub fn config_lines(public_url: &str, api_key: &str) -> String {
    format!("access-control.name=warden\nwarden.endpoint={public_url}\nwarden.api-key={api_key}\n")
}
