//! The adapters' read-only view of Warden's records ([`Registry`]), over the store.

use std::sync::Arc;

use async_trait::async_trait;
use warden_model::IntegrationType;
use warden_platform::{DataSource, PlatformError, Registered, Registry};
use warden_store::{DataSourcesOf, Store};

/// The registry a check is given: integrations in use and data sources, read from the store
/// when the check asks.
pub(crate) struct StoreRegistry {
    store: Arc<Store>,
}

impl StoreRegistry {
    pub(crate) const fn new(store: Arc<Store>) -> Self {
        Self { store }
    }
}

/// A store failure as a check reports it (the check fails with it; nothing is secret in it).
fn unavailable(error: &warden_store::StoreError) -> PlatformError {
    PlatformError::other(format!("Warden could not read its own records: {error}"))
}

#[async_trait]
impl Registry for StoreRegistry {
    async fn integrations(&self, integration_type: IntegrationType) -> Result<Vec<Registered>, PlatformError> {
        let stored = self.store.integrations_in_use(integration_type).await.map_err(|e| unavailable(&e))?;
        Ok(stored.into_iter().map(|i| Registered { id: i.id, status: i.status, spec: i.spec }).collect())
    }

    async fn data_sources(&self, integration_type: IntegrationType) -> Result<Vec<DataSource>, PlatformError> {
        let stored =
            self.store.data_sources(DataSourcesOf::Type(integration_type)).await.map_err(|e| unavailable(&e))?;
        Ok(stored
            .into_iter()
            .map(|d| DataSource {
                id: d.id,
                integration_id: d.integration_id,
                name: d.name,
                location: d.location,
                state: d.state,
            })
            .collect())
    }
}
