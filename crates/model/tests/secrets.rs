//! Secrets never show: every valid case of every platform is formatted and serialised with
//! known secret values (all contain `S3CRET`) and none of them may appear; invalid cases
//! must not echo them in error messages. A config splits into redacted JSON plus a secret
//! map and comes back equal, and on update an absent or `[REDACTED]` secret keeps the stored
//! value while a new value replaces it.

#![allow(clippy::unwrap_used)] // test helpers may panic: a panic is a failed test

mod common;

use common::{PLATFORMS, as_json, load};
use serde_json::{Value, json};
use warden_model::{BodyFormat, IntegrationSpec, ModelError, SecretMap, check_payload};

const MARK: &str = "S3CRET";

fn spec_of(payload: &Value) -> IntegrationSpec {
    IntegrationSpec::from_value(payload, None).unwrap_or_else(|p| panic!("{payload}: {p:?}"))
}

#[test]
fn no_secret_value_reaches_debug_display_or_serialised_output() {
    let mut secrets_seen = 0;
    for platform in PLATFORMS {
        for (name, payload) in load(platform).valid {
            let spec = spec_of(&payload);
            let planted = payload.to_string().matches(MARK).count();
            let secrets = spec.secrets();
            assert_eq!(
                secrets.values().filter(|s| s.expose().contains(MARK)).count(),
                planted,
                "{platform}/{name}: every planted secret must be a secret field"
            );
            secrets_seen += planted;
            let shown = [
                format!("{spec:?}"),
                format!("{spec:#?}"),
                serde_json::to_string(&spec).unwrap(),
                spec.redacted().to_string(),
                format!("{secrets:?}"),
            ];
            for text in shown {
                assert!(!text.contains(MARK), "{platform}/{name} leaked a secret: {text}");
            }
        }
    }
    assert!(secrets_seen >= 15, "the case files plant too few secrets ({secrets_seen})");
}

#[test]
fn error_messages_never_quote_a_secret() {
    for platform in PLATFORMS {
        let file = load(platform);
        for case in &file.invalid {
            let payload = case.payload(&file);
            if let Err(err) = check_payload(&as_json(&payload), BodyFormat::Json, None) {
                let text = match &err {
                    ModelError::InvalidPayload(problems) => format!("{err} {problems:?}"),
                    other => other.to_string(),
                };
                assert!(!text.contains(MARK), "{platform}/{}: {text}", case.name);
            }
        }
    }
}

#[test]
fn redacted_config_and_secret_map_rebuild_the_same_spec() {
    for platform in PLATFORMS {
        for (name, payload) in load(platform).valid {
            let spec = spec_of(&payload);
            let (redacted, secrets) = (spec.redacted(), spec.secrets());
            let rebuilt = IntegrationSpec::from_value(&redacted, Some(&secrets))
                .unwrap_or_else(|p| panic!("{platform}/{name}: {p:?}"));
            assert_eq!(rebuilt, spec, "{platform}/{name}");
            if !secrets.is_empty() {
                assert!(
                    IntegrationSpec::from_value(&redacted, None).is_err(),
                    "{platform}/{name}: redacted alone must not pass"
                );
            }
        }
    }
}

fn stored() -> (IntegrationSpec, SecretMap) {
    let spec = spec_of(&load("databricks").valid["full"]);
    let secrets = spec.secrets();
    (spec, secrets)
}

#[test]
fn update_keeps_absent_and_redacted_secrets_and_takes_new_ones() {
    let (old, secrets) = stored();
    let mut update = old.redacted();
    update["config"]["oAuthClientConfig"].as_object_mut().unwrap().remove("clientSecret");
    update["config"]["proxyOptions"]["password"] = json!("S3CRET-new-proxy-pw");
    update["config"]["catalog"] = json!("renamed");
    let merged = old.updated_from(&update).unwrap();
    let after = merged.secrets();
    assert_eq!(after["config.oAuthClientConfig.clientSecret"].expose(), "S3CRET-oauth-secret");
    assert_eq!(after["config.additionalWorkspaceConnections[0].token"].expose(), "S3CRET-second-token");
    assert_eq!(after["config.proxyOptions.password"].expose(), "S3CRET-new-proxy-pw");
    assert_eq!(after.len(), secrets.len());
}

#[test]
fn explicit_null_removes_an_optional_secret_but_not_a_required_one() {
    let (old, secrets) = stored();
    let mut update = old.redacted();
    update["config"]["proxyOptions"]["password"] = Value::Null;
    let merged = IntegrationSpec::from_value(&update, Some(&secrets)).unwrap();
    assert!(!merged.secrets().contains_key("config.proxyOptions.password"));

    update["config"]["oAuthClientConfig"]["clientSecret"] = Value::Null;
    let kept = IntegrationSpec::from_value(&update, Some(&secrets)).unwrap();
    assert!(kept.secrets().contains_key("config.oAuthClientConfig.clientSecret"));
}

#[test]
fn switching_authentication_type_needs_the_new_types_secret() {
    let (old, secrets) = stored();
    let mut update = old.redacted();
    update["config"]["authenticationType"] = json!("token");
    update["config"].as_object_mut().unwrap().remove("oAuthClientConfig");
    let problems = IntegrationSpec::from_value(&update, Some(&secrets)).unwrap_err();
    assert_eq!(problems[0].message, "config.token is required when authenticationType is token");
}

/// Issue 11, item 2: a stored secret is never kept when the update changes where or how it
/// would be sent; the request must give it again. Other changes keep it as before.
#[test]
fn a_stored_secret_is_not_kept_when_its_destination_changes() {
    let stored = spec_of(&json!({"type": "Redshift", "autoBootstrap": false, "config": {
        "host": "cluster.example.com", "database": "warden", "authenticationType": "userPassword",
        "username": "warden_system", "password": "S3CRET-stored"}}));
    let with = |change: (&str, Value), password: Option<&str>| {
        let mut payload = stored.redacted();
        payload["config"][change.0] = change.1;
        match password {
            Some(p) => payload["config"]["password"] = json!(p),
            None => {
                payload["config"].as_object_mut().unwrap().remove("password");
            }
        }
        stored.updated_from(&payload)
    };
    for (field, value) in [
        ("host", json!("listener.attacker.example")),
        ("port", json!(15439)),
        ("connectArgs", json!("sslmode=disable")),
    ] {
        for kept in [None, Some("[REDACTED]")] {
            let problems = with((field, value.clone()), kept).unwrap_err();
            assert_eq!(problems.len(), 1, "{field}: {problems:?}");
            assert_eq!(problems[0].path, "config.password");
            assert!(problems[0].message.contains(&format!("config.{field} changed")), "{}", problems[0].message);
            assert!(!problems[0].message.contains(MARK));
        }
        let given = with((field, value.clone()), Some("S3CRET-new")).unwrap();
        assert_eq!(given.secrets()["config.password"].expose(), "S3CRET-new", "{field}: a secret given again is used");
    }
    let unrelated = with(("impersonation", json!({"enabled": true})), Some("[REDACTED]")).unwrap();
    assert_eq!(unrelated.secrets()["config.password"].expose(), "S3CRET-stored", "other edits keep the secret");
}
