//! Data sources (the API reference §7), for the platforms whose descriptor says they have them:
//! registration (the adapter checks each request, registers it on the platform, and the
//! store keeps it with what the adapter returned), listing, and deletion in two steps (the
//! first DELETE marks a data source deleted, the second removes it).

use warden_model::{ErrorCode, IntegrationId, Problem, Status};
use warden_platform::DataSourceRequest;
use warden_store::{DataSourcesOf, StoreError, StoredDataSource};

use crate::{Actor, Engine, EngineError};

impl Engine {
    /// Registers `requests` under the integration `id`, in order. Every request is checked
    /// (by the adapter, and for names taken) before any is registered; a platform failure
    /// stops at that request, and those before it stay registered.
    pub async fn register_data_sources(
        &self,
        id: IntegrationId,
        requests: &[DataSourceRequest],
        actor: &Actor,
    ) -> Result<Vec<StoredDataSource>, EngineError> {
        let integration = self.existing(id).await?;
        let integration_type = integration.spec.integration_type();
        let platform = self.platform(integration_type)?;
        if !platform.descriptor().data_sources {
            return Err(EngineError::code(ErrorCode::NoDataSources { id, integration_type }));
        }
        if integration.status != Status::Enabled {
            return Err(EngineError::code(ErrorCode::DataSourcesRefused { id, status: integration.status }));
        }
        let problems: Vec<Problem> = requests
            .iter()
            .enumerate()
            .filter_map(|(i, request)| {
                platform.check_data_source(&integration.spec, request).err().map(|problem| Problem {
                    path: format!("dataSources[{i}].{}", problem.path),
                    message: problem.message,
                })
            })
            .collect();
        if !problems.is_empty() {
            return Err(EngineError::invalid(problems));
        }
        let existing = self.store.data_sources(DataSourcesOf::Integration(id)).await?;
        for (i, request) in requests.iter().enumerate() {
            let taken_before = requests[..i].iter().any(|earlier| earlier.name == request.name);
            if taken_before || existing.iter().any(|d| d.name == request.name) {
                return Err(EngineError::code(ErrorCode::DataSourceNameTaken { name: request.name.clone() }));
            }
        }
        let mut registered = Vec::with_capacity(requests.len());
        for request in requests {
            // The name is reserved before the platform is asked, so that a concurrent request
            // for the same name loses here and never registers a twin on the platform.
            let reserved =
                self.store.insert_data_source(id, &request.name, &request.location, None).await.map_err(|error| {
                    match error {
                        StoreError::NameTaken { name } => EngineError::code(ErrorCode::DataSourceNameTaken { name }),
                        other => other.into(),
                    }
                })?;
            let applied = match self.options.secrets.resolve(&integration.spec).await {
                Ok(spec) => platform.register_data_source(&spec, integration.platform_state.as_ref(), request).await,
                Err(error) => Err(error.into()),
            };
            let applied = match applied {
                Ok(applied) => applied,
                Err(error) => {
                    self.store.delete_data_source(reserved.id).await?;
                    return Err(EngineError::code(ErrorCode::DataSourceRegistrationFailed {
                        name: request.name.clone(),
                        detail: error.to_string(),
                    }));
                }
            };
            let stored = match applied.state {
                Some(state) => self.store.set_data_source_state(reserved.id, &state).await?,
                None => reserved,
            };
            tracing::info!(integration = %id, data_source = stored.id, actor = actor.as_str(), "data source registered");
            registered.push(stored);
        }
        // The entry names what was registered (the integration itself did not change).
        let registered_view = serde_json::json!({"dataSources": registered
            .iter()
            .map(|d| serde_json::json!({"id": d.id, "name": d.name, "location": d.location}))
            .collect::<Vec<_>>()});
        let recorded = self
            .store
            .record_audit(actor.as_str(), "dataSources.register", Some(id), None, Some(&registered_view))
            .await;
        if let Err(error) = recorded {
            tracing::error!(integration = %id, %error, "could not write the audit log");
        }
        Ok(registered)
    }

    /// The data sources of the integration `id` (deleted ones too, marked so), oldest first.
    pub async fn data_sources_of(&self, id: IntegrationId) -> Result<Vec<StoredDataSource>, EngineError> {
        let integration = self.existing(id).await?;
        let integration_type = integration.spec.integration_type();
        if !self.platform(integration_type)?.descriptor().data_sources {
            return Err(EngineError::code(ErrorCode::NoDataSources { id, integration_type }));
        }
        Ok(self.store.data_sources(DataSourcesOf::Integration(id)).await?)
    }

    /// Deletes the data source `id`: the first call marks it deleted and answers it so, the
    /// second removes it (and answers `None`).
    pub async fn delete_data_source(&self, id: u64, actor: &Actor) -> Result<Option<StoredDataSource>, EngineError> {
        let not_found = || EngineError::code(ErrorCode::DataSourceNotFound { id });
        let key = i64::try_from(id).map_err(|_| not_found())?;
        let found = self.store.data_source(key).await?.ok_or_else(not_found)?;
        let view = serde_json::json!({"id": found.id, "name": found.name, "location": found.location});
        if found.deleted {
            self.store.delete_data_source(key).await?;
            self.record_data_source(actor, "dataSources.remove", found.integration_id, &view).await;
            return Ok(None);
        }
        self.store.mark_data_sources_deleted(found.integration_id, Some(key)).await?;
        self.record_data_source(actor, "dataSources.delete", found.integration_id, &view).await;
        Ok(self.store.data_source(key).await?)
    }

    async fn record_data_source(
        &self,
        actor: &Actor,
        action: &str,
        integration: IntegrationId,
        view: &serde_json::Value,
    ) {
        if let Err(error) = self.store.record_audit(actor.as_str(), action, Some(integration), Some(view), None).await {
            tracing::error!(%integration, %error, "could not write the audit log");
        }
    }
}
