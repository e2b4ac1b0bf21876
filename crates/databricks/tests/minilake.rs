//! The Databricks adapter against minilake (PyPI `minilake`, a Databricks API emulator),
//! which `cargo xtask ci` starts over HTTPS with the test CA's certificate through
//! `xtask/minilake_server.py` and names in `WARDEN_TEST_MINILAKE_URL` (its request log in
//! `WARDEN_TEST_MINILAKE_LOG`). The checks passing and failing for real; a workspace without
//! a metastore, and one whose metastore cannot be read (the launcher's faults by token);
//! throttled calls retried; automatic create, edit and delete with the catalog, schemas and
//! grants there and gone; OAuth M2M against a token endpoint started here (RFC 6749 section
//! 4.4, the client in HTTP Basic as Databricks' own endpoint takes it), with the bearer
//! token minilake received read from its request log; and `proxyOptions` through a real
//! tinyproxy, with and without basic authentication, checked in the proxy's log.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a panic is a failed test

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use warden_databricks::Databricks;
use warden_model::{IntegrationSpec, TestStatus};
use warden_platform::{Change, CheckContext, NoRecords, Phase, Platform as _};
use warden_validation::{RunOptions, validate};

struct Minilake {
    url: url::Url,
    log: PathBuf,
}

fn minilake() -> Option<Minilake> {
    match (std::env::var("WARDEN_TEST_MINILAKE_URL"), std::env::var("WARDEN_TEST_MINILAKE_LOG")) {
        (Ok(url), Ok(log)) => Some(Minilake { url: url::Url::parse(&url).unwrap(), log: log.into() }),
        _ => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs minilake (cargo xtask ci)");
            eprintln!("WARDEN_TEST_MINILAKE_URL is not set: skipped");
            None
        }
    }
}

static NAMES: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), NAMES.fetch_add(1, Ordering::SeqCst))
}

/// An HTTP client that trusts the test CA (`WARDEN_CA_FILE`), as Warden's own does, for
/// setting minilake up and reading it back.
fn http() -> reqwest::Client {
    warden_http::https_client(None).unwrap()
}

async fn rest(lake: &Minilake, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = http().request(method, format!("{}{path}", lake.url.as_str().trim_end_matches('/')));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn warehouse(lake: &Minilake) -> String {
    let (_, created) =
        rest(lake, reqwest::Method::POST, "/api/2.0/sql/warehouses", Some(json!({"name": unique("wh")}))).await;
    created["id"].as_str().unwrap().to_owned()
}

fn payload(lake: &Minilake, warehouse: &str, catalog: &str, token: &str, auto: bool) -> Value {
    json!({"type": "Databricks", "autoBootstrap": auto, "config": {"workspaceUrl": lake.url.host_str().unwrap(),
        "port": lake.url.port().unwrap(), "httpPath": format!("/sql/1.0/warehouses/{warehouse}"),
        "authenticationType": "token", "token": token, "catalog": catalog}})
}

async fn run(payload: &Value, phase: Phase) -> Result<HashMap<String, (TestStatus, Option<String>)>, String> {
    let spec = Arc::new(IntegrationSpec::from_value(payload, None).unwrap());
    let context = CheckContext { spec, phase, integration_id: None, session: None, registry: Arc::new(NoRecords) };
    match validate(Arc::new(Databricks), context, RunOptions::default()).await {
        Ok(results) => Ok(results.validation_tests.into_iter().map(|t| (t.name, (t.status, t.message))).collect()),
        Err(aborted) => Err(format!("{aborted:?}")),
    }
}

const CONNECTION: &str = "Basic connection test";
const CATALOG: &str = "Manual catalog setup";
const METASTORE: &str = "Metastore validation";

/// SHA-256 of a token, as the request log writes it.
fn digest(token: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The requests minilake logged with `token`: (method, path).
fn requests_with(lake: &Minilake, token: &str) -> Vec<(String, String)> {
    let digest = digest(token);
    std::fs::read_to_string(&lake.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["bearer_sha256"] == digest.as_str())
        .map(|entry| (entry["method"].as_str().unwrap().to_owned(), entry["path"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn the_manual_checks_pass_and_fail_for_real() {
    let Some(lake) = minilake() else { return };
    let (wh, catalog, token) = (warehouse(&lake).await, unique("wcat"), unique("dapi"));
    let manual = payload(&lake, &wh, &catalog, &token, false);
    let missing = run(&manual, Phase::Request).await.unwrap();
    assert_eq!(missing[CONNECTION].0, TestStatus::Passed, "{missing:?}");
    assert_eq!(missing[METASTORE].0, TestStatus::Passed, "{missing:?}");
    let (status, message) = &missing[CATALOG];
    assert_eq!(*status, TestStatus::Failed);
    let message = message.as_deref().unwrap();
    assert!(message.starts_with("Encountered an error looking up catalog metadata for catalog."), "{message}");
    assert!(message.contains(&format!("Catalog '{catalog}' not found")), "{message}");
    // The administrator's create script made it (here, its REST equivalent).
    rest(&lake, reqwest::Method::POST, "/api/2.1/unity-catalog/catalogs", Some(json!({"name": catalog}))).await;
    let found = run(&manual, Phase::Request).await.unwrap();
    assert_eq!(found[CATALOG].0, TestStatus::Passed, "{found:?}");
    // The token is what minilake saw on every call of the run.
    let calls = requests_with(&lake, &token);
    assert!(calls.contains(&("GET".into(), "/api/2.0/preview/scim/v2/Me".into())), "{calls:?}");
    assert!(calls.contains(&("GET".into(), format!("/api/2.1/unity-catalog/catalogs/{catalog}"))), "{calls:?}");
    // A warehouse that is not there fails the connection test; a cluster's path warns.
    let gone = payload(&lake, "nope0000", &catalog, &token, false);
    let (status, message) = &run(&gone, Phase::Request).await.unwrap()[CONNECTION];
    assert_eq!(*status, TestStatus::Failed, "{message:?}");
    assert!(message.as_deref().unwrap().contains("the SQL warehouse of httpPath"), "{message:?}");
    let mut cluster = manual.clone();
    cluster["config"]["httpPath"] = json!("/sql/protocolv1/o/123/0123-456789-abc");
    let (status, message) = &run(&cluster, Phase::Request).await.unwrap()[CONNECTION];
    assert_eq!(*status, TestStatus::Warning, "{message:?}");
}

#[tokio::test]
async fn a_workspace_without_a_metastore_fails_and_an_unreadable_one_aborts() {
    let Some(lake) = minilake() else { return };
    let (wh, catalog) = (warehouse(&lake).await, unique("wcat"));
    let none = run(&payload(&lake, &wh, &catalog, &unique("no-metastore"), true), Phase::Request).await.unwrap();
    let (status, message) = &none[METASTORE];
    assert_eq!(*status, TestStatus::Failed);
    let message = message.as_deref().unwrap();
    assert!(message.starts_with("No metastore is assigned to workspace."), "{message}");
    assert!(message.contains("METASTORE_DOES_NOT_EXIST"), "{message}");
    let broken = run(&payload(&lake, &wh, &catalog, &unique("broken-metastore"), true), Phase::Request).await;
    let aborted = broken.unwrap_err();
    assert!(aborted.contains("MetastoreLookupFailed"), "{aborted}");
}

#[tokio::test]
async fn throttled_calls_are_retried_within_their_bound() {
    let Some(lake) = minilake() else { return };
    let (wh, catalog) = (warehouse(&lake).await, unique("wcat"));
    let twice = format!("throttle-2-{}", unique("t"));
    let found = run(&payload(&lake, &wh, &catalog, &twice, true), Phase::Request).await.unwrap();
    assert_eq!(found[CONNECTION].0, TestStatus::Passed, "{found:?}");
    let me: Vec<_> = requests_with(&lake, &twice).into_iter().filter(|(_, p)| p.ends_with("/scim/v2/Me")).collect();
    assert_eq!(me.len(), 3, "two 429s, then the answer: {me:?}");
    let always = format!("throttle-99-{}", unique("t"));
    let (status, message) =
        &run(&payload(&lake, &wh, &catalog, &always, true), Phase::Request).await.unwrap()[CONNECTION];
    assert_eq!(*status, TestStatus::Failed);
    assert!(message.as_deref().unwrap().contains("throttled"), "{message:?}");
    assert_eq!(
        requests_with(&lake, &always).len(),
        warden_databricks::client::ATTEMPTS as usize,
        "the request count is bounded"
    );
}

async fn privileges(lake: &Minilake, kind: &str, name: &str) -> Vec<String> {
    let (_, answer) = rest(
        lake,
        reqwest::Method::GET,
        &format!("/api/2.1/unity-catalog/permissions/{kind}/{name}?principal=minilake-user"),
        None,
    )
    .await;
    answer["privilege_assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["privileges"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_automatic_setup_creates_edits_and_deletes_for_real() {
    let Some(lake) = minilake() else { return };
    let (wh, catalog, token) = (warehouse(&lake).await, unique("wcat"), unique("dapi"));
    let mut auto = payload(&lake, &wh, &catalog, &token, true);
    auto["config"]["audit"] = json!({"enabled": true});
    let spec = IntegrationSpec::from_value(&auto, None).unwrap();
    // Another principal's grant on a system table is not Warden's to take back.
    let other = json!({"changes": [{"principal": "someone-else", "add": ["SELECT"]}]});
    rest(&lake, reqwest::Method::PATCH, "/api/2.1/unity-catalog/permissions/table/system.query.history", Some(other))
        .await;
    let created = Databricks.apply(Change::Create { spec: &spec, privileged: None }).await.unwrap();
    let state = created.state.expect("the create remembers the grants it added");
    let (status, found) =
        rest(&lake, reqwest::Method::GET, &format!("/api/2.1/unity-catalog/catalogs/{catalog}"), None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["owner"], "minilake-user", "the principal made it, so owns it");
    let (_, schemas) =
        rest(&lake, reqwest::Method::GET, &format!("/api/2.1/unity-catalog/schemas?catalog_name={catalog}"), None)
            .await;
    let names: Vec<&str> = schemas["schemas"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(names.contains(&"warden_system") && names.contains(&"warden_policies"), "{names:?}");
    assert!(privileges(&lake, "table", "system.access.audit").await.contains(&"SELECT".to_owned()));
    assert!(privileges(&lake, "catalog", "system").await.contains(&"USE_CATALOG".to_owned()));

    // The catalog now exists: a second create of it stops before it changes anything.
    let again = Databricks.apply(Change::Create { spec: &spec, privileged: None }).await.unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
    assert_eq!(again.rollback_failure(), None);
    assert_eq!(
        rest(&lake, reqwest::Method::GET, &format!("/api/2.1/unity-catalog/catalogs/{catalog}"), None).await.0,
        200,
        "left alone"
    );

    let mut off = auto.clone();
    off["config"]["audit"] = json!({"enabled": false});
    let edited = IntegrationSpec::from_value(&off, None).unwrap();
    let off_state = Databricks
        .apply(Change::Edit { from: &spec, to: &edited, privileged: None, state: Some(&state) })
        .await
        .unwrap();
    assert!(
        !privileges(&lake, "table", "system.access.audit").await.contains(&"SELECT".to_owned()),
        "audit off takes it back"
    );
    let (_, history) =
        rest(&lake, reqwest::Method::GET, "/api/2.1/unity-catalog/permissions/table/system.query.history", None).await;
    assert!(history.to_string().contains("someone-else"), "another principal's grant stays: {history}");
    let on_state = Databricks
        .apply(Change::Edit { from: &edited, to: &spec, privileged: None, state: off_state.state.as_ref() })
        .await
        .unwrap();
    assert!(privileges(&lake, "table", "system.access.audit").await.contains(&"SELECT".to_owned()), "audit on again");

    Databricks.apply(Change::Delete { spec: &spec, privileged: None, state: on_state.state.as_ref() }).await.unwrap();
    assert!(
        !privileges(&lake, "table", "system.access.audit").await.contains(&"SELECT".to_owned()),
        "the delete took back what Warden granted"
    );
    assert_eq!(
        rest(&lake, reqwest::Method::GET, &format!("/api/2.1/unity-catalog/catalogs/{catalog}"), None).await.0,
        404
    );
    Databricks.apply(Change::Delete { spec: &spec, privileged: None, state: None }).await.unwrap();
    let calls = requests_with(&lake, &token);
    assert!(
        calls.iter().any(|(m, p)| m == "POST" && p == "/api/2.0/sql/statements"),
        "the delete read the mask views: {calls:?}"
    );
}

/// A token endpoint (RFC 6749 section 4.4; the client in HTTP Basic, section 2.3.1).
async fn token_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::extract::{Form, State};
    use axum::http::{HeaderMap, StatusCode};
    let issued = Arc::new(Mutex::new(Vec::<String>::new()));
    let handler = |State(issued): State<Arc<Mutex<Vec<String>>>>,
                   headers: HeaderMap,
                   Form(form): Form<HashMap<String, String>>| async move {
        use base64::Engine as _;
        let basic = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .unwrap_or_default();
        let client = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(basic).unwrap_or_default())
            .unwrap_or_default();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials")
            || form.get("scope").map(String::as_str) != Some("all-apis")
        {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_request"})));
        }
        if client != "sp-app-id:sp-S3cret" {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "invalid_client", "error_description": "bad client"})),
            );
        }
        let mut issued = issued.lock().unwrap();
        let token = format!("m2m-{}-{}", std::process::id(), issued.len() + 1);
        issued.push(token.clone());
        (StatusCode::OK, axum::Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600})))
    };
    let app = axum::Router::new().route("/oidc/v1/token", axum::routing::post(handler)).with_state(issued.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = format!("http://{}/oidc", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (authority, issued)
}

#[tokio::test]
async fn oauth_m2m_gets_a_token_that_reaches_the_workspace() {
    let Some(lake) = minilake() else { return };
    let (authority, issued) = token_endpoint().await;
    let (wh, catalog) = (warehouse(&lake).await, unique("wcat"));
    let mut m2m = payload(&lake, &wh, &catalog, "unused", true);
    let config = m2m["config"].as_object_mut().unwrap();
    config.remove("token");
    config.insert("authenticationType".into(), json!("oAuthM2M"));
    config.insert(
        "oAuthClientConfig".into(),
        json!({"clientId": "sp-app-id", "clientSecret": "sp-S3cret", "authorityUrl": authority}),
    );
    for _ in 0..2 {
        let found = run(&m2m, Phase::Request).await.unwrap();
        assert_eq!(found[CONNECTION].0, TestStatus::Passed, "{found:?}");
    }
    let issued = issued.lock().unwrap().clone();
    assert_eq!(issued.len(), 1, "one token for both runs (cached until shortly before it expires)");
    assert!(requests_with(&lake, &issued[0]).len() >= 4, "minilake received the issued token");

    m2m["config"]["oAuthClientConfig"]["clientSecret"] = json!("Wrong-S3cret");
    let (status, message) = &run(&m2m, Phase::Request).await.unwrap()[CONNECTION];
    assert_eq!(*status, TestStatus::Failed);
    let message = message.as_deref().unwrap();
    assert!(message.contains("invalid_client") && !message.contains("Wrong-S3cret"), "{message}");
}

/// tinyproxy (Debian's package; `cargo xtask ci` installs it and names it in
/// `WARDEN_TEST_TINYPROXY`) on a free port, with basic authentication when `user` is given;
/// answers its address and log file.
fn tinyproxy(dir: &std::path::Path, user: Option<(&str, &str)>) -> Option<(String, PathBuf, std::process::Child)> {
    let Ok(binary) = std::env::var("WARDEN_TEST_TINYPROXY") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_TINYPROXY");
        eprintln!("WARDEN_TEST_TINYPROXY is not set: skipped");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = dir.join("tinyproxy.log");
    let mut conf = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 20\nConnectPort {}\n",
        log.display(),
        0
    );
    conf = conf.replace("ConnectPort 0\n", "");
    if let Some((user, password)) = user {
        conf.push_str(&format!("BasicAuth {user} {password}\n"));
    }
    let path = dir.join("tinyproxy.conf");
    std::fs::write(&path, conf).unwrap();
    let child = std::process::Command::new(binary).args(["-d", "-c"]).arg(&path).spawn().unwrap();
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Some((format!("127.0.0.1:{port}"), log, child))
}

#[tokio::test]
async fn every_call_goes_through_the_proxy_with_and_without_basic_auth() {
    let Some(lake) = minilake() else { return };
    let (wh, catalog) = (warehouse(&lake).await, unique("wcat"));
    for user in [None, Some(("warden", "Pr0xy-pass"))] {
        let dir = tempfile::tempdir().unwrap();
        let Some((address, log, mut child)) = tinyproxy(dir.path(), user) else { return };
        let (host, port) = address.split_once(':').unwrap();
        let mut through = payload(&lake, &wh, &catalog, &unique("dapi"), true);
        let mut proxy = json!({"host": host, "port": port.parse::<u16>().unwrap()});
        if let Some((name, password)) = user {
            proxy["username"] = json!(name);
            proxy["password"] = json!(password);
        }
        through["config"]["proxyOptions"] = proxy.clone();
        let found = run(&through, Phase::Request).await.unwrap();
        assert_eq!(found[CONNECTION].0, TestStatus::Passed, "{found:?}");
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        let target = format!("CONNECT 127.0.0.1:{}", lake.url.port().unwrap());
        assert!(logged.contains(&target), "the proxy carried the calls: {logged}");
        if user.is_some() {
            through["config"]["proxyOptions"]["password"] = json!("wrong-pass");
            let (status, message) = &run(&through, Phase::Request).await.unwrap()[CONNECTION];
            assert_eq!(*status, TestStatus::Failed, "{message:?}");
            assert!(!message.as_deref().unwrap().contains("wrong-pass"), "{message:?}");
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
