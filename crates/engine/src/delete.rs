//! DELETE of an integration (the API reference §2.4): the credential rules of the body, `forceDisable`,
//! `dryRun`, and the privileged credentials an automatic integration's removal needs, read
//! over the stored config so that only credentials come from the body.

use serde_json::{Map, Value};
use warden_lifecycle::{Decision, Operation, decide};
use warden_model::{ErrorCode, IntegrationId, IntegrationSpec, Problem, REDACTED, Status, ValidationResults};
use warden_platform::{Phase, SetupModel};
use warden_store::StoreError;

use crate::{Actor, Engine, EngineError, Outcome};

impl Engine {
    /// `DELETE /integrations/{id}`. `body` is the decoded body, `None` when there is none.
    pub async fn delete(
        &self,
        id: IntegrationId,
        body: Option<&Value>,
        dry_run: bool,
        force_disable: bool,
        actor: &Actor,
    ) -> Result<Outcome, EngineError> {
        let current = self.existing(id).await?;
        if force_disable {
            return self.force_disable(current, dry_run, actor).await;
        }
        let credentials = body_credentials(body)?;
        let spec = &current.spec;
        let platform = self.platform(spec.integration_type())?;
        let descriptor = platform.descriptor();
        let privileged = match (credentials, descriptor.needs_privileged(spec)) {
            (Some(_), false) if descriptor.setup == SetupModel::OwnIdentity => {
                return Err(EngineError::code(ErrorCode::DatabricksCredentialsNotRequired));
            }
            (Some(_), false) => return Err(EngineError::code(ErrorCode::CredentialsNotRequired)),
            (None, true) => return Err(EngineError::code(ErrorCode::PrivilegedCredentialsRequired)),
            (None, false) => None,
            (Some(config), true) => {
                Some(privileged_spec(spec, config, descriptor.delete_credential_fields).map_err(EngineError::invalid)?)
            }
        };
        let next = match decide(current.status, Operation::Delete) {
            Decision::MoveTo(next) => next,
            Decision::Stay | Decision::Refuse(_) => {
                return Err(EngineError::code(ErrorCode::DeleteRefused { id, status: current.status }));
            }
        };
        let checked = privileged.as_ref().unwrap_or(spec);
        // A failed create set up by hand has nothing of Warden's on the platform to remove,
        // and its stored credentials may never have worked: there is nothing to check.
        let failed_create = current.status == Status::CreateError;
        let check = !(failed_create && privileged.is_none());
        if dry_run {
            let audited = self.audit_dry_run(actor, "delete.dryRun", Some(id), spec);
            let results = if check {
                let (results, ()) = tokio::join!(self.validate(&platform, checked, Phase::Removal, Some(id)), audited);
                results?
            } else {
                audited.await;
                nothing_to_check()
            };
            return Ok(Outcome::DryRun(results));
        }
        let claimed = match self.store.update_integration(id, current.version, next, None, None).await {
            Ok(claimed) => claimed,
            Err(StoreError::VersionConflict { .. }) => {
                let now = self.existing(id).await?;
                return Err(EngineError::code(ErrorCode::DeleteRefused { id, status: now.status }));
            }
            Err(other) => return Err(other.into()),
        };
        let results = if check {
            match self.validate(&platform, checked, Phase::Removal, Some(id)).await {
                Ok(results) => Some(results),
                Err(aborted) => {
                    self.put_back(&claimed, &current).await?;
                    return Err(aborted.into());
                }
            }
        } else {
            None
        };
        if let Some(results) = results.as_ref().filter(|r| r.failed()) {
            self.put_back(&claimed, &current).await?;
            return Err(EngineError::validation(ErrorCode::DeleteValidationFailed { id }, results.clone()));
        }
        self.audit(actor, "delete", id, Some(&current), Some(&claimed)).await;
        if let Some(results) = &results {
            self.record_validation(id, results).await;
        }
        // What a failed create left is removed by its cleanup, which skips what is not there.
        let kind = if failed_create { "cleanup" } else { "delete" };
        self.start_job(&claimed, kind, None, privileged).await?;
        Ok(Outcome::accepted(claimed, results, None, None))
    }

    /// `forceDisable=true`: `disabled` at once, nothing run on the platform. With
    /// `dryRun=true` nothing changes: the answer is the current status and what the real call
    /// would do.
    async fn force_disable(
        &self,
        current: warden_store::StoredIntegration,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Outcome, EngineError> {
        let id = current.id;
        let status = match decide(current.status, Operation::ForceDisable) {
            Decision::MoveTo(next) => next,
            Decision::Stay => current.status,
            Decision::Refuse(_) => {
                return Err(EngineError::code(ErrorCode::DeleteRefused { id, status: current.status }));
            }
        };
        let message = format!(
            "Disabled without any change on the platform: Warden's objects are still there. Generate the delete script (POST /integrations/{id}/scripts/delete) and run it to remove them."
        );
        if dry_run {
            self.audit_dry_run(actor, "forceDisable.dryRun", Some(id), &current.spec).await;
            let would = format!(
                "dryRun: nothing changed. Without dryRun, integration {id} would move from {} to {status} at once, with nothing run on the platform; Warden's objects would stay there until the delete script (POST /integrations/{id}/scripts/delete) is run.",
                current.status
            );
            return Ok(Outcome::accepted(current, None, None, Some(would)));
        }
        let disabled = match self.store.update_integration(id, current.version, status, Some(&message), None).await {
            Ok(disabled) => disabled,
            Err(StoreError::VersionConflict { .. }) => {
                let now = self.existing(id).await?;
                return Err(EngineError::code(ErrorCode::DeleteRefused { id, status: now.status }));
            }
            Err(other) => return Err(other.into()),
        };
        debug_assert_eq!(disabled.status, Status::Disabled);
        self.store.revoke_integration_keys(id, None).await?;
        self.audit(actor, "forceDisable", id, Some(&current), Some(&disabled)).await;
        Ok(Outcome::accepted(disabled, None, None, Some(message)))
    }
}

/// The `config` of a DELETE body, if it carries credentials. The body may be absent, empty,
/// `{}` or `{"config": {...}}`; anything else is a 400 naming the field.
fn body_credentials(body: Option<&Value>) -> Result<Option<&Map<String, Value>>, EngineError> {
    let problem =
        |path: &str, message: &str| EngineError::invalid(vec![Problem { path: path.into(), message: message.into() }]);
    let object = match body {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(problem("", "the body must be an object: {\"config\": {...credentials...}}")),
    };
    let mut errors = Vec::new();
    for key in object.keys().filter(|k| k.as_str() != "config") {
        errors.push(Problem {
            path: key.clone(),
            message: "is not a known field: a DELETE body carries only config".into(),
        });
    }
    if !errors.is_empty() {
        return Err(EngineError::invalid(errors));
    }
    match object.get("config") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(config)) if config.is_empty() => Ok(None),
        Some(Value::Object(config)) => Ok(Some(config)),
        Some(_) => Err(problem("config", "must be an object with the privileged credentials")),
    }
}

/// The stored config with its credentials replaced by the body's: what an automatic
/// integration's removal connects with. Only credential fields (the adapter's
/// `credential_fields`, and any secret field) may come from the body.
fn privileged_spec(
    stored: &IntegrationSpec,
    credentials: &Map<String, Value>,
    credential_fields: &[&str],
) -> Result<IntegrationSpec, Vec<Problem>> {
    let mut payload = stored.redacted();
    let Some(config) = payload.get_mut("config").and_then(Value::as_object_mut) else {
        return Err(vec![Problem { path: "config".into(), message: "this integration takes no credentials".into() }]);
    };
    let is_credential = |key: &str, value: Option<&Value>| {
        credential_fields.contains(&key) || value.and_then(Value::as_str) == Some(REDACTED)
    };
    config.retain(|key, value| !is_credential(key, Some(value)));
    let mut problems = Vec::new();
    for (key, value) in credentials {
        if config.contains_key(key) {
            problems.push(Problem {
                path: format!("config.{key}"),
                message: "is not a credential: a DELETE body carries only the privileged credentials".into(),
            });
        } else {
            config.insert(key.clone(), value.clone());
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    IntegrationSpec::from_value(&payload, None)
}

/// The answer of a dry-run DELETE that has nothing to check (a failed manual create).
fn nothing_to_check() -> ValidationResults {
    ValidationResults::from_tests(Vec::new())
}
