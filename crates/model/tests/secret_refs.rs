//! Secrets kept outside Warden: every secret field of every valid case takes a reference
//! (`{"secretRef": ...}`) instead of its value; the reference is what the redacted form shows
//! and what a stored config keeps, never in the sealed secrets; resolving puts the values in
//! and runs the value checks on them; an update that leaves the field out keeps the
//! reference; a malformed reference is a problem on its path.

#![allow(clippy::unwrap_used)] // test helpers may panic: a panic is a failed test

mod common;

use common::{PLATFORMS, load};
use serde_json::{Value, json};
use warden_model::config::RedshiftAuthentication;
use warden_model::{IntegrationSpec, PlatformConfig, Secret, SecretMap, SecretRef};

/// Sets the value at a secret map's path (`config.a.b`, `config.list[0].c`); `None` removes
/// it.
fn set_at(value: &mut Value, path: &str, new: Option<Value>) {
    let (parent, last) = path.rsplit_once('.').unwrap();
    let mut here = value;
    if last.contains('[') || new.is_some() {
        for part in path.split('.') {
            here = step(here, part);
        }
        *here = new.unwrap_or(Value::Null);
        return;
    }
    for part in parent.split('.') {
        here = step(here, part);
    }
    here.as_object_mut().unwrap().remove(last);
}

fn step<'v>(here: &'v mut Value, part: &str) -> &'v mut Value {
    match part.split_once('[') {
        Some((key, rest)) => &mut here[key][rest.trim_end_matches(']').parse::<usize>().unwrap()],
        None => &mut here[part],
    }
}

fn reference_for(i: usize) -> String {
    format!("env://REF_{i}")
}

#[test]
fn every_secret_field_takes_a_reference_that_is_shown_and_stored_in_place_of_its_value() {
    let mut fields = 0;
    for platform in PLATFORMS {
        for (name, payload) in load(platform).valid {
            let by_value = IntegrationSpec::from_value(&payload, None).unwrap();
            let values = by_value.secrets();
            if values.is_empty() {
                continue;
            }
            let mut by_reference = payload.clone();
            for (i, path) in values.keys().enumerate() {
                set_at(&mut by_reference, path, Some(json!({"secretRef": reference_for(i)})));
            }
            let spec =
                IntegrationSpec::from_value(&by_reference, None).unwrap_or_else(|p| panic!("{platform}/{name}: {p:?}"));
            // The sealed secrets hold none of them; the redacted form shows each reference.
            assert!(spec.secrets().is_empty(), "{platform}/{name}: {:?}", spec.secrets().keys());
            let refs: Vec<(String, String)> =
                spec.secret_refs().into_iter().map(|(path, r)| (path, r.to_string())).collect();
            let expected: Vec<(String, String)> =
                values.keys().enumerate().map(|(i, path)| (path.clone(), reference_for(i))).collect();
            assert_eq!(refs, expected, "{platform}/{name}");
            // What the store keeps reads back to the same config.
            let stored = IntegrationSpec::from_stored(&spec.redacted(), &SecretMap::new(), 1).unwrap();
            assert_eq!(stored, spec, "{platform}/{name}");
            // Resolved with the values the references point to, it is the config by value,
            // still shown as references.
            let resolved = spec.resolved_with(&values).unwrap_or_else(|p| panic!("{platform}/{name}: {p:?}"));
            assert_eq!(resolved.redacted(), spec.redacted(), "{platform}/{name}");
            assert!(resolved.secrets().is_empty());
            let leaked = format!("{resolved:?} {}", serde_json::to_string(&resolved).unwrap());
            assert!(!leaked.contains("S3CRET"), "{platform}/{name}: {leaked}");
            // An update that leaves every secret field out keeps the references.
            let mut update = by_reference.clone();
            for path in values.keys() {
                set_at(&mut update, path, None);
            }
            let kept = spec.updated_from(&update);
            if let Ok(kept) = kept {
                assert_eq!(kept.secret_refs().len(), values.len(), "{platform}/{name}");
            }
            fields += values.len();
        }
    }
    assert!(fields >= 15, "too few secret fields tried ({fields})");
}

#[test]
fn a_resolved_reference_gives_the_adapter_its_value() {
    let payload = json!({"type": "Redshift", "autoBootstrap": false, "config": {
        "host": "db.example.com", "database": "dev", "authenticationType": "userPassword",
        "username": "warden", "password": {"secretRef": "aws-sm://prod/warden#password"}}});
    let spec = IntegrationSpec::from_value(&payload, None).unwrap();
    let password = |spec: &IntegrationSpec| match &spec.config {
        PlatformConfig::Redshift(c) => match &c.authentication {
            RedshiftAuthentication::UserPassword { password, .. } => password.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert!(password(&spec).is_unresolved());
    let values: SecretMap = [("config.password".to_owned(), Secret::new("hunter2".to_owned()))].into();
    let resolved = spec.resolved_with(&values).unwrap();
    let password = password(&resolved);
    assert!(!password.is_unresolved());
    assert_eq!(password.expose(), "hunter2");
    assert_eq!(password.reference().map(SecretRef::as_str), Some("aws-sm://prod/warden#password"));
    assert_eq!(resolved.redacted()["config"]["password"], json!({"secretRef": "aws-sm://prod/warden#password"}));
}

#[test]
fn value_checks_run_on_what_a_reference_resolves_to_without_quoting_it() {
    let payload = json!({"type": "Google BigQuery", "autoBootstrap": false, "config": {
        "credential": {"secretRef": "file:///run/secrets/bq.json"}, "location": "EU",
        "role": "warden", "datasetSuffix": "_secure"}});
    let spec = IntegrationSpec::from_value(&payload, None).unwrap();
    // The project comes from the key file: known once the reference is read.
    assert_eq!(spec.host(), "");
    let values: SecretMap = [("config.credential".to_owned(), Secret::new("not a key file S3CRET".to_owned()))].into();
    let problems = spec.resolved_with(&values).unwrap_err();
    assert_eq!(problems[0].path, "config.credential", "{problems:?}");
    assert!(!format!("{problems:?}").contains("S3CRET"), "{problems:?}");
}

#[test]
fn malformed_references_are_problems_on_their_path() {
    for (password, path, says) in [
        (json!({"secretRef": "env://WARDEN_MASTER_KEY"}), "config.password.secretRef", "Warden's own"),
        (json!({"secretRef": "vault://x"}), "config.password.secretRef", "use one of"),
        (json!({"secretRef": 7}), "config.password.secretRef", "must be a string"),
        (json!({"secretRef": "env://A", "other": 1}), "config.password", "the one key secretRef"),
        (json!({}), "config.password", "the one key secretRef"),
    ] {
        let payload = json!({"type": "Redshift", "autoBootstrap": false, "config": {
            "host": "db.example.com", "database": "dev", "authenticationType": "userPassword",
            "username": "warden", "password": password}});
        let problems = IntegrationSpec::from_value(&payload, None).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, path);
        assert!(problems[0].message.contains(says), "{}", problems[0].message);
    }
}
