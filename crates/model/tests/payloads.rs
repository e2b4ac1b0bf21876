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
