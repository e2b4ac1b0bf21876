//! Every platform x script kind, with its toggles off and on, rendered and pinned as an
//! insta snapshot; plus the refusals: a type a script does not exist for, and names a
//! dialect cannot hold.

#![allow(clippy::unwrap_used)] // a panic is a failed test

mod cases;

use serde_json::json;
use warden_scripts::{ScriptError, ScriptKind, build};

#[test]
fn every_platform_and_kind_renders_as_pinned() {
    for (name, kind, spec, stored) in cases::all() {
        let script = build(kind, &spec, stored.as_ref()).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_snapshot!(name.clone(), script.render());
        assert!(script.render().starts_with("-- Warden "), "{name}: the header opens the script");
    }
}

#[test]
fn a_type_the_script_does_not_exist_for_is_refused_with_the_accepted_types() {
    let trino = cases::spec(&json!({"type": "Trino"}));
    let error = build(ScriptKind::Create, &trino, None).unwrap_err();
    assert!(matches!(&error, ScriptError::TypeNotAccepted { accepted } if accepted.len() == 4), "{error:?}");
    let snowflake = cases::spec(&cases::snowflake(false));
    let error = build(ScriptKind::PostCleanup, &snowflake, None).unwrap_err();
    assert!(matches!(&error, ScriptError::TypeNotAccepted { accepted } if accepted.len() == 1), "{error:?}");
}

#[test]
fn names_a_dialect_cannot_hold_are_refused_naming_the_field() {
    let cases = [
        (cases::redshift(false), "/config/database", json!("Warden"), "config.database", "lower case"),
        (cases::redshift(false), "/config/database", json!("x".repeat(128)), "config.database", "127 bytes"),
        (cases::redshift(true), "/config/impersonation/role", json!("grp$$; DROP"), "config.impersonation.role", "$$"),
        (cases::snowflake(false), "/config/database", json!("DB$$x"), "config.database", "$$"),
        (cases::snowflake(false), "/config/warehouse", json!("W".repeat(256)), "config.warehouse", "255 characters"),
        (cases::synapse(false), "/config/schema", json!("s".repeat(129)), "config.schema", "128 characters"),
        (cases::databricks(false, true), "/config/catalog", json!("Warden"), "config.catalog", "lower case"),
    ];
    let mut model_refused = Vec::new();
    for (mut payload, pointer, value, field, words) in cases {
        *payload.pointer_mut(pointer).unwrap() = value;
        let Ok(spec) = warden_model::IntegrationSpec::from_value(&payload, None) else {
            model_refused.push(field);
            continue; // the payload checker already refuses it, with its own path
        };
        let refusals: Vec<ScriptError> = ScriptKind::ALL
            .into_iter()
            .filter(|kind| kind.accepted().contains(&spec.integration_type()))
            .filter_map(|kind| build(kind, &spec, None).err())
            .collect();
        let Some(ScriptError::UnsafeName { field: got, reason }) = refusals.first() else {
            panic!("{field}: not refused: {refusals:?}")
        };
        assert_eq!(got, field);
        assert!(reason.contains(words), "{field}: {reason}");
    }
    // Each case must reach the script builder; one the payload checker takes first proves
    // nothing about the scripts.
    assert!(model_refused.is_empty(), "refused before the scripts: {model_refused:?}");
}

#[test]
fn hostile_but_legal_names_are_quoted_never_spliced() {
    let mut payload = cases::snowflake(true);
    payload["config"]["database"] = json!("W\"; DROP DATABASE PROD; --");
    payload["config"]["warehouse"] = json!("WH'x\\");
    let spec = cases::spec(&payload);
    let script = build(ScriptKind::Create, &spec, None).unwrap().render();
    assert!(script.contains("CREATE DATABASE IF NOT EXISTS \"W\"\"; DROP DATABASE PROD; --\""), "{script}");
    assert!(script.contains("\"WH'x\\\""), "{script}");
}

#[test]
fn a_statement_label_never_shows_a_literal() {
    let spec = cases::spec(&cases::redshift(false));
    let script = build(ScriptKind::InitialCreate, &spec, None).unwrap();
    let labels: Vec<String> = script.statements().map(warden_scripts::Statement::label).collect();
    assert!(labels.contains(&"CREATE USER \"warden_system\" PASSWORD ...".to_owned()), "{labels:?}");
    assert!(labels.iter().all(|l| !l.contains("Sys-Passw0rd")), "{labels:?}");
}
