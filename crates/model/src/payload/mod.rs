//! Request bodies: decoding JSON and YAML into one value tree under size, depth and alias
//! limits, and the reader that checks a decoded payload field by field.

pub(crate) mod reader;

use serde_json::Value;

use crate::error::ModelError;

/// Largest accepted body, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Deepest accepted nesting of objects and lists. Real payloads nest five levels at most.
pub const MAX_DEPTH: usize = 32;

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`.
    Json,
    /// `application/yaml` and its aliases.
    Yaml,
    /// No content type: try JSON, then YAML.
    Unknown,
}

/// Decodes a body into a JSON value tree, refusing oversized, over-deep and alias-bomb input.
pub fn decode(body: &[u8], format: BodyFormat) -> Result<Value, ModelError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ModelError::BodyTooLarge { limit: MAX_BODY_BYTES });
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| ModelError::MalformedBody(format!("the body is not UTF-8 text ({e})")))?;
    let value = match format {
        BodyFormat::Json => decode_json(text)?,
        BodyFormat::Yaml => decode_yaml(text)?,
        BodyFormat::Unknown => match decode_json(text) {
            Ok(v) => v,
            Err(json_err) => decode_yaml(text).map_err(|yaml_err| {
                ModelError::MalformedBody(format!("the body is neither JSON ({json_err}) nor YAML ({yaml_err})"))
            })?,
        },
    };
    if depth_exceeds(&value, MAX_DEPTH) {
        return Err(ModelError::MalformedBody(format!(
            "the body nests objects or lists deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(value)
}

fn decode_json(text: &str) -> Result<Value, ModelError> {
    serde_json::from_str(text).map_err(|e| ModelError::MalformedBody(format!("the body is not valid JSON: {e}")))
}

fn decode_yaml(text: &str) -> Result<Value, ModelError> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH + 1;
    budget.flow_nesting_limit = MAX_DEPTH + 1;
    budget.max_documents = 1;
    budget.max_events = 100_000;
    budget.max_nodes = 100_000;
    budget.max_aliases = 100;
    budget.max_anchors = 100;
    budget.max_total_scalar_bytes = MAX_BODY_BYTES;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 10_000;
    options.alias_limits.max_alias_expansions_per_anchor = 100;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| {
        let detail = e.to_string();
        let first = detail.lines().next().unwrap_or("it does not parse");
        let first: String = first.chars().take(300).collect();
        ModelError::MalformedBody(format!("the body is not valid YAML: {first}"))
    })
}

/// Whether `value` nests deeper than `limit`, walked without recursion.
fn depth_exceeds(value: &Value, limit: usize) -> bool {
    let mut stack = vec![(value, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth > limit {
            return true;
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    false
}
