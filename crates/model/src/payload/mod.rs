//! Request bodies: decoding JSON and YAML into one value tree under size, depth and alias
//! limits, and the reader that checks a decoded payload field by field. JSON and YAML follow
//! one rule: a byte-order mark is skipped, a key given twice is refused, and YAML's merge
//! keys (`<<`) and tags (`!!binary`, `!custom`) are refused rather than applied.

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
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
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
    let malformed = |e: serde_json::Error| ModelError::MalformedBody(format!("the body is not valid JSON: {e}"));
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value =
        serde::de::DeserializeSeed::deserialize(strict::NoDuplicateKeys, &mut deserializer).map_err(malformed)?;
    deserializer.end().map_err(malformed)?;
    Ok(value)
}

/// Refuses a YAML body that carries a tag anywhere (`!!binary`, `!!str`, `!custom`): JSON has
/// none, and a tag would change what a value means. A body that does not parse is left for
/// the decoder to report.
fn refuse_yaml_tags(text: &str) -> Result<(), ModelError> {
    use serde_saphyr::granit_parser::{Event, Parser};
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else { return Ok(()) };
        let tagged = match &event {
            Event::Scalar(_, _, _, tag) | Event::SequenceStart(_, _, tag) | Event::MappingStart(_, _, tag) => {
                tag.is_some()
            }
            _ => false,
        };
        if tagged {
            return Err(ModelError::MalformedBody(format!(
                "the body is not valid YAML for Warden: YAML tags (such as !!binary) are not accepted (line {})",
                span.start.line()
            )));
        }
    }
    Ok(())
}

fn decode_yaml(text: &str) -> Result<Value, ModelError> {
    refuse_yaml_tags(text)?;
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
    options.merge_keys = serde_saphyr::MergeKeyPolicy::Error;
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

/// JSON decoding into a value tree that refuses a key given twice in one object (serde_json
/// keeps the last one), as the YAML decoder does.
mod strict {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    /// Decodes one value, refusing duplicate keys at every level.
    pub(super) struct NoDuplicateKeys;

    impl<'de> DeserializeSeed<'de> for NoDuplicateKeys {
        type Value = Value;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for NoDuplicateKeys {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
            Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("a number out of range"))
        }

        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }

        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(NoDuplicateKeys)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                if out.contains_key(&key) {
                    let shown: String = key.chars().take(64).collect();
                    return Err(A::Error::custom(format!("the key {shown:?} is given twice in one object")));
                }
                let value = map.next_value_seed(NoDuplicateKeys)?;
                out.insert(key, value);
            }
            Ok(Value::Object(out))
        }
    }
}
