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
    assert!(matches!(&error, ScriptError::TypeNotAccepted { accepted } if accepted.len() == 5), "{error:?}");
    let snowflake = cases::spec(&cases::snowflake(false));
    let error = build(ScriptKind::PostCleanup, &snowflake, None).unwrap_err();
    assert!(matches!(&error, ScriptError::TypeNotAccepted { accepted } if accepted.len() == 1), "{error:?}");
}

#[test]
fn names_a_dialect_cannot_hold_are_refused_naming_the_field() {
    let cases = [
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

/// Issue 10, item 4: Redshift's naming rule lives in one place. The payload checks fold and
/// check names with it, and the dialect refuses by it, so a payload POST accepts never fails
/// in the script builder (that is, never fails a setup for a reason the checks could know).
#[test]
fn redshift_names_follow_one_rule_in_the_payload_checks_and_the_scripts() {
    let names = [
        "Warden",
        "REDSHIFT_SAMPLE_DATA",
        "x".repeat(120).as_str(),
        &"x".repeat(121),
        &"x".repeat(128),
        "grp$$; DROP",
        "w\"; DROP DATABASE prod; --",
        "ünïcödé_DB",
        "a b",
    ]
    .map(str::to_owned);
    let mut accepted = 0;
    for name in &names {
        for (pointer, auto) in
            [("/config/database", false), ("/config/database", true), ("/config/impersonation/role", true)]
        {
            let mut payload = cases::redshift(auto);
            *payload.pointer_mut(pointer).unwrap() = json!(name);
            let Ok(spec) = warden_model::IntegrationSpec::from_value(&payload, None) else { continue };
            accepted += 1;
            let folded = spec.redacted().pointer(pointer).and_then(|v| v.as_str()).unwrap().to_owned();
            assert_eq!(folded, name.to_lowercase(), "{pointer}: stored folded");
            for kind in ScriptKind::ALL.into_iter().filter(|k| k.accepted().contains(&spec.integration_type())) {
                if let Err(error) = build(kind, &spec, None) {
                    panic!("{pointer} = {name:?} passed the payload checks but {} refused it: {error}", kind.name());
                }
            }
        }
    }
    assert!(accepted >= 12, "most of the names are accepted (folded): {accepted}");
    let refused = warden_scripts::Dialect::Redshift.ident("config.database", "Warden").unwrap_err().to_string();
    assert!(refused.contains("upper-case") && refused.contains("\"warden\""), "{refused}");
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

/// A key-pair system account is a service user created with the public key derived from
/// `config.privateKey` (the one openssl derives), and no line of the private key is in the
/// script.
#[test]
fn a_key_pair_system_account_is_a_service_user_holding_the_public_key_only() {
    const KEY: &str = include_str!("../../snowflake/tests/fixtures/test_key.p8");
    let mut payload = cases::snowflake(false);
    let config = payload["config"].as_object_mut().unwrap();
    config.remove("password");
    config.insert("authenticationType".into(), json!("keyPair"));
    config.insert("privateKey".into(), json!(KEY));
    let script = build(ScriptKind::Create, &cases::spec(&payload), None).unwrap().render();
    let public = warden_scripts::rsa_key(&warden_model::Secret::new(KEY.to_owned()), None).unwrap().public_key_base64();
    assert!(public.starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1jLapBfxpiFsuoDG"), "{public}");
    assert!(
        script.contains(&format!(
            "CREATE USER IF NOT EXISTS \"WARDEN_DB_SYSTEM_ACCOUNT\" TYPE = SERVICE RSA_PUBLIC_KEY = '{public}' DEFAULT_ROLE"
        )),
        "{script}"
    );
    for line in KEY.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!script.contains(line), "a line of the private key is in the script");
    }
}

/// The undo of a failed Snowflake setup drops what it had created, in the reverse order,
/// and nothing else.
#[test]
fn a_snowflake_undo_drops_what_was_created_in_reverse() {
    use warden_scripts::Created;
    let created =
        [Created::Database("DB".into()), Created::Group("DB_SYSTEM".into()), Created::User("DB_SYSTEM_ACCOUNT".into())];
    let script = warden_scripts::undo(warden_model::IntegrationType::Snowflake, &created, "").unwrap();
    let statements: Vec<&str> = script.statements().map(|s| s.sql.as_str()).collect();
    assert_eq!(
        statements,
        [
            "USE ROLE ACCOUNTADMIN",
            "DROP USER IF EXISTS \"DB_SYSTEM_ACCOUNT\"",
            "DROP ROLE IF EXISTS \"DB_SYSTEM\"",
            "DROP DATABASE IF EXISTS \"DB\""
        ]
    );
}

/// An automatic setup runs the statements that create what a rollback removes without their
/// `IF NOT EXISTS` (so a success means it made the object); everything else, and every
/// statement of a script an administrator runs, as written.
#[test]
fn a_setup_runs_its_creating_statements_without_if_not_exists() {
    let spec = cases::spec(&cases::snowflake(true));
    let script = build(ScriptKind::Create, &spec, None).unwrap();
    let strict: Vec<String> =
        script.statements().filter(|s| s.creates.is_some()).map(|s| s.setup_sql().into_owned()).collect();
    assert_eq!(strict.len(), 4, "database, system role, user, impersonation role: {strict:?}");
    assert!(strict.iter().all(|s| !s.contains("IF NOT EXISTS")), "{strict:?}");
    assert!(strict.contains(&"CREATE DATABASE \"WARDEN_DB\"".to_owned()), "{strict:?}");
    let schema = script.statements().find(|s| s.sql.starts_with("CREATE SCHEMA")).unwrap();
    assert_eq!(schema.setup_sql(), schema.sql.as_str(), "a schema inside the new database keeps it");
    assert!(script.render().contains("CREATE DATABASE IF NOT EXISTS \"WARDEN_DB\""), "the script keeps it");
}
