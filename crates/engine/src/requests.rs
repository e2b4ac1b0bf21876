//! POST and PUT of an integration, and the callback-key rotation: check the payload, refuse
//! what the contract refuses, validate, then store the change and queue its job.

use std::sync::Arc;

use serde_json::Value;
use warden_lifecycle::{Decision, INITIAL, Operation, decide, withdraw};
use warden_model::{ErrorCode, IntegrationId, IntegrationSpec, Secret, Status};
use warden_platform::{CallbackKey, Phase, Platform};
use warden_store::{Permission, StoreError, StoredIntegration};

use crate::{Actor, CallbackKeyShown, Engine, EngineError, Outcome};

/// How often a PUT re-reads an integration that changed under it before giving up.
const EDIT_ATTEMPTS: usize = 3;

impl Engine {
    /// `POST /integrations` (the API reference §2.2). `public_url` is where a platform that calls Warden
    /// back (Trino) reaches it.
    pub async fn create(
        &self,
        payload: &Value,
        dry_run: bool,
        actor: &Actor,
        public_url: &str,
    ) -> Result<Outcome, EngineError> {
        let requested = IntegrationSpec::from_value(payload, None).map_err(EngineError::invalid)?;
        let requested = self.resolve_request(requested).await?;
        self.host_conflict(&requested, None).await?;
        let platform = self.platform(requested.integration_type())?;
        adapter_rules(&platform, &requested)?;
        if dry_run {
            // The audit entry is written while the checks run (it does not depend on them),
            // and both are done before the answer.
            let validated = self.validate(&platform, &requested, Phase::Request, None);
            let (results, ()) = tokio::join!(validated, self.audit_dry_run(actor, "create.dryRun", None, &requested));
            return Ok(Outcome::DryRun(results?));
        }
        let results = self.validate(&platform, &requested, Phase::Request, None).await?;
        if results.failed() {
            return Err(EngineError::validation(ErrorCode::CreateValidationFailed, results));
        }
        let stored = Self::stored_form(&platform, &requested, None)?;
        let integration = self.insert_once_per_host(&requested, &stored).await?;
        self.audit(actor, "create", integration.id, None, Some(&integration)).await;
        self.record_validation(integration.id, &results).await;
        let callback_key = match &platform.descriptor().callback_key {
            Some(callback) => Some(self.new_callback_key(integration.id, public_url, callback).await?),
            None => None,
        };
        let privileged = platform.descriptor().needs_privileged(&requested).then_some(requested);
        self.start_job(&integration, "create", None, privileged).await?;
        Ok(Outcome::accepted(integration, Some(results), callback_key, None))
    }

    /// Stores a new integration, unless its host is in use. The unique index decides a race
    /// between two creates; when it refuses the insert but the integration in the way is
    /// gone by the time it is looked up (force-disabled meanwhile), the insert is tried
    /// again, and a race that never settles is a 409, never a 500.
    async fn insert_once_per_host(
        &self,
        requested: &IntegrationSpec,
        stored: &IntegrationSpec,
    ) -> Result<StoredIntegration, EngineError> {
        for _ in 0..EDIT_ATTEMPTS {
            match self.store.insert_integration(stored, INITIAL).await {
                Ok(integration) => return Ok(integration),
                Err(StoreError::HostTaken) => self.host_conflict(requested, None).await?,
                Err(other) => return Err(other.into()),
            }
        }
        Err(host_busy(requested))
    }

    /// `PUT /integrations/{id}` (the API reference §2.3). Exactly one of several concurrent PUTs starts
    /// the edit: the status moves to `editing` (or `creating`, for an integration whose
    /// creation failed) under the version read, before validation; the others find it
    /// editing and get the 409. A failed validation puts the status back.
    pub async fn update(
        &self,
        id: IntegrationId,
        payload: &Value,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Outcome, EngineError> {
        let mut current = self.existing(id).await?;
        let platform = self.platform(current.spec.integration_type())?;
        if !platform.descriptor().editable {
            return Err(EngineError::code(ErrorCode::TrinoNotEditable { id }));
        }
        let requested = current.spec.updated_from(payload).map_err(EngineError::invalid)?;
        let requested = self.resolve_request(requested).await?;
        let attributes = current.spec.non_editable_changes(&requested, current.status == Status::CreateError);
        if !attributes.is_empty() {
            return Err(EngineError::non_editable(attributes));
        }
        adapter_rules(&platform, &requested)?;
        for _ in 0..EDIT_ATTEMPTS {
            let next = match decide(current.status, Operation::Edit) {
                Decision::MoveTo(next) => next,
                Decision::Stay | Decision::Refuse(_) => {
                    return Err(EngineError::code(ErrorCode::EditRefused { id, status: current.status }));
                }
            };
            // A failed create is set up from scratch again; anything else is installed.
            let phase = if next == Status::Creating { Phase::Request } else { Phase::Installed };
            if next == Status::Creating {
                self.host_conflict(&requested, Some(id)).await?;
            }
            if dry_run {
                let validated = self.validate(&platform, &requested, phase, Some(id));
                let audited = self.audit_dry_run(actor, "update.dryRun", Some(id), &requested);
                let (results, ()) = tokio::join!(validated, audited);
                return Ok(Outcome::DryRun(results?));
            }
            let claimed = match self.store.update_integration(id, current.version, next, None, None).await {
                Ok(claimed) => claimed,
                Err(StoreError::VersionConflict { .. }) => {
                    current = self.existing(id).await?;
                    continue;
                }
                Err(StoreError::HostTaken) => {
                    self.host_conflict(&requested, Some(id)).await?;
                    return Err(host_busy(&requested));
                }
                Err(other) => return Err(other.into()),
            };
            let results = match self.validate(&platform, &requested, phase, Some(id)).await {
                Ok(results) => results,
                Err(aborted) => {
                    self.put_back(&claimed, &current).await?;
                    return Err(aborted.into());
                }
            };
            if results.failed() {
                self.put_back(&claimed, &current).await?;
                return Err(EngineError::validation(ErrorCode::EditValidationFailed { id }, results));
            }
            let recreate = next == Status::Creating;
            let stored = Self::stored_form(&platform, &requested, (!recreate).then_some(&current.spec));
            let stored = match stored {
                Ok(stored) => stored,
                Err(error) => {
                    self.put_back(&claimed, &current).await?;
                    return Err(error);
                }
            };
            // The entry shows what the PUT asked for (its config as it will be stored), not
            // only the claimed status: the worker's entry records when it took effect.
            let asked = StoredIntegration { spec: stored.clone(), ..claimed.clone() };
            self.audit(actor, "update", id, Some(&current), Some(&asked)).await;
            self.record_validation(id, &results).await;
            let privileged = platform.descriptor().needs_privileged(&requested).then_some(requested);
            if recreate {
                // The failed create's config is replaced now; the create runs again.
                let claimed = self.store.update_integration(id, claimed.version, next, None, Some(&stored)).await?;
                self.start_job(&claimed, "create", None, privileged).await?;
                return Ok(Outcome::accepted(claimed, Some(results), None, None));
            }
            self.start_job(&claimed, "edit", Some(&stored), privileged).await?;
            return Ok(Outcome::accepted(claimed, Some(results), None, None));
        }
        let current = self.existing(id).await?;
        Err(EngineError::code(ErrorCode::EditRefused { id, status: current.status }))
    }

    /// Undoes a claim whose validation failed: the status (and message) it had before.
    pub(crate) async fn put_back(
        &self,
        claimed: &StoredIntegration,
        before: &StoredIntegration,
    ) -> Result<(), EngineError> {
        let Some(status) = withdraw(claimed.status, before.status) else {
            return Err(EngineError::Internal(format!(
                "cannot withdraw integration {} from {} to {}",
                claimed.id, claimed.status, before.status
            )));
        };
        let message = before.status_message.as_deref();
        self.store.update_integration(claimed.id, claimed.version, status, message, None).await?;
        Ok(())
    }

    /// `POST /integrations/{id}/regenerate`: a new callback key for an integration whose
    /// platform calls Warden back (Trino); the old one is revoked in the same call, after the
    /// new one exists.
    pub async fn regenerate(&self, id: IntegrationId, actor: &Actor) -> Result<Secret<String>, EngineError> {
        let integration = self.existing(id).await?;
        let integration_type = integration.spec.integration_type();
        if self.descriptor(integration_type).is_none_or(|d| d.callback_key.is_none()) {
            return Err(EngineError::code(ErrorCode::RegenerateNotTrino { id, integration_type }));
        }
        if integration.status.is_not_in_use() {
            return Err(EngineError::code(ErrorCode::EditRefused { id, status: integration.status }));
        }
        let (key, secret) = self.store.create_api_key(&callback_key_name(id), &[], Some(id)).await?;
        let revoked = self.store.revoke_integration_keys(id, Some(key.id)).await?;
        tracing::info!(integration = %id, revoked, "callback key regenerated");
        self.audit(actor, "regenerate", id, Some(&integration), Some(&integration)).await;
        Ok(secret)
    }

    async fn new_callback_key(
        &self,
        id: IntegrationId,
        public_url: &str,
        callback: &CallbackKey,
    ) -> Result<CallbackKeyShown, EngineError> {
        let no_permissions: &[Permission] = &[];
        let (_, api_key) = self.store.create_api_key(&callback_key_name(id), no_permissions, Some(id)).await?;
        let config_lines = Secret::new((callback.config_lines)(public_url, api_key.expose()));
        Ok(CallbackKeyShown { api_key, config_lines })
    }
}

/// The 400 for a config the adapter's own rules refuse (the API reference: a 400 names the field).
fn adapter_rules(platform: &Arc<dyn Platform>, requested: &IntegrationSpec) -> Result<(), EngineError> {
    let problems = platform.check_config(requested);
    if problems.is_empty() { Ok(()) } else { Err(EngineError::invalid(problems)) }
}

/// The 409 for a create or re-create whose host stayed contested.
fn host_busy(requested: &IntegrationSpec) -> EngineError {
    EngineError::code(ErrorCode::HostBusy { integration_type: requested.integration_type(), host: requested.host() })
}

/// The name of an integration's callback key (the name Warden 0.1 gave Trino's keys, kept
/// so that keys issued before and after read alike).
fn callback_key_name(id: IntegrationId) -> String {
    format!("trino-integration-{id}")
}
