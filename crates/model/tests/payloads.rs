//! Data-driven payload checks for all seven platforms. Each case in `cases/<platform>.json`
//! is checked as a JSON body and as a YAML body; both must give the same result, valid
//! cases must be accepted and invalid ones refused, and the whole table per platform is an
//! insta snapshot (`snapshots/payloads__<platform>.snap`).

#![allow(clippy::unwrap_used)] // test helpers may panic: a panic is a failed test

mod common;

use common::{as_json, as_yaml, load, outcome};
use serde_json::{Map, Value};
use warden_model::BodyFormat;

fn run_platform(platform: &str) {
    let file = load(platform);
    let mut table = Map::new();
    let mut check = |name: &str, payload: &Value, expect_ok: bool| {
        let from_json = outcome(&as_json(payload), BodyFormat::Json);
        let from_yaml = outcome(&as_yaml(payload), BodyFormat::Yaml);
        assert_eq!(from_json, from_yaml, "{platform} / {name}: JSON and YAML disagree");
        let sniffed = outcome(&as_json(payload), BodyFormat::Unknown);
        assert_eq!(from_json, sniffed, "{platform} / {name}: sniffed JSON differs");
        assert_eq!(from_json.get("accepted").is_some(), expect_ok, "{platform} / {name}: {from_json:#}");
        table.insert(name.to_owned(), from_json);
    };
    for (name, payload) in &file.valid {
        check(&format!("valid: {name}"), payload, true);
    }
    let invalid = file.invalid.iter().filter(|c| !c.accepted).count();
    assert!(invalid >= 15, "{platform} has only {invalid} invalid cases");
    for case in &file.invalid {
        check(&format!("invalid: {}", case.name), &case.payload(&file), case.accepted);
    }
    insta::assert_json_snapshot!(platform, table);

    // Every field of the minimal payload is required: removing any one of them is refused,
    // and the problem names that field.
    let minimal = &file.valid["minimal"];
    let mut missing = Map::new();
    for (path, parent) in fields_of(minimal) {
        let mut payload = minimal.clone();
        let holder = if parent.is_empty() { &mut payload } else { &mut payload[parent] };
        let key = path.rsplit('.').next().unwrap();
        holder.as_object_mut().unwrap().remove(key);
        let from_json = outcome(&as_json(&payload), BodyFormat::Json);
        assert_eq!(from_json, outcome(&as_yaml(&payload), BodyFormat::Yaml), "{platform} without {path}");
        let named = from_json["errors"].as_array().is_some_and(|errors| {
            errors.iter().any(|e| e["path"] == path.as_str() && e["message"].as_str().unwrap().contains("is required"))
        });
        assert!(named, "{platform} without {path}: {from_json:#}");
        missing.insert(path, from_json["errors"].clone());
    }
    insta::assert_json_snapshot!(format!("{platform}_missing_fields"), missing);
}

/// The top-level fields and the fields of `config`, with the key of the object holding each.
fn fields_of(payload: &Value) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = payload.as_object().unwrap().keys().map(|k| (k.clone(), "")).collect();
    if let Some(config) = payload.get("config").and_then(Value::as_object) {
        out.extend(config.keys().map(|k| (format!("config.{k}"), "config")));
    }
    out
}

#[test]
fn s3_payloads() {
    run_platform("s3");
}

#[test]
fn synapse_payloads() {
    run_platform("synapse");
}

#[test]
fn databricks_payloads() {
    run_platform("databricks");
}

#[test]
fn bigquery_payloads() {
    run_platform("bigquery");
}

#[test]
fn redshift_payloads() {
    run_platform("redshift");
}

#[test]
fn snowflake_payloads() {
    run_platform("snowflake");
}

#[test]
fn trino_payloads() {
    run_platform("trino");
}
