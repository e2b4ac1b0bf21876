//! The Google BigQuery setup script, a Warden extension (SCRIPTS.md "Google BigQuery": the
//! reference has no script endpoint for it): a bash script of `gcloud` and `bq` commands that
//! makes the custom role with exactly the permissions Warden uses ([`PERMISSIONS`]: what its
//! validation checks exercise, plus reading and updating its own dataset), the service account
//! and its binding to the role, a key for it, and Warden's metadata dataset in `location`.
//! Each step is skipped when its object exists, so the script can run again. Every name is
//! checked against Google's naming rules (a name they refuse is refused with its config
//! field) and then written as one single-quoted word, so that nothing in it is read by the
//! shell.
//!
//! The script runs before the key exists, so its payload may leave `credential` out and name
//! the project (`config.projectId`) and the service account (`config.serviceAccount`, default
//! `warden`) instead ([`prepare_payload`]).

use serde_json::{Value, json};
use warden_model::config::BigQueryConfig;

use crate::{Dialect, Draft, ScriptError, ScriptKind};

/// The IAM permissions of Warden's custom role: each validation check's (datasets and tables
/// created, read, written, changed, deleted; `SELECT SESSION_USER()` as a query job), which
/// are also what creating, adopting and removing its metadata dataset take.
pub const PERMISSIONS: [&str; 10] = [
    "bigquery.datasets.create",
    "bigquery.datasets.get",
    "bigquery.datasets.update",
    "bigquery.datasets.delete",
    "bigquery.tables.create",
    "bigquery.tables.get",
    "bigquery.tables.update",
    "bigquery.tables.updateData",
    "bigquery.tables.delete",
    "bigquery.jobs.create",
];

/// The service account's name when the script payload names none.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "warden";

/// What the script's key file holds in place of a key, in a payload that has none yet.
const NO_KEY_YET: &str = "(the key this script creates)";

fn refuse(field: &str, reason: impl Into<String>) -> ScriptError {
    ScriptError::UnsafeName { field: field.to_owned(), reason: reason.into() }
}

/// Whether `text` is `len` characters of lower-case letters, digits and hyphens, starting
/// with a letter and not ending with a hyphen: Google's rule for project ids (6 to 30) and
/// service-account ids (6 to 30).
fn google_id(text: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && !text.ends_with('-')
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn check_project(field: &str, project: &str) -> Result<(), ScriptError> {
    if google_id(project, 6..=30) {
        Ok(())
    } else {
        Err(refuse(
            field,
            format!(
                "{project:?} is not a Google Cloud project id (6 to 30 lower-case letters, digits or hyphens, starting with a letter)"
            ),
        ))
    }
}

fn check_account(field: &str, account: &str) -> Result<(), ScriptError> {
    if google_id(account, 6..=30) {
        Ok(())
    } else {
        Err(refuse(
            field,
            format!(
                "{account:?} is not a service-account name (6 to 30 lower-case letters, digits or hyphens, starting with a letter)"
            ),
        ))
    }
}

/// The role the account is bound to: a custom role of the project (`wardenRole`, or
/// `projects/<project>/roles/wardenRole`), which the script creates, or a predefined one
/// (`roles/...`), which it only binds.
enum Role {
    Custom(String),
    Predefined(String),
}

fn role(config: &BigQueryConfig, project: &str) -> Result<Role, ScriptError> {
    let text = config.role.as_str();
    if let Some(predefined) = text.strip_prefix("roles/") {
        let ok = !predefined.is_empty() && predefined.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        return if ok {
            Ok(Role::Predefined(text.to_owned()))
        } else {
            Err(refuse("config.role", format!("{text:?} is not a predefined role name (roles/bigquery.dataEditor)")))
        };
    }
    let id = match text.strip_prefix("projects/") {
        Some(rest) => match rest.split_once("/roles/") {
            Some((of, id)) if of == project => id,
            _ => return Err(refuse("config.role", format!("{text:?} is not a custom role of project {project}"))),
        },
        None => text,
    };
    let ok = (3..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if ok {
        Ok(Role::Custom(id.to_owned()))
    } else {
        Err(refuse(
            "config.role",
            format!("{id:?} is not a custom role id (3 to 64 letters, digits, underscores or periods)"),
        ))
    }
}

pub(crate) fn build(kind: ScriptKind, config: &BigQueryConfig) -> Result<Draft, ScriptError> {
    let project = config.key_info.project_id.as_str();
    check_project("config.credential", project)?;
    let email = config.key_info.client_email.as_str();
    let account = email.strip_suffix(&format!("@{project}.iam.gserviceaccount.com")).ok_or_else(|| {
        refuse("config.credential", format!("{email:?} is not a service account of project {project}"))
    })?;
    check_account("config.credential", account)?;
    let role = role(config, project)?;
    let q = |text: &str| Dialect::Bash.literal(text);
    let (p, e) = (q(project), q(email));
    let dataset = config.dataset.as_str();
    let key_file = format!("{account}-key.json");
    let mut draft = Draft::new(
        Dialect::Bash,
        format!(
            "a user signed in to gcloud who may create roles, service accounts, keys, IAM bindings and datasets in project {project} (an owner, or roles/iam.roleAdmin, roles/iam.serviceAccountAdmin, roles/iam.serviceAccountKeyAdmin, roles/resourcemanager.projectIamAdmin and roles/bigquery.admin)"
        ),
    );
    if kind != ScriptKind::Create {
        return Ok(draft);
    }
    let bound = match &role {
        Role::Custom(id) => {
            draft.summarise(format!("custom role {id}, with the {} permissions Warden uses", PERMISSIONS.len()));
            format!("projects/{project}/roles/{id}")
        }
        Role::Predefined(name) => name.clone(),
    };
    draft
        .summarise(format!("service account {email}, bound to {bound}"))
        .summarise(format!("a key for it in {key_file} (the value of config.credential)"))
        .summarise(format!("dataset {project}:{dataset} in {} (Warden's metadata)", config.location));
    if let Role::Predefined(name) = &role {
        draft.note(format!(
            "config.role is the predefined role {name}, which the script binds as it is: it may grant more than the {} permissions Warden uses.",
            PERMISSIONS.len()
        ));
    }
    draft.note(format!(
        "{key_file} is the service account's credential: send its content as config.credential, then delete the file."
    ));
    if let Role::Custom(id) = &role {
        draft.explain(
            "The custom role, with exactly the permissions Warden uses (kept when it exists).",
            format!(
                "gcloud iam roles describe {r} --project={p} >/dev/null 2>&1 ||\n  gcloud iam roles create {r} --project={p} --title='Warden' --description='The permissions Warden uses' --stage=GA --permissions={perms}",
                r = q(id),
                perms = q(&PERMISSIONS.join(","))
            ),
        );
    }
    draft
        .explain(
            "The service account Warden works as (kept when it exists).",
            format!(
                "gcloud iam service-accounts describe {e} --project={p} >/dev/null 2>&1 ||\n  gcloud iam service-accounts create {a} --project={p} --display-name='Warden'",
                a = q(account)
            ),
        )
        .explain(
            "The account holds the role in the project.",
            format!(
                "gcloud projects add-iam-policy-binding {p} --member={m} --role={r} --condition=None >/dev/null",
                m = q(&format!("serviceAccount:{email}")),
                r = q(&bound)
            ),
        )
        .explain(
            "A key for the account, readable by you only (not made again when the file exists).",
            format!(
                "if [ ! -e {k} ]; then\n  (umask 077 && gcloud iam service-accounts keys create {k} --iam-account={e} --project={p})\nfi",
                k = q(&key_file)
            ),
        )
        .explain(
            "Warden's metadata dataset, in the integration's location (Warden labels it managed-by: warden when the integration is created).",
            format!(
                "bq --project_id={p} show --dataset {d} >/dev/null 2>&1 ||\n  bq --project_id={p} --location={l} mk --dataset --description='Warden metadata' {d}",
                d = q(&format!("{project}:{dataset}")),
                l = q(&config.location)
            ),
        );
    Ok(draft)
}

/// A BigQuery create-script payload without `config.credential` (the script makes the key):
/// `config.projectId` and `config.serviceAccount` (default [`DEFAULT_SERVICE_ACCOUNT`]) are
/// checked, taken out, and stand in as a key file that names them and holds no key, so that
/// the payload reads as any other. A payload with `credential` is left as it is (and then
/// neither field may be given).
pub(crate) fn prepare_payload(payload: &Value) -> Result<Option<Value>, ScriptError> {
    let Some(config) = payload.get("config").and_then(Value::as_object) else { return Ok(None) };
    if config.contains_key("credential") {
        return Ok(None);
    }
    let text = |name: &str| {
        config.get(name).map(|v| v.as_str().ok_or_else(|| refuse(&format!("config.{name}"), "must be a string")))
    };
    let project = text("projectId").ok_or_else(|| {
        ScriptError::Payload {
            field: "config.projectId".into(),
            reason: "is required when config.credential is not given: the script creates the service account and its key in this project".into(),
        }
    })??;
    check_project("config.projectId", project)?;
    let account = text("serviceAccount").transpose()?.unwrap_or(DEFAULT_SERVICE_ACCOUNT);
    check_account("config.serviceAccount", account)?;
    let key_file = json!({"type": "service_account", "project_id": project, "private_key": NO_KEY_YET,
        "client_email": format!("{account}@{project}.iam.gserviceaccount.com")});
    let mut payload = payload.clone();
    if let Some(config) = payload.get_mut("config").and_then(Value::as_object_mut) {
        config.remove("projectId");
        config.remove("serviceAccount");
        config.insert("credential".into(), Value::String(key_file.to_string()));
    }
    Ok(Some(payload))
}
