//! The worker's failure points armed in turn for the real adapters, against each platform's
//! server or emulator: the `warden-failpoints` binary (the shipped adapters, each dying with
//! SIGABRT just before or just after a change when `WARDEN_TEST_DIE_AT` says so, see
//! `src/dying.rs`) is killed that way during a create and during a delete, then restarted
//! unarmed. After each death:
//!
//! - the restarted server leaves no integration transitional: it is `createError` or
//!   `deleteError`, with the recovery message saying what to do;
//! - the platform holds everything of that operation or nothing of it (read on the server or
//!   emulator directly): nothing after dying before a create, everything after dying after
//!   it, everything after dying before a delete, nothing after dying after it;
//! - the DELETE the message points to then removes whatever is there, and the platform holds
//!   nothing of Warden's.
//!
//! Covered: every platform with something to set up: Redshift (PostgreSQL), Snowflake
//! (fakesnow: its database; the roles, users and grants are no-ops there), Azure Synapse (the
//! TDS stand-in), Databricks (minilake), Google BigQuery (bqemulator) and Native S3 (moto and
//! the Access Grants stand-in). Trino has nothing on the platform to hold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Backend, FAILPOINTS, Server};
use serde_json::{Value, json};
use sqlx::{Connection as _, Row as _};
use warden_e2e::dying::DIE_AT_ENV;

static NAMES: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), NAMES.fetch_add(1, Ordering::SeqCst))
}

/// One platform under test: how to ask for a create of a fresh `name`, what its DELETE
/// carries, and how many of Warden's objects for `name` the platform holds (of `total`).
struct Platform<'a, P> {
    label: &'static str,
    payload: &'a dyn Fn(&str) -> Value,
    delete_body: Option<Value>,
    probe: P,
    total: usize,
}

/// The ids of every integration.
async fn ids(server: &Server) -> Vec<u64> {
    let listed = server.call("GET", "/integrations?includeDeleted=true", None).await;
    listed.body.as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect()
}

/// `POST /integrations` to a process that may die while answering: the id, or `None` when
/// the answer was lost.
async fn post(base: &str, payload: &Value) -> Option<u64> {
    let answer = reqwest::Client::new()
        .post(format!("{base}/integrations"))
        .header("Authorization", common::ADMIN_KEY)
        .json(payload)
        .send()
        .await
        .ok()?;
    assert_eq!(answer.status(), 200, "the create is accepted");
    let body: Value = answer.json().await.ok()?;
    body["id"].as_u64()
}

async fn status(server: &Server, id: u64) -> Value {
    server.call("GET", &format!("/integrations/{id}/status"), None).await.body
}

/// Restarts `server` with `point` armed (or nothing armed, for `""`).
async fn restart_armed(server: &mut Server, point: &str) {
    server.set_env(DIE_AT_ENV, point);
    server.restart().await;
}

/// Sends the DELETE that finishes the job, and checks the platform holds nothing after it.
async fn remove<P, F>(server: &Server, platform: &Platform<'_, P>, id: u64, name: &str, context: &str)
where
    P: Fn(String) -> F,
    F: Future<Output = usize>,
{
    let deleted = server.call("DELETE", &format!("/integrations/{id}"), platform.delete_body.as_ref()).await;
    assert_eq!(deleted.status, 200, "{}, {context}: {}", platform.label, deleted.text);
    let settled = server.settled(id).await;
    assert_eq!(settled["status"], "deleted", "{}, {context}: {settled}", platform.label);
    assert_eq!((platform.probe)(name.to_owned()).await, 0, "{}, {context}: the DELETE left objects", platform.label);
}

/// Dies before and after a create, then before and after a delete, with the checks above.
/// Returns the table rows for docs/RELIABILITY.md.
async fn every_point<P, F>(server: &mut Server, platform: &Platform<'_, P>) -> Vec<String>
where
    P: Fn(String) -> F,
    F: Future<Output = usize>,
{
    let mut rows = Vec::new();
    for moment in ["before", "after"] {
        let context = format!("dying {moment} the create");
        let name = unique("wfp");
        restart_armed(server, &format!("create:{moment}")).await;
        let before: Vec<u64> = ids(server).await;
        // The job may start, and the process die, before the answer is written: then the
        // answer is lost and the integration is found in the list after the restart.
        let answered = post(&server.base, &(platform.payload)(&name)).await;
        assert!(server.exited_within(Duration::from_secs(60)).await, "{}, {context}: it did not die", platform.label);
        restart_armed(server, "").await;
        let id = match answered {
            Some(id) => id,
            None => {
                let new: Vec<u64> = ids(server).await.into_iter().filter(|id| !before.contains(id)).collect();
                assert_eq!(new.len(), 1, "{}, {context}: the create was stored before the job ran", platform.label);
                new[0]
            }
        };
        let after = status(server, id).await;
        assert_eq!(after["status"], "createError", "{}, {context}: {after}", platform.label);
        let message = after["message"].as_str().unwrap();
        assert!(message.starts_with("Warden stopped while creating"), "{}, {context}: {message}", platform.label);
        let present = (platform.probe)(name.clone()).await;
        let expected = if moment == "before" { 0 } else { platform.total };
        assert_eq!(present, expected, "{}, {context}: all or nothing on the platform", platform.label);
        remove(server, platform, id, &name, &context).await;
        rows.push(format!(
            "| {} | {context} | createError, {present} of {} objects on the platform; DELETE removed them | ",
            platform.label, platform.total
        ));
    }
    for moment in ["before", "after"] {
        let context = format!("dying {moment} the delete");
        let name = unique("wfp");
        restart_armed(server, "").await;
        let created = server.call("POST", "/integrations", Some(&(platform.payload)(&name))).await;
        assert_eq!(created.status, 200, "{}, {context}: {}", platform.label, created.text);
        let id = created.body["id"].as_u64().unwrap();
        let settled = server.settled(id).await;
        assert_eq!(settled["status"], "enabled", "{}, {context}: {settled}: {}", platform.label, server.logs());
        assert_eq!((platform.probe)(name.clone()).await, platform.total, "{}, {context}: the setup", platform.label);
        restart_armed(server, &format!("delete:{moment}")).await;
        // The answer may be lost as for the create; the status after the restart tells.
        let mut deleting = reqwest::Client::new()
            .delete(format!("{}/integrations/{id}", server.base))
            .header("Authorization", common::ADMIN_KEY);
        if let Some(body) = &platform.delete_body {
            deleting = deleting.json(body);
        }
        if let Ok(answer) = deleting.send().await {
            assert_eq!(answer.status(), 200, "{}, {context}: the delete is accepted", platform.label);
        }
        assert!(server.exited_within(Duration::from_secs(60)).await, "{}, {context}: it did not die", platform.label);
        restart_armed(server, "").await;
        let after = status(server, id).await;
        assert_eq!(after["status"], "deleteError", "{}, {context}: {after}", platform.label);
        let message = after["message"].as_str().unwrap();
        assert!(message.starts_with("Warden stopped while deleting"), "{}, {context}: {message}", platform.label);
        let present = (platform.probe)(name.clone()).await;
        let expected = if moment == "before" { platform.total } else { 0 };
        assert_eq!(present, expected, "{}, {context}: all or nothing on the platform", platform.label);
        remove(server, platform, id, &name, &context).await;
        rows.push(format!(
            "| {} | {context} | deleteError, {present} of {} objects on the platform; DELETE again removed them | ",
            platform.label, platform.total
        ));
    }
    rows
}

async fn failpoints_server(env: &[(&str, &str)]) -> Server {
    Server::start_binary_with_env(FAILPOINTS, &Backend::Sqlite, tempfile::tempdir().unwrap(), env).await
}

#[tokio::test]
async fn redshift_holds_all_or_nothing_at_every_failure_point() {
    let Some(pg) = common::pg_admin() else { return };
    let payload = |database: &str| {
        json!({"type": "Redshift", "autoBootstrap": true, "config": {"host": pg.host, "port": pg.port,
            "database": database, "initialDatabase": "postgres", "authenticationType": "userPassword",
            "username": pg.user, "password": pg.password}})
    };
    let admin_url = pg.admin_url.clone();
    let probe = |database: String| {
        let admin_url = admin_url.clone();
        async move {
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            let row = sqlx::query(
                "SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) + \
                 (SELECT count(*) FROM pg_roles WHERE rolname = $1 || '_system')",
            )
            .bind(&database)
            .fetch_one(&mut admin)
            .await
            .unwrap();
            usize::try_from(row.get::<i64, _>(0)).unwrap()
        }
    };
    let delete_body =
        Some(json!({"config": {"authenticationType": "userPassword", "username": pg.user, "password": pg.password}}));
    let platform = Platform { label: "Redshift", payload: &payload, delete_body, probe, total: 2 };
    let mut server = failpoints_server(&[]).await;
    let rows = every_point(&mut server, &platform).await;
    eprintln!("{}", rows.join("\n"));
}

#[tokio::test]
async fn synapse_holds_all_or_nothing_at_every_failure_point() {
    use warden_e2e::{tds, tds_catalogue::Catalogue};
    const ADMIN: &str = "sqladmin";
    const PASSWORD: &str = "Adm1n-failpoint-Passw0rd!";
    let Some((cert, key)) = tds::test_certificate() else { return };
    let catalogue = Arc::new(Catalogue::new("analytics", ADMIN, PASSWORD));
    let port = tds::start(catalogue.clone(), &cert, &key).await;
    // The database is the stand-in's one; each round removes everything before the next.
    let payload = move |_: &str| {
        json!({"type": "Azure Synapse Analytics", "autoBootstrap": true, "config": {"host": "127.0.0.1",
            "port": port, "database": "analytics", "schema": "warden_views", "authenticationType": "userPassword",
            "username": ADMIN, "password": PASSWORD}})
    };
    let probe = |_: String| std::future::ready(warden_e2e::probes::synapse_objects(&catalogue, "analytics"));
    let delete_body = Some(json!({"config": {"authenticationType": "userPassword", "username": ADMIN,
        "password": PASSWORD}}));
    let platform = Platform { label: "Azure Synapse", payload: &payload, delete_body, probe, total: 5 };
    let mut server = failpoints_server(&[]).await;
    let rows = every_point(&mut server, &platform).await;
    eprintln!("{}", rows.join("\n"));
}

#[tokio::test]
async fn databricks_holds_all_or_nothing_at_every_failure_point() {
    let Ok(url) = std::env::var("WARDEN_TEST_MINILAKE_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_MINILAKE_URL");
        return;
    };
    let url = url::Url::parse(&url).unwrap();
    let base = url.as_str().trim_end_matches('/').to_owned();
    let warehouse = warden_e2e::probes::minilake_warehouse(&base, &unique("wh_fp")).await;
    let token = format!("dapi{}", unique("failpoint"));
    let payload = |catalog: &str| {
        json!({"type": "Databricks", "autoBootstrap": true, "config": {"workspaceUrl": url.host_str().unwrap(),
            "port": url.port().unwrap(), "httpPath": format!("/sql/1.0/warehouses/{warehouse}"),
            "authenticationType": "token", "token": token, "catalog": catalog}})
    };
    let probe = |catalog: String| {
        let base = base.clone();
        async move { usize::from(warden_e2e::probes::minilake_catalog_exists(&base, &catalog).await) }
    };
    let platform = Platform { label: "Databricks", payload: &payload, delete_body: None, probe, total: 1 };
    let mut server = failpoints_server(&[]).await;
    let rows = every_point(&mut server, &platform).await;
    eprintln!("{}", rows.join("\n"));
}

#[tokio::test]
async fn bigquery_holds_all_or_nothing_at_every_failure_point() {
    let Ok(host) = std::env::var("WARDEN_TEST_BIGQUERY_EMULATOR") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_BIGQUERY_EMULATOR");
        return;
    };
    let tokens = warden_e2e::google_token::start().await;
    let project = format!("warden-fp-{}", std::process::id());
    let key = tokens.key_file(&project, &format!("warden-sa@{project}.iam.gserviceaccount.com"));
    let payload = |dataset: &str| {
        json!({"type": "Google BigQuery", "autoBootstrap": false, "config": {"role": "wardenRole",
            "datasetSuffix": "_secure", "dataset": dataset, "location": "US", "credential": key}})
    };
    let probe = |dataset: String| {
        let (host, project) = (host.clone(), project.clone());
        async move { usize::from(warden_e2e::probes::bigquery_dataset_exists(&host, &project, &dataset).await) }
    };
    let platform = Platform { label: "Google BigQuery", payload: &payload, delete_body: None, probe, total: 1 };
    let mut server = failpoints_server(&[("BIGQUERY_EMULATOR_HOST", host.as_str())]).await;
    let rows = every_point(&mut server, &platform).await;
    eprintln!("{}", rows.join("\n"));
}

#[tokio::test]
async fn s3_holds_all_or_nothing_at_every_failure_point() {
    use warden_e2e::access_grants::{self, Grants};
    let vars =
        ["WARDEN_TEST_MOTO_URL", "WARDEN_TEST_MOTO_ACCESS_KEY_ID", "WARDEN_TEST_MOTO_SECRET_KEY"].map(std::env::var);
    let [Ok(moto), Ok(key_id), Ok(secret)] = vars else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs moto and its test user");
        return;
    };
    let bucket = unique("wfp").replace('_', "-");
    let payload = |prefix: &str| {
        json!({"type": "Native S3", "autoBootstrap": false, "config": {"name": prefix.replace('_', "-"),
            "awsAccountId": access_grants::ACCOUNT, "awsRegion": "us-east-1",
            "awsLocationRole": "arn:aws:iam::123456789012:role/grants-location",
            "awsLocationPath": format!("s3://{bucket}/{prefix}"), "authenticationType": "accessKey",
            "awsAccessKeyId": key_id, "awsSecretAccessKey": secret}})
    };
    // The bucket, with an object under every prefix the rounds use, made over moto's S3 API.
    warden_platform::reach::set_aws_endpoint("S3", &moto);
    let spec = warden_model::IntegrationSpec::from_value(&payload("seed"), None).unwrap();
    let warden_model::PlatformConfig::NativeS3(config) = &spec.config else { panic!("an S3 config") };
    let clients = warden_s3::aws::clients(config).await.unwrap();
    clients.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let grants = Grants { instance: true, key: Some((key_id.clone(), secret.clone())), ..Grants::default() };
    let (control, stand_in) = access_grants::start(grants).await;
    let probe = |prefix: String| {
        let held = stand_in.lock().unwrap().locations.iter().filter(|(_, scope, _)| scope.contains(&prefix)).count();
        std::future::ready(held)
    };
    let env = [
        ("AWS_ENDPOINT_URL_STS", moto.as_str()),
        ("AWS_ENDPOINT_URL_S3", moto.as_str()),
        ("AWS_ENDPOINT_URL_S3_CONTROL", control.as_str()),
    ];
    let platform = Platform { label: "Native S3", payload: &payload, delete_body: None, probe, total: 1 };
    let mut server = failpoints_server(&env).await;
    let rows = every_point(&mut server, &platform).await;
    eprintln!("{}", rows.join("\n"));
}

#[tokio::test]
async fn snowflake_holds_all_or_nothing_at_every_failure_point() {
    use warden_e2e::fakesnow;
    const PASSWORD: &str = "Adm1n-Pr1vileged-pw";
    let Ok(url) = std::env::var("WARDEN_TEST_FAKESNOW_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_FAKESNOW_URL");
        return;
    };
    let url = url::Url::parse(&url).unwrap();
    // fakesnow runs the database statements for real; roles, users and grants are no-ops
    // there (`fakesnow::NOP`), so the database is what can be read back.
    let payload = |database: &str| {
        json!({"type": "Snowflake", "autoBootstrap": true, "config": {"host": url.host_str().unwrap(),
            "port": url.port().unwrap(), "warehouse": "FAKESNOW_WAREHOUSE", "database": database.to_uppercase(),
            "authenticationType": "userPassword", "username": "ADMIN", "password": PASSWORD,
            "role": "ACCOUNTADMIN", "connectArgs": "protocol=http", "privilegedConnectArgs": fakesnow::nop_args()}})
    };
    let probe = |database: String| {
        let url = url.clone();
        async move { usize::from(fakesnow::databases(&url).await.contains(&database.to_uppercase())) }
    };
    let delete_body = Some(json!({"config": {"authenticationType": "userPassword", "username": "ADMIN",
        "password": PASSWORD, "role": "ACCOUNTADMIN"}}));
    let platform = Platform { label: "Snowflake", payload: &payload, delete_body, probe, total: 1 };
    let mut server = failpoints_server(&[]).await;
    let rows = every_point(&mut server, &platform).await;
    eprintln!("{}", rows.join("\n"));
}

/// An edit that turns `config.<toggle>.enabled` on (impersonation, audit), interrupted
/// before and after the platform made the change: restarted, the integration is `editError`
/// with the previous config in force, the platform holds what the edit makes (the
/// impersonation role, the audit grants) or not (all or nothing), and sending the PUT again,
/// as the message says, ends `enabled` with it there; the DELETE takes it away.
async fn edit_points<P, F>(
    server: &mut Server,
    label: &str,
    toggle: &str,
    payload: &dyn Fn(&str, bool) -> Value,
    delete_body: Option<&Value>,
    role_present: P,
) -> Vec<String>
where
    P: Fn(String) -> F,
    F: Future<Output = bool>,
{
    let mut rows = Vec::new();
    for moment in ["before", "after"] {
        let context = format!("dying {moment} an edit that turns {toggle} on");
        let name = unique("wfe");
        restart_armed(server, "").await;
        let created = server.call("POST", "/integrations", Some(&payload(&name, false))).await;
        assert_eq!(created.status, 200, "{label}, {context}: {}", created.text);
        let id = created.body["id"].as_u64().unwrap();
        assert_eq!(server.settled(id).await["status"], "enabled", "{label}, {context}: {}", server.logs());
        restart_armed(server, &format!("edit:{moment}")).await;
        let _ = reqwest::Client::new()
            .put(format!("{}/integrations/{id}", server.base))
            .header("Authorization", common::ADMIN_KEY)
            .json(&payload(&name, true))
            .send()
            .await;
        assert!(server.exited_within(Duration::from_secs(60)).await, "{label}, {context}: it did not die");
        restart_armed(server, "").await;
        let after = status(server, id).await;
        assert_eq!(after["status"], "editError", "{label}, {context}: {after}");
        let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
        assert_eq!(shown.body["config"][toggle]["enabled"], false, "{label}, {context}: the previous config");
        let present = role_present(name.clone()).await;
        assert_eq!(present, moment == "after", "{label}, {context}: all or nothing on the platform");
        let again = server.call("PUT", &format!("/integrations/{id}"), Some(&payload(&name, true))).await;
        assert_eq!(again.status, 200, "{label}, {context}: the PUT the message asks for: {}", again.text);
        let settled = server.settled(id).await;
        assert_eq!(settled["status"], "enabled", "{label}, {context}: {settled}");
        assert!(role_present(name.clone()).await, "{label}, {context}: the PUT again made the role");
        let deleted = server.call("DELETE", &format!("/integrations/{id}"), delete_body).await;
        assert_eq!(deleted.status, 200, "{label}, {context}: {}", deleted.text);
        assert_eq!(server.settled(id).await["status"], "deleted", "{label}, {context}");
        assert!(!role_present(name.clone()).await, "{label}, {context}: the DELETE removed the role");
        rows.push(format!(
            "| {label} | {context} | editError, previous config in force, {} {}; the PUT again: enabled | ",
            if toggle == "audit" { "audit grants" } else { "role" },
            if present { "made" } else { "absent" }
        ));
    }
    rows
}

#[tokio::test]
async fn redshift_edits_hold_all_or_nothing_at_every_failure_point() {
    let Some(pg) = common::pg_admin() else { return };
    let payload = |database: &str, impersonation: bool| {
        json!({"type": "Redshift", "autoBootstrap": true, "config": {"host": pg.host, "port": pg.port,
            "database": database, "initialDatabase": "postgres", "authenticationType": "userPassword",
            "username": pg.user, "password": pg.password,
            "impersonation": {"enabled": impersonation, "role": format!("{database}_imp")}}})
    };
    let admin_url = pg.admin_url.clone();
    let role_present = |database: String| {
        let admin_url = admin_url.clone();
        async move {
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            let row = sqlx::query("SELECT count(*) FROM pg_roles WHERE rolname = $1 || '_imp'")
                .bind(&database)
                .fetch_one(&mut admin)
                .await
                .unwrap();
            row.get::<i64, _>(0) == 1
        }
    };
    let delete_body =
        json!({"config": {"authenticationType": "userPassword", "username": pg.user, "password": pg.password}});
    let mut server = failpoints_server(&[]).await;
    let rows = edit_points(&mut server, "Redshift", "impersonation", &payload, Some(&delete_body), role_present).await;
    eprintln!("{}", rows.join("\n"));
}

#[tokio::test]
async fn synapse_edits_hold_all_or_nothing_at_every_failure_point() {
    use warden_e2e::{tds, tds_catalogue::Catalogue};
    const ADMIN: &str = "sqladmin";
    const PASSWORD: &str = "Adm1n-failpoint-Passw0rd!";
    let Some((cert, key)) = tds::test_certificate() else { return };
    let catalogue = Arc::new(Catalogue::new("analytics", ADMIN, PASSWORD));
    let port = tds::start(catalogue.clone(), &cert, &key).await;
    let payload = move |name: &str, impersonation: bool| {
        json!({"type": "Azure Synapse Analytics", "autoBootstrap": true, "config": {"host": "127.0.0.1",
            "port": port, "database": "analytics", "schema": "warden_views", "authenticationType": "userPassword",
            "username": ADMIN, "password": PASSWORD,
            "impersonation": {"enabled": impersonation, "role": format!("{}_IMP", name.to_uppercase())}}})
    };
    let role_present = |name: String| {
        let state = catalogue.snapshot();
        std::future::ready(state.databases["analytics"].roles.contains_key(&format!("{}_IMP", name.to_uppercase())))
    };
    let delete_body =
        json!({"config": {"authenticationType": "userPassword", "username": ADMIN, "password": PASSWORD}});
    let mut server = failpoints_server(&[]).await;
    let rows =
        edit_points(&mut server, "Azure Synapse", "impersonation", &payload, Some(&delete_body), role_present).await;
    eprintln!("{}", rows.join("\n"));
}

#[tokio::test]
async fn databricks_edits_hold_all_or_nothing_at_every_failure_point() {
    let Ok(url) = std::env::var("WARDEN_TEST_MINILAKE_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_MINILAKE_URL");
        return;
    };
    let url = url::Url::parse(&url).unwrap();
    let base = url.as_str().trim_end_matches('/').to_owned();
    let warehouse = warden_e2e::probes::minilake_warehouse(&base, &unique("wh_fpe")).await;
    let token = format!("dapi{}", unique("failpoint_edit"));
    let payload = move |catalog: &str, audit: bool| {
        json!({"type": "Databricks", "autoBootstrap": true, "config": {"workspaceUrl": url.host_str().unwrap(),
            "port": url.port().unwrap(), "httpPath": format!("/sql/1.0/warehouses/{warehouse}"),
            "authenticationType": "token", "token": token, "catalog": catalog, "audit": {"enabled": audit}}})
    };
    // The audit grants, read on minilake: the token's user may SELECT the audit table.
    let audit_granted = |_catalog: String| {
        let base = base.clone();
        async move {
            warden_e2e::probes::minilake_privileges(&base, "table", "system.access.audit")
                .await
                .contains(&"SELECT".to_owned())
        }
    };
    let mut server = failpoints_server(&[]).await;
    let rows = edit_points(&mut server, "Databricks", "audit", &payload, None, audit_granted).await;
    eprintln!("{}", rows.join("\n"));
}
