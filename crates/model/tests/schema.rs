//! The JSON Schema of each platform's payload agrees with the payload reader: every valid
//! and invalid case of `cases/<platform>.json` is judged by both (the schema through the
//! `jsonschema` validator), and the verdicts must match. A case the reader refuses for a
//! rule no schema can state says so in its `beyondSchema` field, and the schema must then
//! accept it (so the list of such rules stays true). The schema must never refuse a payload
//! the reader accepts: an editor would then flag a correct document.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // test helpers may panic: a panic is a failed test

mod common;

use common::{PLATFORMS, load, outcome};
use serde_json::Value;
use warden_model::schema::payload_schema;
use warden_model::{BodyFormat, IntegrationType};

fn integration_type(platform: &str) -> IntegrationType {
    let file = load(platform);
    let name = file.valid["minimal"]["type"].as_str().unwrap();
    IntegrationType::parse(name).unwrap()
}

#[test]
fn every_case_gets_the_same_verdict_from_the_schema_and_the_reader() {
    let mut disagreements = Vec::new();
    let mut judged = 0;
    for platform in PLATFORMS {
        let file = load(platform);
        let schema = payload_schema(integration_type(platform));
        let validator = jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{platform}: the schema is not a valid 2020-12 schema: {e}"));
        let mut cases: Vec<(String, Value, Option<String>)> =
            file.valid.iter().map(|(name, payload)| (format!("valid: {name}"), payload.clone(), None)).collect();
        cases.extend(
            file.invalid.iter().map(|c| (format!("invalid: {}", c.name), c.payload(&file), c.beyond_schema.clone())),
        );
        for (name, payload, beyond) in cases {
            judged += 1;
            let reader_accepts =
                outcome(&serde_json::to_vec(&payload).unwrap(), BodyFormat::Json).get("accepted").is_some();
            let schema_accepts = validator.is_valid(&payload);
            let why: Vec<String> =
                validator.iter_errors(&payload).map(|e| format!("{} at {}", e, e.instance_path())).take(3).collect();
            let verdict = match (reader_accepts, schema_accepts, &beyond) {
                (true, true, None) | (false, false, None) | (false, true, Some(_)) => continue,
                (true, false, _) => format!("the schema refuses a payload the reader accepts: {why:?}"),
                (false, true, None) => {
                    "the schema accepts a payload the reader refuses (or add beyondSchema)".to_owned()
                }
                (_, _, Some(reason)) => format!("marked beyondSchema ({reason}) but the schema and reader agree"),
            };
            disagreements.push(format!("{platform} / {name}: {verdict}"));
        }
    }
    assert!(judged > 150, "only {judged} cases judged");
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}

/// Secrets are `writeOnly`, defaults are stated, and the schema names its dialect.
#[test]
fn secrets_are_write_only_and_defaults_are_stated() {
    let schema = payload_schema(IntegrationType::Redshift);
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let secret = &schema["$defs"]["Secret"]["oneOf"];
    assert_eq!(secret[0]["writeOnly"], true, "a secret's value is written, never read back: {secret}");
    assert_eq!(secret[1]["required"], serde_json::json!(["secretRef"]), "or it is a reference: {secret}");
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let payload = |password: Value| {
        serde_json::json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": "h.example.com",
            "database": "dev", "authenticationType": "userPassword", "username": "w", "password": password}})
    };
    assert!(validator.is_valid(&payload(serde_json::json!({"secretRef": "env://PW"}))));
    assert!(!validator.is_valid(&payload(serde_json::json!({"secretRef": "vault://PW"}))));
    assert!(!validator.is_valid(&payload(serde_json::json!({"secretRef": "env://PW", "x": 1}))));
    assert_eq!(schema["$defs"]["RedshiftConfig"]["properties"]["port"]["default"], 5439);
    let text = serde_json::to_string(&schema).unwrap();
    assert!(text.contains("\"if\""), "the autoBootstrap condition is stated");
    let config = &schema["$defs"]["RedshiftConfig"];
    assert_eq!(
        config["properties"]["authenticationType"]["enum"],
        serde_json::json!(["userPassword", "accessKey", "okta"])
    );
    assert!(config.get("oneOf").is_none(), "authenticationType is stated as if/then conditions: {config}");
    for ty in IntegrationType::ALL {
        let schema = payload_schema(ty);
        assert!(jsonschema::draft202012::meta::is_valid(&schema), "{ty}: not a valid 2020-12 schema");
    }
}
