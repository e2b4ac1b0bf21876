//! The script cases every test of this crate shares: each platform with its toggles
//! (impersonation, audit, workspaces, lineage, excluded roles) off and on, and the edits
//! between them.

#![allow(dead_code, clippy::unwrap_used, missing_docs)] // shared by several test files; a panic is a failed test

use serde_json::{Value, json};
use warden_model::IntegrationSpec;
use warden_scripts::ScriptKind;

/// Reads a payload that must be valid.
pub fn spec(payload: &Value) -> IntegrationSpec {
    IntegrationSpec::from_value(payload, None).unwrap_or_else(|e| panic!("{payload}: {e:?}"))
}

/// A manual Redshift payload.
pub fn redshift(impersonation: bool) -> Value {
    json!({"type": "Redshift", "autoBootstrap": false, "config": {
        "host": "acme.abc123.us-east-1.redshift.amazonaws.com", "database": "warden", "initialDatabase": "dev",
        "authenticationType": "userPassword", "username": "warden_system", "password": "Sys-Passw0rd-from-config",
        "impersonation": {"enabled": impersonation, "role": "warden_impersonation"}}})
}

/// A manual Snowflake payload, every toggle off or on.
pub fn snowflake(on: bool) -> Value {
    let mut config = json!({"host": "acme-xy12345.snowflakecomputing.com", "warehouse": "COMPUTE_WH",
        "database": "WARDEN_DB", "authenticationType": "userPassword", "username": "WARDEN_DB_SYSTEM_ACCOUNT",
        "password": "Sys-Passw0rd-from-config"});
    if on {
        config["audit"] = json!({"enabled": true});
        config["impersonation"] = json!({"enabled": true, "role": "WARDEN_IMPERSONATION"});
        config["workspaces"] = json!({"enabled": true, "warehouses": ["WS_WH_1", "WS_WH_2"]});
        config["lineage"] = json!({"enabled": true, "lineageConfig": {"ingestBatchSize": 500}});
        config["userRolePattern"] = json!({"exclude": ["ACCOUNTADMIN", "O'BRIEN_ROLE"]});
    }
    json!({"type": "Snowflake", "autoBootstrap": false, "config": config})
}

/// A manual Synapse payload.
pub fn synapse(impersonation: bool) -> Value {
    json!({"type": "Azure Synapse Analytics", "autoBootstrap": false, "config": {
        "host": "acme.sql.azuresynapse.net", "database": "analytics", "schema": "warden_views",
        "authenticationType": "userPassword", "username": "warden_system", "password": "Sys-Passw0rd-from-config",
        "impersonation": {"enabled": impersonation, "role": "warden_impersonation"}}})
}

/// A Databricks payload, audit off or on, OAuth or token.
pub fn databricks(audit: bool, oauth: bool) -> Value {
    let mut config = json!({"workspaceUrl": "dbc-a1b2.cloud.databricks.com", "httpPath": "/sql/1.0/warehouses/abc123",
        "catalog": "warden", "audit": {"enabled": audit}});
    if oauth {
        config["authenticationType"] = json!("oAuthM2M");
        config["oAuthClientConfig"] = json!({"clientId": "6f1c2d3e-aaaa-bbbb-cccc-0123456789ab", "clientSecret": "x",
            "authorityUrl": "https://dbc-a1b2.cloud.databricks.com/oidc"});
    } else {
        config["authenticationType"] = json!("token");
        config["token"] = json!("dapi-x");
    }
    json!({"type": "Databricks", "autoBootstrap": false, "config": config})
}

/// Every (case, kind) pair the platform has, and the edits off -> on and on -> off.
pub fn all() -> Vec<(String, ScriptKind, IntegrationSpec, Option<IntegrationSpec>)> {
    let platforms: Vec<(&str, Value, Value)> = vec![
        ("redshift", redshift(false), redshift(true)),
        ("snowflake", snowflake(false), snowflake(true)),
        ("synapse", synapse(false), synapse(true)),
        ("databricks", databricks(false, true), databricks(true, true)),
    ];
    let mut out = Vec::new();
    for (platform, off, on) in platforms {
        for kind in ScriptKind::ALL {
            if kind == ScriptKind::Edit {
                out.push((format!("{platform}-edit-on"), kind, spec(&on), Some(spec(&off))));
                out.push((format!("{platform}-edit-off"), kind, spec(&off), Some(spec(&on))));
                out.push((format!("{platform}-edit-unchanged"), kind, spec(&on), Some(spec(&on))));
                continue;
            }
            let (ok_off, ok_on) = (spec(&off), spec(&on));
            if !kind.accepted().contains(&ok_off.integration_type()) {
                continue;
            }
            out.push((format!("{platform}-{}-off", kind.name()), kind, ok_off, None));
            out.push((format!("{platform}-{}-on", kind.name()), kind, ok_on, None));
        }
    }
    out.push(("databricks-create-token".into(), ScriptKind::Create, spec(&databricks(true, false)), None));
    out
}
