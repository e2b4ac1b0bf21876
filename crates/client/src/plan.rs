//! What `apply` would do: each document matched with the server's integration of the same
//! name (the label `name`, or the document's `id`), compared field by field on the redacted
//! forms (so secrets are never compared or shown), and the server's named integrations that
//! no document names, to delete with `--prune`. An automatic integration's credentials are
//! not compared: its document holds the privileged account, the server its system account.

use std::collections::BTreeMap;

use serde_json::Value;
use warden_model::REDACTED;
use warden_model::changes::{FieldChange, field_changes};
use warden_model::config::authentication_fields;

use crate::ClientError;
use crate::documents::{Document, NAME_LABEL};

/// One step of a plan.
#[derive(Debug, Clone)]
pub enum Action {
    /// No integration has this document's name: create it.
    Create {
        /// The document.
        document: Document,
    },
    /// The integration differs from its document.
    Update {
        /// The document.
        document: Document,
        /// The integration's id.
        id: u64,
        /// What changes.
        changes: Vec<FieldChange>,
    },
    /// The integration matches its document.
    Unchanged {
        /// The document.
        document: Document,
        /// The integration's id.
        id: u64,
    },
    /// A named integration no document names (deleted with `--prune`).
    Delete {
        /// Its name label.
        name: String,
        /// Its id.
        id: u64,
        /// Its type.
        integration_type: String,
    },
}

impl Action {
    /// Whether it changes anything.
    pub const fn is_change(&self) -> bool {
        !matches!(self, Self::Unchanged { .. })
    }
}

/// The plan for `documents` against the server's integrations `current` (as `GET
/// /integrations` lists them); deletions only with `prune`.
pub fn plan(documents: &[Document], current: &[Value], prune: bool) -> Result<Vec<Action>, ClientError> {
    let mut by_name: BTreeMap<&str, &Value> = BTreeMap::new();
    for integration in current {
        if let Some(name) = integration["labels"][NAME_LABEL].as_str()
            && let Some(other) = by_name.insert(name, integration)
        {
            return Err(ClientError::Unsettled(format!(
                "integrations {} and {} on the server are both named {name}: remove the label from one (PUT it without labels.name) before applying",
                other["id"], integration["id"]
            )));
        }
    }
    let mut actions = Vec::new();
    let mut claimed = Vec::new();
    for document in documents {
        let found = match document.id {
            Some(id) => current.iter().find(|i| i["id"].as_u64() == Some(id)).ok_or_else(|| ClientError::Document {
                file: document.source.clone(),
                message: format!("id {id} names no integration on the server: remove the id to create it"),
            })?,
            None => match by_name.get(document.name.as_str()) {
                Some(found) => found,
                None => {
                    actions.push(Action::Create { document: document.clone() });
                    continue;
                }
            },
        };
        let id = found["id"].as_u64().unwrap_or_default();
        claimed.push(id);
        let wanted = document.spec.integration_type().wire_name();
        if found["type"].as_str() != Some(wanted) {
            return Err(ClientError::Document {
                file: document.source.clone(),
                message: format!(
                    "{} is integration {id} on the server, a {} integration, and the document says {wanted}: the type cannot change; rename the document or delete the integration",
                    document.name,
                    found["type"].as_str().unwrap_or("?")
                ),
            });
        }
        // An integration matched by its id that has no name label keeps having none.
        let mut document = document.clone();
        if document.id.is_some() && found["labels"].get(NAME_LABEL).is_none() {
            document.spec.labels.remove(NAME_LABEL);
            if let Some(labels) = document.payload.get_mut("labels").and_then(Value::as_object_mut) {
                labels.remove(NAME_LABEL);
            }
        }
        let desired = document.spec.redacted();
        let mut changes = differences(found, &desired);
        if document.spec.auto_bootstrap {
            // The credentials of an automatic integration's document are the privileged
            // account's, used for a change and never stored: the server shows its own system
            // account there. They are not compared.
            let credentials = authentication_fields(document.spec.integration_type());
            changes.retain(|change| {
                let field = change.path.strip_prefix("config.").and_then(|rest| rest.split('.').next());
                !field.is_some_and(|field| credentials.contains(&field))
            });
        }
        actions.push(if changes.is_empty() {
            Action::Unchanged { document, id }
        } else {
            Action::Update { document, id, changes }
        });
    }
    if prune {
        for (name, integration) in by_name {
            let id = integration["id"].as_u64().unwrap_or_default();
            if !claimed.contains(&id) {
                actions.push(Action::Delete {
                    name: name.to_owned(),
                    id,
                    integration_type: integration["type"].as_str().unwrap_or("?").to_owned(),
                });
            }
        }
    }
    Ok(actions)
}

/// The fields of `autoBootstrap`, `config` and `labels` that differ between the server's
/// integration and the document's redacted payload, in path order.
pub fn differences(current: &Value, desired: &Value) -> Vec<FieldChange> {
    field_changes(current, desired, Some(&["autoBootstrap", "config", "labels"]))
}

/// A value as a plan shows it: JSON, with a secret shown as the server shows it.
pub fn shown(value: Option<&Value>) -> String {
    match value {
        None => "(none)".to_owned(),
        Some(Value::String(s)) if s == REDACTED => REDACTED.to_owned(),
        Some(v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::differences;

    /// A secret kept outside Warden is shown as its reference on both sides: the same
    /// reference is no change, another one is a change a plan can show in full.
    #[test]
    fn a_secret_reference_compares_as_itself() {
        let config = |reference: &str| json!({"autoBootstrap": false, "config": {"host": "h", "password": {"secretRef": reference}}});
        assert!(differences(&config("env://A"), &config("env://A")).is_empty());
        let changes = differences(&config("env://A"), &config("aws-sm://warden/b#password"));
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert!(paths.iter().all(|p| p.starts_with("config.password")) && !paths.is_empty(), "{paths:?}");
        let after = changes.iter().filter_map(|c| c.after.as_ref()).map(ToString::to_string).collect::<String>();
        assert!(after.contains("aws-sm://warden/b#password"), "{after}");
    }
}
