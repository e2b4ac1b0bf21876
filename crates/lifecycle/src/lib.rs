//! Warden's integration state machine (the API reference, sections §2 and 6) as one pure function:
//! [`decide`] takes a status and an [`Operation`] and answers with the next status, "stay",
//! or a [`Refusal`]. Every status change in Warden goes through here; nothing sets a status
//! by hand. The full table is snapshot-tested.

use serde::Serialize;
use warden_model::{ErrorCode, IntegrationId, IntegrationType, Status};

/// Something that may change an integration's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// POST /integrations for the same host as an integration in this status.
    Create,
    /// PUT /integrations/{id} passed its checks and starts an edit.
    Edit,
    /// DELETE /integrations/{id} passed its checks and starts a removal.
    Delete,
    /// DELETE with `forceDisable=true`: nothing runs on the platform.
    ForceDisable,
    /// The running operation (create, edit, delete, migrate) finished well.
    Succeeded,
    /// The running operation failed and was rolled back as far as possible.
    Failed,
    /// The periodic re-validation passed.
    RecurringCheckPassed,
    /// The periodic re-validation failed.
    RecurringCheckFailed,
    /// An upgrade of Warden changed the platform objects; update them.
    Migrate,
    /// Warden restarted; whatever was running was interrupted.
    RecoverAfterCrash,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Self; 10] = [
        Self::Create,
        Self::Edit,
        Self::Delete,
        Self::ForceDisable,
        Self::Succeeded,
        Self::Failed,
        Self::RecurringCheckPassed,
        Self::RecurringCheckFailed,
        Self::Migrate,
        Self::RecoverAfterCrash,
    ];
}

/// What happens to an integration when an operation meets its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// The integration moves to this status.
    MoveTo(Status),
    /// Accepted; the status stays. For `Create` this means the existing integration is not
    /// in use and the new one is created beside it (starting in [`INITIAL`]).
    Stay,
    /// Refused.
    Refuse(Refusal),
}

/// The status every new integration starts in.
pub const INITIAL: Status = Status::Creating;

/// Why an operation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Refusal {
    /// 409: the host already has an integration in use.
    AlreadyExists,
    /// 400: the host's integration failed to create; PUT it instead.
    UsePutForFailedCreate,
    /// 409: the integration cannot be edited in this status.
    EditNotAllowed,
    /// 409: the integration cannot be deleted or disabled in this status.
    DeleteNotAllowed,
    /// No operation is running, so there is nothing to succeed or fail (a stale worker
    /// event; the caller drops it).
    NoOperationRunning,
    /// The integration is not subject to recurring validation in this status (an edit or
    /// delete started while the check ran; the caller drops the result).
    NotRecurring,
    /// Nothing to migrate in this status (the migration skips it).
    NotMigratable,
}

/// What an API error about a refusal needs to name.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The integration refused.
    pub id: IntegrationId,
    /// Its status.
    pub status: Status,
    /// Its type.
    pub integration_type: IntegrationType,
    /// Its host (workspace, project or S3 name).
    pub host: &'a str,
}

impl Refusal {
    /// The error the API answers with, or `None` for refusals no client caused (stale
    /// worker events), which the caller drops and logs.
    pub fn error(self, subject: &Subject<'_>) -> Option<ErrorCode> {
        let Subject { id, status, integration_type, host } = *subject;
        let host = host.to_owned();
        match self {
            Self::AlreadyExists => Some(ErrorCode::AlreadyExists { integration_type, host, id }),
            Self::UsePutForFailedCreate => Some(ErrorCode::PreviouslyFailedToCreate { integration_type, host, id }),
            Self::EditNotAllowed => Some(ErrorCode::EditRefused { id, status }),
            Self::DeleteNotAllowed => Some(ErrorCode::DeleteRefused { id, status }),
            Self::NoOperationRunning | Self::NotRecurring | Self::NotMigratable => None,
        }
    }
}

/// The state machine. Total: every (status, operation) pair has an answer.
pub const fn decide(status: Status, operation: Operation) -> Decision {
    use Decision::{MoveTo, Refuse, Stay};
    use Operation as Op;
    use Status as S;
    match operation {
        Op::Create => match status {
            S::Deleted | S::Disabled => Stay,
            S::CreateError => Refuse(Refusal::UsePutForFailedCreate),
            _ => Refuse(Refusal::AlreadyExists),
        },
        Op::Edit => match status {
            // PUT on a failed create runs the create again with the new config.
            S::CreateError => MoveTo(S::Creating),
            S::Enabled | S::EditError | S::DeleteError | S::MigrateError | S::RecurringValidationError => {
                MoveTo(S::Editing)
            }
            S::Creating | S::Editing | S::Deleting | S::Migrating | S::Deleted | S::Disabled => {
                Refuse(Refusal::EditNotAllowed)
            }
        },
        Op::Delete => match status {
            S::CreateError
            | S::Enabled
            | S::EditError
            | S::DeleteError
            | S::MigrateError
            | S::RecurringValidationError => MoveTo(S::Deleting),
            S::Creating | S::Editing | S::Deleting | S::Migrating | S::Deleted | S::Disabled => {
                Refuse(Refusal::DeleteNotAllowed)
            }
        },
        Op::ForceDisable => match status {
            S::CreateError
            | S::Enabled
            | S::EditError
            | S::DeleteError
            | S::MigrateError
            | S::RecurringValidationError => MoveTo(S::Disabled),
            S::Disabled => Stay,
            S::Creating | S::Editing | S::Deleting | S::Migrating | S::Deleted => Refuse(Refusal::DeleteNotAllowed),
        },
        Op::Succeeded => match status {
            S::Creating | S::Editing | S::Migrating => MoveTo(S::Enabled),
            S::Deleting => MoveTo(S::Deleted),
            _ => Refuse(Refusal::NoOperationRunning),
        },
        Op::Failed | Op::RecoverAfterCrash => match status {
            S::Creating => MoveTo(S::CreateError),
            S::Editing => MoveTo(S::EditError),
            S::Deleting => MoveTo(S::DeleteError),
            S::Migrating => MoveTo(S::MigrateError),
            _ if matches!(operation, Op::RecoverAfterCrash) => Stay,
            _ => Refuse(Refusal::NoOperationRunning),
        },
        Op::RecurringCheckPassed => match status {
            S::Enabled => Stay,
            S::RecurringValidationError => MoveTo(S::Enabled),
            _ => Refuse(Refusal::NotRecurring),
        },
        Op::RecurringCheckFailed => match status {
            S::Enabled => MoveTo(S::RecurringValidationError),
            S::RecurringValidationError => Stay,
            _ => Refuse(Refusal::NotRecurring),
        },
        Op::Migrate => match status {
            S::Enabled | S::RecurringValidationError | S::MigrateError => MoveTo(S::Migrating),
            _ => Refuse(Refusal::NotMigratable),
        },
    }
}

/// Withdrawing a claim: a PUT or DELETE moved an integration from `previous` to `claimed`
/// before validating, and the validation failed. Answers `previous` when that move is one
/// [`decide`] makes (so the integration goes back where it was), `None` for any other pair.
pub fn withdraw(claimed: Status, previous: Status) -> Option<Status> {
    [Operation::Edit, Operation::Delete]
        .into_iter()
        .any(|operation| matches!(decide(previous, operation), Decision::MoveTo(s) if s == claimed))
        .then_some(previous)
}

/// How an integration is set up, which decides what a person can do after an interruption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Warden runs the setup with privileged credentials it is given for each change and
    /// never stores (`autoBootstrap: true` on Snowflake, Redshift, Synapse).
    WithPrivilegedCredentials,
    /// Anything else: set up by hand with the scripts, or with the identity Warden stores.
    Otherwise,
}

/// The status message recovery sets when a restart interrupted integration `id` in
/// `status`: what happened and what to do next. Every piece of advice is a request the API
/// accepts in the status recovery leaves. `None` when nothing was running.
pub fn recovery_message(status: Status, id: IntegrationId, setup: Setup) -> Option<String> {
    let privileged = setup == Setup::WithPrivilegedCredentials;
    let text = match status {
        Status::Creating if privileged => Some(
            "Warden stopped while creating this integration. Privileged credentials are never stored, so the setup cannot resume: generate the cleanup script (POST /integrations/{id}/scripts/cleanup) and run it to remove anything that was created, or send DELETE /integrations/{id} with the privileged credentials to remove it; then PUT /integrations/{id} with the privileged credentials to create the integration again.",
        ),
        Status::Creating => Some(
            "Warden stopped while creating this integration. Send PUT /integrations/{id} to validate it and create it again, or DELETE /integrations/{id} to give up.",
        ),
        Status::Editing if privileged => Some(
            "Warden stopped while editing this integration; the previous configuration is still in force. Send the PUT /integrations/{id} again with the privileged credentials.",
        ),
        Status::Editing => Some(
            "Warden stopped while editing this integration; the previous configuration is still in force. Check the platform against the edit script (POST /integrations/{id}/scripts/edit) and send the PUT /integrations/{id} again.",
        ),
        Status::Deleting if privileged => Some(
            "Warden stopped while deleting this integration; it is still registered. Send the DELETE /integrations/{id} again with the privileged credentials (it skips what is already gone), or generate the delete script (POST /integrations/{id}/scripts/delete) and run it by hand.",
        ),
        Status::Deleting => Some(
            "Warden stopped while deleting this integration; it is still registered. Send the DELETE /integrations/{id} again, or generate the delete script (POST /integrations/{id}/scripts/delete) and run it by hand.",
        ),
        Status::Migrating => Some(
            "Warden stopped while migrating this integration's platform objects; it keeps working with the previous objects. The migration runs again on the next start.",
        ),
        _ => None,
    }?;
    Some(text.replace("{id}", &id.to_string()))
}
