//! Network faults between Warden and a platform, through the fault-injecting proxy
//! (`src/fault_proxy.rs`): the shipped binary's Redshift adapter against the test PostgreSQL,
//! and its Snowflake and Databricks adapters' validation against fakesnow (HTTP) and minilake
//! (HTTPS: TLS passes through the proxy, and the certificate names 127.0.0.1), and its Synapse
//! adapter against the TDS stand-in (TLS inside TDS, through the proxy), validation and an
//! automatic create with the fault arriving once it is accepted.
//! For each fault, during validation, an automatic create and a delete: the request or the
//! integration reaches a terminal answer within its deadline, a failed test names the fault
//! and marks it transient, and the platform holds everything or nothing of what the create
//! made (checked on the server directly, not through the proxy). The outcomes are printed
//! as the table in docs/RELIABILITY.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, SHIPPED, Server};
use serde_json::{Value, json};
use sqlx::{Connection as _, Row as _};
use warden_e2e::fault_proxy::{Fault, FaultProxy};

/// The check deadline the server runs with, and the change deadline.
const CHECK_SECS: u64 = 2;
const CHANGE_SECS: u64 = 8;

static NAMES: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), NAMES.fetch_add(1, Ordering::SeqCst))
}

async fn database_exists(admin_url: &str, name: &str) -> bool {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    row.get::<bool, _>(0)
}

/// The connection test's result in a validation answer (Redshift's, Snowflake's and
/// Databricks' are named "... connection test").
fn connection_test(answer: &Value) -> Value {
    test_named(answer, "connection test")
}

/// The result of the first test whose name contains `name`.
fn test_named(answer: &Value, name: &str) -> Value {
    let tests = answer["validationResults"]["validationTests"].as_array().cloned().unwrap_or_default();
    tests.into_iter().find(|t| t["name"].as_str().is_some_and(|n| n.contains(name))).unwrap_or(Value::Null)
}

#[tokio::test]
async fn redshift_under_network_faults() {
    let Some(pg) = common::pg_admin() else { return };
    let upstream: SocketAddr = format!("{}:{}", pg.host, pg.port).parse().unwrap();
    let proxy = FaultProxy::start(upstream).await;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let args = ["--check-timeout-secs", "2", "--change-timeout-secs", "8"];
    let server = Server::start_binary(SHIPPED, &Backend::Sqlite, &dir, Some(temp), &args).await;
    let payload = |database: &str| {
        json!({"type": "Redshift", "autoBootstrap": true, "config": {
            "host": "127.0.0.1", "port": proxy.address().port(), "database": database, "initialDatabase": "postgres",
            "authenticationType": "userPassword", "username": pg.user, "password": pg.password}})
    };
    let privileged =
        json!({"config": {"authenticationType": "userPassword", "username": pg.user, "password": pg.password}});
    let deadline = Duration::from_secs(CHECK_SECS * 3 + 10);
    let breaking =
        [("reset", Fault::Reset), ("black hole", Fault::BlackHole), ("reset mid-exchange", Fault::ResetAfter(200))];
    let slowing = [
        ("latency 30 ms", Fault::Latency(Duration::from_millis(30))),
        ("bandwidth 20 kB/s", Fault::Bandwidth(20_000)),
        ("slow close", Fault::SlowClose),
    ];
    let mut table = vec!["| Fault | Operation | Outcome | Within |".to_owned(), "|---|---|---|---|".to_owned()];

    // Validation and automatic create when the fault is there from the start: refused with
    // the connection test failed as transient, nothing created.
    for (name, fault) in breaking {
        proxy.set(fault);
        let database = unique("wflt");
        // A dry run answers 200 with the failed run; a create is refused with 422.
        for (operation, path, code) in
            [("validation (dryRun)", "/integrations?dryRun=true", 200), ("automatic create", "/integrations", 422)]
        {
            let started = Instant::now();
            let answer = server.call("POST", path, Some(&payload(&database))).await;
            let took = started.elapsed();
            assert!(took < deadline, "{name}, {operation}: {took:?}");
            assert_eq!(answer.status, code, "{name}, {operation}: {}", answer.text);
            assert_eq!(answer.body["validationResults"]["status"], "failed", "{name}, {operation}: {}", answer.text);
            let test = connection_test(&answer.body);
            assert_eq!(test["status"], "failed", "{name}: {test}");
            assert_eq!(test["fault"], "transient", "{name}: {test}");
            let message = test["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("could not connect") || message.contains("did not finish within"),
                "{name}: the message names the fault: {message}"
            );
            assert!(!answer.text.contains(&pg.password), "{name}: the password in an answer");
            assert!(!database_exists(&pg.admin_url, &database).await, "{name}: {operation} created the database");
            let cut = message.split_once(". ").map_or(message, |(_, rest)| rest);
            table.push(format!(
                "| {name} | {operation} | {code}, connection test failed (transient): {cut} | {:.1} s |",
                took.as_secs_f64()
            ));
        }
    }

    // Faults that slow but do not break: everything works.
    for (name, fault) in slowing {
        proxy.set(fault);
        let database = unique("wslow");
        let started = Instant::now();
        let answer = server.call("POST", "/integrations", Some(&payload(&database))).await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.text);
        let id = answer.body["id"].as_u64().unwrap();
        let status = server.settled(id).await;
        let took = started.elapsed();
        assert_eq!(status["status"], "enabled", "{name}: {status}");
        assert!(database_exists(&pg.admin_url, &database).await, "{name}: the setup made its database");
        table.push(format!("| {name} | validation and automatic create | enabled | {:.1} s |", took.as_secs_f64()));
        let started = Instant::now();
        let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&privileged)).await;
        assert_eq!(deleted.status, 200, "{name}: {}", deleted.text);
        assert_eq!(server.settled(id).await["status"], "deleted", "{name}");
        assert!(!database_exists(&pg.admin_url, &database).await, "{name}: the delete dropped its database");
        table.push(format!(
            "| {name} | delete | deleted, database dropped | {:.1} s |",
            started.elapsed().as_secs_f64()
        ));
    }

    // A fault that starts once the create is accepted: the setup ends enabled or in
    // createError within the change deadline, and the platform holds all or nothing.
    for (name, fault) in breaking {
        proxy.set(Fault::None);
        let database = unique("wmid");
        let answer = server.call("POST", "/integrations", Some(&payload(&database))).await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.text);
        proxy.set(fault);
        let id = answer.body["id"].as_u64().unwrap();
        let started = Instant::now();
        let status = server.settled(id).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(CHANGE_SECS + 10), "{name}: {took:?}");
        let exists = database_exists(&pg.admin_url, &database).await;
        let outcome = match status["status"].as_str().unwrap() {
            "enabled" => {
                assert!(exists, "{name}: enabled without its database");
                "enabled (the setup's connection was open before the fault)".to_owned()
            }
            "createError" => {
                let message = status["message"].as_str().unwrap();
                assert!(!message.contains(&pg.password), "{name}: the password in the message");
                if exists {
                    // What is left is said: the rollback went through the same broken path.
                    assert!(message.contains("Removing what it had created failed"), "{name}: {message}");
                }
                format!(
                    "createError, database {}: {}",
                    if exists { "left (the message says so)" } else { "absent" },
                    message.chars().take(140).collect::<String>()
                )
            }
            other => panic!("{name}: {other}: {status}"),
        };
        table.push(format!("| {name} | fault once the create is accepted | {outcome} | {:.1} s |", took.as_secs_f64()));

        // A delete while the fault lasts is refused, and the integration stays as it was.
        let before = server.call("GET", &format!("/integrations/{id}/status"), None).await.body["status"].clone();
        let started = Instant::now();
        let refused = server.call("DELETE", &format!("/integrations/{id}"), Some(&privileged)).await;
        let took = started.elapsed();
        assert!(took < deadline, "{name}, delete: {took:?}");
        assert!(refused.status >= 400 && refused.status < 500, "{name}, delete: {}", refused.text);
        let after = server.call("GET", &format!("/integrations/{id}/status"), None).await.body["status"].clone();
        assert_eq!(after, before, "{name}: a refused delete changed the status");
        table.push(format!(
            "| {name} | delete | {}, status stays {before} | {:.1} s |",
            refused.status,
            took.as_secs_f64()
        ));
        proxy.set(Fault::None);
        let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&privileged)).await;
        assert_eq!(deleted.status, 200, "{name}: {}", deleted.text);
        assert_eq!(server.settled(id).await["status"], "deleted");
        assert!(!database_exists(&pg.admin_url, &database).await, "{name}: the delete after the fault removed it all");
    }

    // An edit turning impersonation on, broken once it is accepted: it ends in a terminal
    // status within the change deadline; once the fault is gone, the PUT again (what an
    // `editError` message asks for) ends enabled with the role, and the DELETE removes it all.
    let with_role = |database: &str, on: bool| {
        let mut edited = payload(database);
        edited["config"]["impersonation"] = json!({"enabled": on, "role": format!("{database}_imp")});
        edited
    };
    for (name, fault) in breaking {
        proxy.set(Fault::None);
        let database = unique("wedf");
        let created = server.call("POST", "/integrations", Some(&with_role(&database, false))).await;
        assert_eq!(created.status, 200, "{name}: {}", created.text);
        let id = created.body["id"].as_u64().unwrap();
        assert_eq!(server.settled(id).await["status"], "enabled", "{name}");
        let accepted = server.call("PUT", &format!("/integrations/{id}"), Some(&with_role(&database, true))).await;
        assert_eq!(accepted.status, 200, "{name}, edit: {}", accepted.text);
        proxy.set(fault);
        let started = Instant::now();
        let status = server.settled(id).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(CHANGE_SECS + 10), "{name}, edit: {took:?}");
        let role = role_exists(&pg.admin_url, &format!("{database}_imp")).await;
        let outcome = match status["status"].as_str().unwrap() {
            "enabled" => {
                assert!(role, "{name}: enabled without the role");
                "enabled (the edit's connection was open before the fault)".to_owned()
            }
            "editError" => {
                let message = status["message"].as_str().unwrap();
                assert!(!message.contains(&pg.password), "{name}: the password in the message");
                let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
                assert_eq!(shown.body["config"]["impersonation"]["enabled"], false, "{name}: the previous config");
                format!(
                    "editError, previous config in force, role {}: {}",
                    if role { "made" } else { "absent" },
                    message.chars().take(120).collect::<String>()
                )
            }
            other => panic!("{name}, edit: {other}: {status}"),
        };
        table.push(format!("| {name} | fault once an edit is accepted | {outcome} | {:.1} s |", took.as_secs_f64()));
        proxy.set(Fault::None);
        if status["status"] == "editError" {
            let again = server.call("PUT", &format!("/integrations/{id}"), Some(&with_role(&database, true))).await;
            assert_eq!(again.status, 200, "{name}, the PUT again: {}", again.text);
            assert_eq!(server.settled(id).await["status"], "enabled", "{name}, the PUT again");
        }
        assert!(role_exists(&pg.admin_url, &format!("{database}_imp")).await, "{name}: the role after the edit");
        let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&privileged)).await;
        assert_eq!(deleted.status, 200, "{name}: {}", deleted.text);
        assert_eq!(server.settled(id).await["status"], "deleted");
        assert!(!database_exists(&pg.admin_url, &database).await, "{name}: the delete removed the database");
        assert!(!role_exists(&pg.admin_url, &format!("{database}_imp")).await, "{name}: the delete removed the role");
    }
    assert!(!server.logs().contains(&pg.password), "the privileged password reached the log");
    eprintln!("{}", table.join("\n"));
}

async fn role_exists(admin_url: &str, name: &str) -> bool {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    row.get::<bool, _>(0)
}

/// A dry run of `payload` under each fault at the proxy: a breaking fault fails the
/// connection test as transient within the check deadline; a slow link still passes. Prints
/// a table row for each.
async fn validation_under_faults(server: &Server, proxy: &FaultProxy, payload: &Value, platform: &str) {
    validation_under_faults_of(server, proxy, payload, platform, "connection test").await;
}

/// [`validation_under_faults`] for a platform whose connection test is named `connection`.
async fn validation_under_faults_of(
    server: &Server,
    proxy: &FaultProxy,
    payload: &Value,
    platform: &str,
    connection: &str,
) {
    let deadline = Duration::from_secs(CHECK_SECS * 3 + 10);
    for (name, fault, passes) in [
        ("reset", Fault::Reset, false),
        ("black hole", Fault::BlackHole, false),
        ("reset after 200 bytes", Fault::ResetAfter(200), false),
        ("latency 30 ms", Fault::Latency(Duration::from_millis(30)), true),
        ("slow close", Fault::SlowClose, true),
    ] {
        proxy.set(fault);
        let started = Instant::now();
        let answer = server.call("POST", "/integrations?dryRun=true", Some(payload)).await;
        let took = started.elapsed();
        assert!(took < deadline, "{platform}, {name}: {took:?}");
        assert_eq!(answer.status, 200, "{platform}, {name}: {}", answer.text);
        let test = test_named(&answer.body, connection);
        if passes {
            assert_eq!(test["status"], "passed", "{platform}, {name}: {test}");
        } else {
            assert_eq!(test["status"], "failed", "{platform}, {name}: {test}");
            assert_eq!(test["fault"], "transient", "{platform}, {name}: {test}");
        }
        eprintln!(
            "| {name} | {platform} validation (dryRun) | connection test {} {} | {:.1} s |",
            test["status"],
            test["platformError"],
            took.as_secs_f64()
        );
    }
    proxy.set(Fault::None);
}

/// The Snowflake adapter's validation through the proxy to fakesnow: a breaking fault fails
/// the connection test as transient within the check deadline; a slow link still passes.
#[tokio::test]
async fn snowflake_validation_under_network_faults() {
    let Ok(url) = std::env::var("WARDEN_TEST_FAKESNOW_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_FAKESNOW_URL");
        return;
    };
    let url = url::Url::parse(&url).unwrap();
    let upstream: SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()).parse().unwrap();
    let proxy = FaultProxy::start(upstream).await;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let server = Server::start_binary(
        SHIPPED,
        &Backend::Sqlite,
        &dir,
        Some(temp),
        &["--check-timeout-secs", "2", "--change-timeout-secs", "8"],
    )
    .await;
    // fakesnow's administrator, as tests/snowflake.rs signs in.
    let payload = json!({"type": "Snowflake", "autoBootstrap": false, "config": {"host": "127.0.0.1",
        "port": proxy.address().port(), "warehouse": "FAKESNOW_WAREHOUSE", "database": unique("WSF_FAULT"),
        "authenticationType": "userPassword", "username": "ADMIN", "password": "Adm1n-Pr1vileged-pw",
        "connectArgs": "protocol=http"}});
    validation_under_faults(&server, &proxy, &payload, "Snowflake").await;

    throttling_within_bounds(&server, &proxy, &payload, "Snowflake", "connection test", 429).await;

    // An automatic setup and its removal broken once accepted; fakesnow is read directly.
    let automatic = |database: &str| {
        json!({"type": "Snowflake", "autoBootstrap": true, "config": {"host": "127.0.0.1",
            "port": proxy.address().port(), "warehouse": "FAKESNOW_WAREHOUSE", "database": database.to_uppercase(),
            "authenticationType": "userPassword", "username": "ADMIN", "password": "Adm1n-Pr1vileged-pw",
            "role": "ACCOUNTADMIN", "connectArgs": "protocol=http",
            "privilegedConnectArgs": warden_e2e::fakesnow::nop_args()}})
    };
    let privileged = json!({"config": {"authenticationType": "userPassword", "username": "ADMIN",
        "password": "Adm1n-Pr1vileged-pw", "role": "ACCOUNTADMIN"}});
    let probe = |database: String| {
        let url = url.clone();
        async move { usize::from(warden_e2e::fakesnow::databases(&url).await.contains(&database.to_uppercase())) }
    };
    let rows = changes_under_faults(
        &server,
        &proxy,
        "Snowflake",
        Requests { create: &automatic, edit: None, delete: Some(&privileged) },
        probe,
        1,
    )
    .await;
    eprintln!("{}", rows.join("\n"));
}

/// Throttling (HTTP `status`, 429 or 503, with `Retry-After: 1`) at the proxy: one answer is waited out and
/// the validation passes (within the 2 s check deadline); a platform that keeps throttling is
/// tried a bounded number of times and the connection test fails as transient, within its
/// deadline. Prints the table rows.
async fn throttling_within_bounds(
    server: &Server,
    proxy: &FaultProxy,
    payload: &Value,
    platform: &str,
    connection: &str,
    status: u64,
) {
    let deadline = Duration::from_secs(CHECK_SECS * 3 + 10);
    proxy.throttle_with(1, status);
    let answer = server.call("POST", "/integrations?dryRun=true", Some(payload)).await;
    assert_eq!(test_named(&answer.body, connection)["status"], "passed", "{platform}: {}", answer.text);
    assert_eq!(proxy.throttled(), 1, "{platform}: the {status} was met and waited out");
    proxy.throttle_with(1000, status);
    let started = Instant::now();
    let answer = server.call("POST", "/integrations?dryRun=true", Some(payload)).await;
    let took = started.elapsed();
    let test = test_named(&answer.body, connection);
    assert_eq!(test["status"], "failed", "{platform}: {test}");
    assert_eq!(test["fault"], "transient", "{platform}: {test}");
    assert!(took < deadline, "{platform}: {took:?}");
    let made = proxy.throttled();
    assert!(
        (2..=4).contains(&made),
        "{platform}: a bounded number of attempts, waiting Retry-After between them: {made}"
    );
    proxy.set(Fault::None);
    eprintln!(
        "| throttled once ({status}, Retry-After: 1) | {platform} validation (dryRun) | passed after waiting | |"
    );
    eprintln!(
        "| always throttled | {platform} validation (dryRun) | connection test failed (transient) after {made} requests: {} | {:.1} s |",
        test["platformError"],
        took.as_secs_f64()
    );
}

/// The Databricks adapter's validation through the proxy to minilake (HTTPS), as for Snowflake.
#[tokio::test]
async fn databricks_validation_under_network_faults() {
    let Ok(url) = std::env::var("WARDEN_TEST_MINILAKE_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_MINILAKE_URL");
        return;
    };
    let url = url::Url::parse(&url).unwrap();
    let upstream: SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()).parse().unwrap();
    // A warehouse made on minilake directly, not through the proxy.
    let warehouse = warden_e2e::probes::minilake_warehouse(url.as_str(), &unique("wh_fault")).await;
    let proxy = FaultProxy::start(upstream).await;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let server = Server::start_binary(
        SHIPPED,
        &Backend::Sqlite,
        &dir,
        Some(temp),
        &["--check-timeout-secs", "2", "--change-timeout-secs", "8"],
    )
    .await;
    let payload = json!({"type": "Databricks", "autoBootstrap": false, "config": {"workspaceUrl": "127.0.0.1",
        "port": proxy.address().port(), "httpPath": format!("/sql/1.0/warehouses/{warehouse}"),
        "authenticationType": "token", "token": format!("dapi{}", unique("fault")), "catalog": unique("wcat_fault")}});
    validation_under_faults(&server, &proxy, &payload, "Databricks").await;

    // An automatic setup (the catalog) and its removal broken once accepted; minilake is read
    // directly.
    let automatic = |catalog: &str| {
        let mut automatic = payload.clone();
        automatic["autoBootstrap"] = json!(true);
        automatic["config"]["catalog"] = json!(catalog);
        automatic
    };
    let base = url.as_str().trim_end_matches('/').to_owned();
    let probe = |catalog: String| {
        let base = base.clone();
        async move { usize::from(warden_e2e::probes::minilake_catalog_exists(&base, &catalog).await) }
    };
    let with_audit = |catalog: &str| {
        let mut edited = automatic(catalog);
        edited["config"]["audit"] = json!({"enabled": true});
        edited
    };
    let rows = changes_under_faults(
        &server,
        &proxy,
        "Databricks",
        Requests { create: &automatic, edit: Some(&with_audit), delete: None },
        probe,
        1,
    )
    .await;
    eprintln!("{}", rows.join("\n"));
}

/// The Synapse adapter through the proxy to the TDS stand-in: validation under each fault as
/// for the other platforms, then an automatic create whose connection breaks once it is
/// accepted. It ends enabled or in createError within the change deadline, and the stand-in's
/// catalogue holds everything of the setup or nothing (its message says what is left).
#[tokio::test]
async fn synapse_under_network_faults() {
    use std::sync::Arc;
    use warden_e2e::{tds, tds_catalogue::Catalogue};
    const ADMIN: &str = "sqladmin";
    const PASSWORD: &str = "Adm1n-fault-Passw0rd!";
    let Some((cert, key)) = tds::test_certificate() else { return };
    let catalogue = Arc::new(Catalogue::new("analytics", ADMIN, PASSWORD));
    let port = tds::start(catalogue.clone(), &cert, &key).await;
    let proxy = FaultProxy::start(format!("127.0.0.1:{port}").parse().unwrap()).await;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let args = ["--check-timeout-secs", "2", "--change-timeout-secs", "8"];
    let server = Server::start_binary(SHIPPED, &Backend::Sqlite, &dir, Some(temp), &args).await;
    let payload = json!({"type": "Azure Synapse Analytics", "autoBootstrap": true, "config": {"host": "127.0.0.1",
        "port": proxy.address().port(), "database": "analytics", "schema": "warden_views",
        "authenticationType": "userPassword", "username": ADMIN, "password": PASSWORD}});
    let privileged = json!({"config": {"authenticationType": "userPassword", "username": ADMIN, "password": PASSWORD}});
    validation_under_faults_of(&server, &proxy, &payload, "Synapse", "Initial validation: connect").await;

    let probe = |_: String| std::future::ready(warden_e2e::probes::synapse_objects(&catalogue, "analytics"));
    let with_role = |name: &str| {
        let mut edited = payload.clone();
        edited["config"]["impersonation"] = json!({"enabled": true, "role": format!("{}_IMP", name.to_uppercase())});
        edited
    };
    let requests = Requests { create: &|_| payload.clone(), edit: Some(&with_role), delete: Some(&privileged) };
    let rows = changes_under_faults(&server, &proxy, "Synapse", requests, probe, 5).await;
    eprintln!("{}", rows.join("\n"));
    assert!(!server.logs().contains(PASSWORD), "the privileged password reached the log");
}

/// The BigQuery adapter's validation through the proxy to bqemulator (reached as Google's
/// client libraries reach an emulator, `BIGQUERY_EMULATOR_HOST`; the tokens come from the
/// token-endpoint stand-in, not through the proxy): each fault as for the other platforms,
/// then throttling.
#[tokio::test]
async fn bigquery_validation_under_network_faults() {
    let Ok(host) = std::env::var("WARDEN_TEST_BIGQUERY_EMULATOR") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_BIGQUERY_EMULATOR");
        return;
    };
    let upstream: SocketAddr = host.parse().unwrap();
    let proxy = FaultProxy::start(upstream).await;
    let tokens = warden_e2e::google_token::start().await;
    let project = format!("warden-fault-{}", std::process::id());
    let key = tokens.key_file(&project, &format!("warden-sa@{project}.iam.gserviceaccount.com"));
    let through = proxy.address().to_string();
    let server = Server::start_binary_with_env_and_args(
        SHIPPED,
        &Backend::Sqlite,
        tempfile::tempdir().unwrap(),
        &[("BIGQUERY_EMULATOR_HOST", through.as_str())],
        &["--check-timeout-secs", "2", "--change-timeout-secs", "8"],
    )
    .await;
    let payload = json!({"type": "Google BigQuery", "autoBootstrap": false, "config": {"role": "wardenRole",
        "datasetSuffix": "_secure", "dataset": unique("wfault"), "location": "US", "credential": key}});
    let connection = "connection can be made to BigQuery";
    validation_under_faults_of(&server, &proxy, &payload, "BigQuery", connection).await;
    throttling_within_bounds(&server, &proxy, &payload, "BigQuery", connection, 429).await;

    // The metadata dataset made and removed with the connection broken once accepted;
    // bqemulator is read directly.
    let with_dataset = |dataset: &str| {
        let mut body = payload.clone();
        body["config"]["dataset"] = json!(dataset);
        body
    };
    let probe = |dataset: String| {
        let (host, project) = (host.clone(), project.clone());
        async move { usize::from(warden_e2e::probes::bigquery_dataset_exists(&host, &project, &dataset).await) }
    };
    // An edit checks the metadata dataset is there (and makes it if not) on BigQuery.
    let relabelled = |dataset: &str| {
        let mut edited = with_dataset(dataset);
        edited["labels"] = json!({"edited": "yes"});
        edited
    };
    let requests = Requests { create: &with_dataset, edit: Some(&relabelled), delete: None };
    let rows = changes_under_faults(&server, &proxy, "BigQuery", requests, probe, 1).await;
    eprintln!("{}", rows.join("\n"));
}

/// The S3 adapter's validation with the proxy in front of moto for STS and S3 (the Access
/// Grants stand-in is reached directly): each fault as for the other platforms, then
/// throttling as S3 and load balancers answer it, 503 (the AWS SDK's own retry meets it; a
/// bare 429 carries no AWS error code, so the SDK does not retry it and the test fails as
/// transient at once).
#[tokio::test]
async fn s3_validation_under_network_faults() {
    let vars =
        ["WARDEN_TEST_MOTO_URL", "WARDEN_TEST_MOTO_ACCESS_KEY_ID", "WARDEN_TEST_MOTO_SECRET_KEY"].map(std::env::var);
    let [Ok(moto), Ok(key_id), Ok(secret)] = vars else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs moto and its test user");
        return;
    };
    use warden_e2e::access_grants::{self, Grants};
    let url = url::Url::parse(&moto).unwrap();
    let upstream: SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()).parse().unwrap();
    let proxy = FaultProxy::start(upstream).await;
    let through = format!("http://{}", proxy.address());
    let grants = Grants { instance: true, key: Some((key_id.clone(), secret.clone())), ..Grants::default() };
    let (control, stand_in) = access_grants::start(grants).await;
    let env = [
        ("AWS_ENDPOINT_URL_STS", through.as_str()),
        ("AWS_ENDPOINT_URL_S3", through.as_str()),
        ("AWS_ENDPOINT_URL_S3_CONTROL", control.as_str()),
    ];
    let server = Server::start_binary_with_env_and_args(
        SHIPPED,
        &Backend::Sqlite,
        tempfile::tempdir().unwrap(),
        &env,
        &["--check-timeout-secs", "2", "--change-timeout-secs", "8"],
    )
    .await;
    let bucket = unique("wfault").replace('_', "-");
    let payload = json!({"type": "Native S3", "autoBootstrap": false, "config": {"name": unique("lake"),
        "awsAccountId": access_grants::ACCOUNT, "awsRegion": "us-east-1",
        "awsLocationRole": "arn:aws:iam::123456789012:role/grants-location",
        "awsLocationPath": format!("s3://{bucket}/raw"), "authenticationType": "accessKey",
        "awsAccessKeyId": key_id, "awsSecretAccessKey": secret}});
    let connection = "caller's identity";
    validation_under_faults_of(&server, &proxy, &payload, "Native S3", connection).await;
    throttling_within_bounds(&server, &proxy, &payload, "Native S3", connection, 503).await;
    drop(server);

    // A location registered and removed with S3 Control's connection broken once accepted:
    // a second proxy stands before the Access Grants stand-in, which is read directly.
    let control_url = url::Url::parse(&control).unwrap();
    let control_proxy = FaultProxy::start(format!("127.0.0.1:{}", control_url.port().unwrap()).parse().unwrap()).await;
    let through_control = format!("http://{}", control_proxy.address());
    let env = [
        ("AWS_ENDPOINT_URL_STS", through.as_str()),
        ("AWS_ENDPOINT_URL_S3", through.as_str()),
        ("AWS_ENDPOINT_URL_S3_CONTROL", through_control.as_str()),
    ];
    let server = Server::start_binary_with_env_and_args(
        SHIPPED,
        &Backend::Sqlite,
        tempfile::tempdir().unwrap(),
        &env,
        &["--check-timeout-secs", "2", "--change-timeout-secs", "8"],
    )
    .await;
    warden_platform::reach::set_aws_endpoint("S3", &moto);
    let spec = warden_model::IntegrationSpec::from_value(&payload, None).unwrap();
    let warden_model::PlatformConfig::NativeS3(config) = &spec.config else { panic!("an S3 config") };
    let clients = warden_s3::aws::clients(config).await.unwrap();
    clients.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let located = |prefix: &str| {
        let mut body = payload.clone();
        body["config"]["name"] = json!(prefix.replace('_', "-"));
        body["config"]["awsLocationPath"] = json!(format!("s3://{bucket}/{prefix}"));
        body
    };
    let probe = |prefix: String| {
        let held = stand_in.lock().unwrap().locations.iter().filter(|(_, scope, _)| scope.ends_with(&prefix)).count();
        std::future::ready(held)
    };
    let rows = changes_under_faults(
        &server,
        &control_proxy,
        "Native S3",
        Requests { create: &located, edit: None, delete: None },
        probe,
        1,
    )
    .await;
    eprintln!("{}", rows.join("\n"));
}

/// The requests [`changes_under_faults`] sends for one object name: the create's payload, the
/// PUT of an edit (if the platform has one to try), the DELETE's body.
#[derive(Clone, Copy)]
struct Requests<'a> {
    create: &'a dyn Fn(&str) -> Value,
    edit: Option<&'a dyn Fn(&str) -> Value>,
    delete: Option<&'a Value>,
}

/// A create, then a delete, whose connection to the platform breaks (reset, black hole) once
/// it is accepted: each ends in a terminal status within the change deadline; the platform
/// holds all of it or none of it (`probe` counts Warden's objects for a `name`, of `total`),
/// or, after a createError that left objects, the message says the removal failed; and once
/// the fault is gone, a DELETE removes everything. With `edit` (the PUT of an edit that
/// changes something on the platform), an edit broken the same way ends `enabled` or
/// `editError` within the deadline, and once the fault is gone the PUT again ends `enabled`
/// and the DELETE removes everything. Returns the table rows.
async fn changes_under_faults<P, F>(
    server: &Server,
    proxy: &FaultProxy,
    platform: &str,
    requests: Requests<'_>,
    probe: P,
    total: usize,
) -> Vec<String>
where
    P: Fn(String) -> F,
    F: std::future::Future<Output = usize>,
{
    let Requests { create: payload, edit, delete: delete_body } = requests;
    let mut rows = Vec::new();
    let deadline = Duration::from_secs(CHANGE_SECS + 10);
    for (name, fault) in [("reset", Fault::Reset), ("black hole", Fault::BlackHole)] {
        // The create.
        proxy.set(Fault::None);
        let object = unique("wchg");
        let answer = server.call("POST", "/integrations", Some(&payload(&object))).await;
        assert_eq!(answer.status, 200, "{platform}, {name}: {}", answer.text);
        proxy.set(fault);
        let id = answer.body["id"].as_u64().unwrap();
        let started = Instant::now();
        let status = server.settled(id).await;
        let took = started.elapsed();
        assert!(took < deadline, "{platform}, {name}: {took:?}");
        let present = probe(object.clone()).await;
        let outcome = match status["status"].as_str().unwrap() {
            "enabled" => {
                assert_eq!(present, total, "{platform}, {name}: enabled without all its objects");
                "enabled (its connections were open before the fault)".to_owned()
            }
            "createError" => {
                let message = status["message"].as_str().unwrap();
                if present > 0 {
                    assert!(
                        message.contains("Removing what it had created failed") || present == total,
                        "{platform}, {name}: {present} of {total} objects left, unsaid: {message}"
                    );
                }
                format!(
                    "createError, {present} of {total} objects left: {}",
                    message.chars().take(110).collect::<String>()
                )
            }
            other => panic!("{platform}, {name}: {other}: {status}"),
        };
        rows.push(format!(
            "| {name} | {platform}: fault once the create is accepted | {outcome} | {:.1} s |",
            took.as_secs_f64()
        ));
        proxy.set(Fault::None);
        let deleted = server.call("DELETE", &format!("/integrations/{id}"), delete_body).await;
        assert_eq!(deleted.status, 200, "{platform}, {name}: {}", deleted.text);
        assert_eq!(server.settled(id).await["status"], "deleted", "{platform}, {name}: {}", server.logs());
        assert_eq!(probe(object.clone()).await, 0, "{platform}, {name}: the delete after the fault removed it all");

        // The delete.
        let object = unique("wchg");
        let answer = server.call("POST", "/integrations", Some(&payload(&object))).await;
        assert_eq!(answer.status, 200, "{platform}, {name}: {}", answer.text);
        let id = answer.body["id"].as_u64().unwrap();
        assert_eq!(server.settled(id).await["status"], "enabled", "{platform}, {name}: {}", server.logs());
        let deleting = server.call("DELETE", &format!("/integrations/{id}"), delete_body).await;
        assert_eq!(deleting.status, 200, "{platform}, {name}: {}", deleting.text);
        proxy.set(fault);
        let started = Instant::now();
        let status = server.settled(id).await;
        let took = started.elapsed();
        assert!(took < deadline, "{platform}, {name}: {took:?}");
        let present = probe(object.clone()).await;
        let outcome = match status["status"].as_str().unwrap() {
            "deleted" => {
                assert_eq!(present, 0, "{platform}, {name}: deleted with objects left");
                "deleted (its connections were open before the fault)".to_owned()
            }
            "deleteError" => format!(
                "deleteError, {present} of {total} objects left: {}",
                status["message"].as_str().unwrap().chars().take(110).collect::<String>()
            ),
            other => panic!("{platform}, {name}: {other}: {status}"),
        };
        rows.push(format!(
            "| {name} | {platform}: fault once the delete is accepted | {outcome} | {:.1} s |",
            took.as_secs_f64()
        ));
        proxy.set(Fault::None);
        if status["status"] == "deleteError" {
            let again = server.call("DELETE", &format!("/integrations/{id}"), delete_body).await;
            assert_eq!(again.status, 200, "{platform}, {name}: {}", again.text);
            assert_eq!(server.settled(id).await["status"], "deleted", "{platform}, {name}: {}", server.logs());
        }
        assert_eq!(probe(object).await, 0, "{platform}, {name}: the delete after the fault removed it all");

        // The edit.
        let Some(edit) = edit else { continue };
        let object = unique("wchg");
        let answer = server.call("POST", "/integrations", Some(&payload(&object))).await;
        assert_eq!(answer.status, 200, "{platform}, {name}: {}", answer.text);
        let id = answer.body["id"].as_u64().unwrap();
        assert_eq!(server.settled(id).await["status"], "enabled", "{platform}, {name}: {}", server.logs());
        let editing = server.call("PUT", &format!("/integrations/{id}"), Some(&edit(&object))).await;
        assert_eq!(editing.status, 200, "{platform}, {name}, edit: {}", editing.text);
        proxy.set(fault);
        let started = Instant::now();
        let status = server.settled(id).await;
        let took = started.elapsed();
        assert!(took < deadline, "{platform}, {name}, edit: {took:?}");
        let outcome = match status["status"].as_str().unwrap() {
            "enabled" => "enabled (its connections were open before the fault)".to_owned(),
            "editError" => format!(
                "editError, the previous config in force: {}",
                status["message"].as_str().unwrap().chars().take(110).collect::<String>()
            ),
            other => panic!("{platform}, {name}, edit: {other}: {status}"),
        };
        rows.push(format!(
            "| {name} | {platform}: fault once an edit is accepted | {outcome} | {:.1} s |",
            took.as_secs_f64()
        ));
        proxy.set(Fault::None);
        if status["status"] == "editError" {
            let again = server.call("PUT", &format!("/integrations/{id}"), Some(&edit(&object))).await;
            assert_eq!(again.status, 200, "{platform}, {name}, the PUT again: {}", again.text);
            assert_eq!(server.settled(id).await["status"], "enabled", "{platform}, {name}: {}", server.logs());
        }
        let deleted = server.call("DELETE", &format!("/integrations/{id}"), delete_body).await;
        assert_eq!(deleted.status, 200, "{platform}, {name}: {}", deleted.text);
        assert_eq!(server.settled(id).await["status"], "deleted", "{platform}, {name}: {}", server.logs());
        assert_eq!(probe(object).await, 0, "{platform}, {name}: the delete after the edit removed it all");
    }
    rows
}
