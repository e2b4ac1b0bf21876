//! The JSON Schema (2020-12) of each platform's payload, generated from the model's config
//! types (`schemars` derives, with the defaults and conditions the payload reader applies
//! written beside the fields), for `GET /schemas/{type}.json`, `warden schema` and editors.
//! The reader stays the judge of a payload; the schema is what an editor can check before it
//! is sent. Rules no schema can state (a regex that compiles, a key file's content, a name's
//! length after Redshift folds it) are the reader's alone.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};

use crate::IntegrationType;
use crate::config::{BigQueryConfig, DatabricksConfig, RedshiftConfig, S3Config, SnowflakeConfig, SynapseConfig};
use crate::payload::reader::MAX_TEXT_CHARS;
use crate::spec::{LABEL_KEY_PATTERN, MAX_LABEL_VALUE_CHARS, MAX_LABELS};

/// What the reader asks of every plain text field (`check_text`): not blank, at most
/// [`MAX_TEXT_CHARS`] characters, no control characters.
const TEXT_PATTERN: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// The JSON Schema of a payload (`type`, `autoBootstrap`, `config`, `labels`) of this type,
/// with the conditions the reader applies across fields (`if`/`then` on `autoBootstrap` and
/// on the config's own switches). Self-contained: every definition is under `$defs`.
pub fn payload_schema(integration_type: IntegrationType) -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let config = match integration_type {
        IntegrationType::Redshift => Some(generator.subschema_for::<RedshiftConfig>()),
        IntegrationType::Snowflake => Some(generator.subschema_for::<SnowflakeConfig>()),
        IntegrationType::AzureSynapseAnalytics => Some(generator.subschema_for::<SynapseConfig>()),
        IntegrationType::Databricks => Some(generator.subschema_for::<DatabricksConfig>()),
        IntegrationType::GoogleBigQuery => Some(generator.subschema_for::<BigQueryConfig>()),
        IntegrationType::NativeS3 => Some(generator.subschema_for::<S3Config>()),
        IntegrationType::Trino => None,
    };
    let name = integration_type.wire_name();
    let auto_bootstrap = if integration_type.supports_auto_bootstrap() {
        json!({"type": "boolean", "description": "Whether Warden sets the platform up itself with privileged credentials (used once, never stored)."})
    } else {
        json!({"const": false, "description": format!("Always false: {name} is set up by hand.")})
    };
    let mut properties = Map::new();
    properties.insert("type".into(), json!({"const": name}));
    properties.insert("autoBootstrap".into(), auto_bootstrap);
    let mut required = vec![json!("type")];
    if let Some(config) = config {
        properties.insert("config".into(), config.to_value());
        required.extend([json!("autoBootstrap"), json!("config")]);
    }
    properties.insert("labels".into(), labels());
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://warden.invalid/schemas/{}.json", integration_type.slug()),
        "title": format!("A Warden {name} integration"),
        "description": "The payload of POST /integrations and PUT /integrations/{id}, and a document of `warden apply` (which adds `name`).",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    let conditions = conditions(integration_type);
    if !conditions.is_empty() {
        schema["allOf"] = Value::Array(conditions);
    }
    let mut definitions = generator.take_definitions(true);
    for definition in definitions.values_mut() {
        plain_text(definition);
        tagged_as_conditions(definition);
    }
    plain_text(&mut schema);
    schema["$defs"] = Value::Object(definitions);
    schema
}

/// The pattern of a document's `name` (`warden apply`): it names files on export.
pub const DOCUMENT_NAME_PATTERN: &str = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$";

/// The JSON Schema of a `warden apply` document of this type: the payload's, plus the
/// document's `name` (required) and the `id` an export gives an integration without one.
pub fn document_schema(integration_type: IntegrationType) -> Value {
    let mut schema = payload_schema(integration_type);
    let name = integration_type.slug();
    schema["$id"] = json!(format!("https://warden.invalid/schemas/{name}.document.json"));
    schema["title"] = json!(format!("A Warden {} integration document (warden apply)", integration_type.wire_name()));
    schema["description"] = json!(
        "A document `warden apply` reads: the payload, with the name that identifies it across runs (kept in the label `name`). Secrets are written as ${env:VAR} or ${file:path}."
    );
    schema["properties"]["name"] = json!({"type": "string", "pattern": DOCUMENT_NAME_PATTERN,
        "description": "What identifies the document across runs; kept on the integration as the label `name`."});
    schema["properties"]["id"] = json!({"type": "integer", "minimum": 1,
        "description": "The integration this document describes, for one exported without a name label."});
    if let Some(required) = schema["required"].as_array_mut() {
        required.push(json!("name"));
    }
    schema
}

/// The labels object.
fn labels() -> Value {
    json!({
        "type": ["object", "null"],
        "description": "Labels (a Warden extension): short keys to short texts, never secret. `warden apply` keeps a document's name in `name`.",
        "maxProperties": MAX_LABELS,
        "propertyNames": {"pattern": LABEL_KEY_PATTERN},
        "additionalProperties": {"type": "string", "maxLength": MAX_LABEL_VALUE_CHARS, "pattern": TEXT_PATTERN},
    })
}

/// `if autoBootstrap is true then config must ...`, and the like: what the reader requires
/// of one field because of another's value.
fn conditions(integration_type: IntegrationType) -> Vec<Value> {
    let when_automatic = |then_config: Value| {
        json!({"if": {"properties": {"autoBootstrap": {"const": true}}, "required": ["autoBootstrap"]},
               "then": {"properties": {"config": then_config}}})
    };
    match integration_type {
        IntegrationType::Redshift => vec![when_automatic(json!({"required": ["initialDatabase"]}))],
        IntegrationType::Snowflake => vec![
            when_automatic(json!({"required": ["role"],
                "not": {"properties": {"authenticationType": {"const": "oAuthClientCredentials"}}, "required": ["authenticationType"]}})),
            json!({"properties": {"config": {
                "if": {"properties": {"lineage": {"properties": {"enabled": {"const": true}}, "required": ["enabled"]}}, "required": ["lineage"]},
                "then": {"properties": {"audit": {"properties": {"enabled": {"const": true}}, "required": ["enabled"]}}, "required": ["audit"]}}}}),
        ],
        _ => Vec::new(),
    }
}

/// Rewrites the `oneOf` schemars makes of an internally tagged enum flattened into a config
/// (one branch per `authenticationType`, each with its `const`) as `if`/`then` conditions on
/// `authenticationType`: the same payloads pass, and an editor can say "with
/// authenticationType userPassword, password is required" instead of "matches no branch".
/// A field of another branch stays refused: `unevaluatedProperties: false` sees only the
/// fields of the `then` that applied.
fn tagged_as_conditions(schema: &mut Value) {
    const TAG: &str = "authenticationType";
    let Some(object) = schema.as_object_mut() else { return };
    let Some(Value::Array(branches)) = object.get("oneOf") else { return };
    let mut names = Vec::new();
    let mut conditions = Vec::new();
    for branch in branches {
        let Some(name) = branch["properties"][TAG]["const"].as_str() else { return };
        names.push(json!(name));
        let mut properties = branch["properties"].as_object().cloned().unwrap_or_default();
        properties.remove(TAG);
        let required: Vec<Value> =
            branch["required"].as_array().into_iter().flatten().filter(|f| *f != TAG).cloned().collect();
        let mut then = json!({"properties": properties, "required": required});
        if let Some(description) = branch.get("description") {
            then["description"] = description.clone();
        }
        conditions.push(json!({"if": {"properties": {TAG: {"const": name}}, "required": [TAG]}, "then": then}));
    }
    object.remove("oneOf");
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        properties.insert(
            TAG.into(),
            json!({"enum": names, "description": "How Warden signs in; it decides which credential fields apply."}),
        );
    }
    match object.get_mut("required") {
        Some(Value::Array(required)) => required.push(json!(TAG)),
        _ => {
            object.insert("required".into(), json!([TAG]));
        }
    }
    match object.get_mut("allOf") {
        Some(Value::Array(all)) => all.extend(conditions),
        _ => {
            object.insert("allOf".into(), Value::Array(conditions));
        }
    }
}

/// Gives every plain text field (a bare `"type": "string"`, nullable or not, without a
/// pattern, length, format or constant of its own) the reader's text rule.
fn plain_text(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let is_text = match map.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
                _ => false,
            };
            let constrained =
                ["pattern", "minLength", "maxLength", "format", "const", "enum"].iter().any(|k| map.contains_key(*k));
            if is_text && !constrained {
                map.insert("maxLength".into(), json!(MAX_TEXT_CHARS));
                map.insert("pattern".into(), json!(TEXT_PATTERN));
            }
            for child in map.values_mut() {
                plain_text(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(plain_text),
        _ => {}
    }
}

/// Makes `role` optional in an impersonation object (its default is the platform's).
pub(crate) fn role_optional(schema: &mut Schema) {
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|field| field != "role");
    }
}

/// A Databricks workspace URL: a host, or `https://host/`.
pub(crate) fn workspace_url(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "pattern": "^([Hh][Tt][Tt][Pp][Ss]://)?[^/\\s@?#:]+/?$",
        "description": "The workspace host, or its https URL."})
}

/// Databricks workspace ids: positive integers, or their digits as text.
pub(crate) fn workspace_ids(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": ["array", "null"], "maxItems": 1000,
        "items": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[0-9]{1,20}$"}]},
        "description": "Workspaces whose activity audit ingests; empty means all."})
}

/// An AWS account id: 12 digits, as text or as a number.
pub(crate) fn aws_account_id(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"anyOf": [{"type": "string", "pattern": "^[0-9]{12}$"},
        {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_u64}],
        "description": "The AWS account that owns the Access Grants instance: 12 digits."})
}

/// A PEM private key (Snowflake's key pair), or `[REDACTED]` to keep the stored one.
pub(crate) fn pem_secret(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "writeOnly": true,
        "anyOf": [{"const": crate::REDACTED},
            {"pattern": "^\\s*-----BEGIN[\\s\\S]*PRIVATE KEY-----[\\s\\S]*-----\\s*$"}],
        "description": "A PEM private key (-----BEGIN ... PRIVATE KEY-----); escaped \\n line breaks are accepted."})
}

/// A BigQuery dataset suffix: a dataset name that starts with `_`.
pub(crate) fn dataset_suffix(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "pattern": "^_[A-Za-z0-9_]*$",
        "description": "Suffix of the datasets holding secure views; starts with _."})
}
