//! Shared helpers of the model's data-driven tests: loading the case files under `cases/`,
//! applying a case's patch to its base payload, and running a payload as JSON and as YAML.

#![allow(dead_code)]

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use warden_model::{BodyFormat, IntegrationSpec, ModelError, check_payload};

/// The platforms that have a case file.
pub const PLATFORMS: [&str; 7] = ["s3", "synapse", "databricks", "bigquery", "redshift", "snowflake", "trino"];

/// One platform's case file.
#[derive(Deserialize)]
pub struct CaseFile {
    /// Named valid payloads.
    pub valid: Map<String, Value>,
    /// Patches over a valid payload that make it invalid (or, with `accepted`, stay valid).
    pub invalid: Vec<InvalidCase>,
}

/// A patch over a named valid payload.
#[derive(Deserialize)]
pub struct InvalidCase {
    /// What the case shows.
    pub name: String,
    /// The valid payload it starts from.
    pub base: String,
    /// Dotted paths to set.
    #[serde(default)]
    pub set: Map<String, Value>,
    /// Dotted paths to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// The payload is hostile but must be accepted (names are quoted by the script dialects).
    #[serde(default)]
    pub accepted: bool,
    /// Why the platform's JSON Schema accepts this payload although the reader refuses it: a
    /// rule no schema states (`tests/schema.rs` checks the schema does accept it).
    #[serde(default, rename = "beyondSchema")]
    pub beyond_schema: Option<String>,
}

/// Loads `cases/<platform>.json`.
pub fn load(platform: &str) -> CaseFile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases").join(format!("{platform}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl InvalidCase {
    /// The patched payload.
    pub fn payload(&self, file: &CaseFile) -> Value {
        let mut v = file.valid.get(&self.base).unwrap_or_else(|| panic!("no base {}", self.base)).clone();
        for path in &self.remove {
            remove_path(&mut v, path);
        }
        for (path, new) in &self.set {
            set_path(&mut v, path, new.clone());
        }
        v
    }
}

fn set_path(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Value::Object(map) = cur else { panic!("{path}: not an object") };
        if parts.peek().is_none() {
            map.insert(part.to_owned(), new);
            return;
        }
        cur = map.entry(part.to_owned()).or_insert_with(|| json!({}));
    }
}

fn remove_path(v: &mut Value, path: &str) {
    let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
    let mut cur = v;
    for part in parent.split('.').filter(|p| !p.is_empty()) {
        cur = cur.get_mut(part).unwrap_or_else(|| panic!("{path}: no {part}"));
    }
    cur.as_object_mut().and_then(|m| m.remove(last)).unwrap_or_else(|| panic!("{path}: nothing to remove"));
}

/// The payload as a JSON body.
pub fn as_json(payload: &Value) -> Vec<u8> {
    serde_json::to_vec(payload).unwrap()
}

/// The payload as a YAML body.
pub fn as_yaml(payload: &Value) -> Vec<u8> {
    serde_saphyr::to_string(payload).unwrap().into_bytes()
}

/// Checks a body and describes the outcome as JSON: the redacted spec, or the problems.
pub fn outcome(body: &[u8], format: BodyFormat) -> Value {
    describe(check_payload(body, format, None))
}

/// Describes a check's result as JSON.
pub fn describe(result: Result<IntegrationSpec, ModelError>) -> Value {
    match result {
        Ok(spec) => json!({ "accepted": spec.redacted() }),
        Err(ModelError::InvalidPayload(problems)) => json!({ "errors": problems }),
        Err(other) => json!({ "malformed": other.to_string() }),
    }
}
