//! Field-by-field differences between two redacted integration documents (what `warden plan`
//! shows and what the audit log's entries answer): every leaf by its dotted path, lists
//! compared whole. Secrets are compared as they are shown, `[REDACTED]`, so a difference
//! never reveals one.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

/// One field that differs: its path, and its value before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field's path (`config.port`, `labels.team`).
    pub path: String,
    /// The value before, absent when there was none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after, absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The leaves under `roots` (top-level keys; every key when `None`) that differ between
/// `before` and `after`, in path order. A `null` is no value.
pub fn field_changes(before: &Value, after: &Value, roots: Option<&[&str]>) -> Vec<FieldChange> {
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    for (document, leaves) in [(before, &mut old), (after, &mut new)] {
        match (roots, document) {
            (Some(roots), _) => {
                for key in roots {
                    if let Some(value) = document.get(*key) {
                        flatten(value, key, leaves);
                    }
                }
            }
            (None, Value::Object(map)) => {
                for (key, value) in map {
                    flatten(value, key, leaves);
                }
            }
            (None, _) => {}
        }
    }
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    paths
        .into_iter()
        .filter(|path| old.get(*path) != new.get(*path))
        .map(|path| FieldChange { path: path.clone(), before: old.get(path).cloned(), after: new.get(path).cloned() })
        .collect()
}

/// The leaves of a value by dotted path; lists are compared whole.
fn flatten(value: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                flatten(item, &format!("{path}.{key}"), out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(path.to_owned(), other.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{FieldChange, field_changes};

    /// Leaves by path, lists whole, a field on one side only a change from or to nothing;
    /// with roots, only those keys.
    #[test]
    fn differences_are_listed_by_field_path() {
        let server = json!({"id": 4, "type": "Redshift", "autoBootstrap": false,
            "config": {"port": 5439, "impersonation": {"enabled": false}, "list": [1, 2], "password": "[REDACTED]"},
            "labels": {"name": "a", "team": "x"}});
        let document = json!({"type": "Redshift", "autoBootstrap": false,
            "config": {"port": 5439, "impersonation": {"enabled": true}, "list": [1, 2, 3], "password": "[REDACTED]"},
            "labels": {"name": "a"}});
        let change = |path: &str, before, after| FieldChange { path: path.to_owned(), before, after };
        let roots: &[&str] = &["autoBootstrap", "config", "labels"];
        assert_eq!(
            field_changes(&server, &document, Some(roots)),
            vec![
                change("config.impersonation.enabled", Some(json!(false)), Some(json!(true))),
                change("config.list", Some(json!([1, 2])), Some(json!([1, 2, 3]))),
                change("labels.team", Some(json!("x")), None),
            ]
        );
        assert!(field_changes(&server, &server, None).is_empty());
        assert!(field_changes(&server, &document, None).contains(&change("id", Some(json!(4)), None)));
        assert_eq!(field_changes(&json!(null), &json!({"a": 1}), None), vec![change("a", None, Some(json!(1)))]);
    }
}
