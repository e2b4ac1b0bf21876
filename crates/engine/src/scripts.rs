//! The script endpoints' use cases (the API reference §5): check the payload (or read the
//! stored integration), refuse what the contract refuses, and build the script with
//! `warden-scripts`. Nothing is stored or run.

use serde_json::Value;
use warden_lifecycle::{Decision, Operation, decide};
use warden_model::{ErrorCode, IntegrationId, IntegrationSpec, Problem};
use warden_scripts::{Script, ScriptError, ScriptKind};

use warden_store::StoredIntegration;

use crate::{Engine, EngineError};

impl From<ScriptError> for EngineError {
    fn from(error: ScriptError) -> Self {
        match error {
            ScriptError::UnsafeName { field, reason } | ScriptError::Payload { field, reason } => {
                Self::invalid(vec![Problem { path: field, message: reason }])
            }
            ScriptError::TypeNotAccepted { accepted } => Self::code(ErrorCode::ScriptTypeNotAccepted { accepted }),
            ScriptError::Randomness(detail) => Self::Internal(detail),
            error @ ScriptError::PrivateKey(_) => {
                Self::invalid(vec![Problem { path: "config.privateKey".into(), message: error.to_string() }])
            }
        }
    }
}

/// Reads a script endpoint's payload: a full integration payload whose `autoBootstrap`
/// is false.
fn script_payload(payload: &Value, stored: Option<&IntegrationSpec>) -> Result<IntegrationSpec, EngineError> {
    let spec = match stored {
        Some(stored) => stored.updated_from(payload),
        None => IntegrationSpec::from_value(payload, None),
    }
    .map_err(EngineError::invalid)?;
    if spec.auto_bootstrap {
        return Err(EngineError::invalid(vec![Problem {
            path: "autoBootstrap".into(),
            message: "must be false for script endpoints: scripts are for setting the platform up by hand".into(),
        }]));
    }
    Ok(spec)
}

impl Engine {
    /// A stored config with its secret references read, for a script built from it: one
    /// that cannot be read is a 400 naming its field.
    async fn resolve_stored(&self, spec: &IntegrationSpec) -> Result<IntegrationSpec, EngineError> {
        self.options.secrets.resolve(spec).await.map_err(|error| {
            EngineError::invalid(vec![Problem { path: error.path.clone(), message: error.to_string() }])
        })
    }

    /// `POST /integrations/scripts/{create, initial-create, cleanup, post-cleanup}`.
    pub async fn script(&self, kind: ScriptKind, payload: &Value) -> Result<Script, EngineError> {
        let (payload, generated) = warden_scripts::prepare_payload(kind, payload)?;
        let spec = self.resolve_request(script_payload(&payload, None)?).await?;
        if !kind.accepted().contains(&spec.integration_type()) {
            return Err(EngineError::code(ErrorCode::ScriptTypeNotAccepted { accepted: kind.accepted().to_vec() }));
        }
        let mut script = warden_scripts::build(kind, &spec, None)?;
        if generated && script.statements().any(|s| s.sql.contains("PASSWORD")) {
            script.notes.push(
                "Warden generated the system account's password in this script (config.password was not given): use it as config.password when you POST /integrations.".into(),
            );
        }
        Ok(script)
    }

    /// `POST /integrations/{id}/scripts/edit`: the difference between the stored config and
    /// the payload's.
    pub async fn edit_script(&self, id: IntegrationId, payload: &Value) -> Result<Script, EngineError> {
        let current = self.existing(id).await?;
        if let Decision::Refuse(_) = decide(current.status, Operation::Edit) {
            return Err(EngineError::code(ErrorCode::EditRefused { id, status: current.status }));
        }
        if !ScriptKind::Edit.accepted().contains(&current.spec.integration_type()) {
            return Err(EngineError::code(ErrorCode::ScriptTypeNotAccepted {
                accepted: ScriptKind::Edit.accepted().to_vec(),
            }));
        }
        let requested = self.resolve_request(script_payload(payload, Some(&current.spec))?).await?;
        // The config the edit leaves is read if it can be, as a change's is: the edit may be
        // what repairs a reference that no longer reads.
        let left = self.options.secrets.resolve(&current.spec).await.unwrap_or_else(|_| current.spec.clone());
        let current = StoredIntegration { spec: left, ..current };
        let attributes = current.spec.non_editable_changes(&requested, false);
        if !attributes.is_empty() {
            return Err(EngineError::non_editable(attributes));
        }
        Ok(warden_scripts::build(ScriptKind::Edit, &requested, Some(&current.spec))?)
    }

    /// `POST /integrations/{id}/scripts/{cleanup, post-cleanup}` (a Warden extension): the
    /// removal scripts of an integration whose creation failed, built from what Warden
    /// stored, so that they remove exactly what Warden creates: for an automatic setup the
    /// generated system account, never the privileged user whose credentials the request
    /// carried.
    pub async fn stored_cleanup_script(&self, id: IntegrationId, kind: ScriptKind) -> Result<Script, EngineError> {
        let current = self.existing(id).await?;
        if !kind.accepted().contains(&current.spec.integration_type()) {
            return Err(EngineError::code(ErrorCode::ScriptTypeNotAccepted { accepted: kind.accepted().to_vec() }));
        }
        if current.status != warden_model::Status::CreateError {
            return Err(EngineError::code(ErrorCode::CleanupNotApplicable { id, status: current.status }));
        }
        Ok(warden_scripts::build(kind, &self.resolve_stored(&current.spec).await?, None)?)
    }

    /// `POST /integrations/{id}/scripts/delete`: the removal script of the stored config.
    /// Refused while an operation runs; answered for disabled integrations (a force-disable
    /// tells the user to run it).
    pub async fn delete_script(&self, id: IntegrationId) -> Result<Script, EngineError> {
        let current = self.existing(id).await?;
        if current.status.is_transitional() {
            return Err(EngineError::code(ErrorCode::DeleteRefused { id, status: current.status }));
        }
        Ok(warden_scripts::build(ScriptKind::Delete, &self.resolve_stored(&current.spec).await?, None)?)
    }
}
