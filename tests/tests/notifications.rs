//! Being told instead of polling: webhooks and recurring validation's patience with transient
//! faults, through the `warden` binary with the rehearsal platform.
//!
//! - A receiver that is down when the changes happen gets each status change once, signed
//!   (HMAC-SHA256 over `<timestamp>.<body>` with the shared secret), in order, once it is up;
//!   the failed attempts are recorded (`GET /webhooks/deliveries`). On SQLite and PostgreSQL.
//! - A transient fault (the platform unreachable) injected into one recurring check is
//!   retried and does not turn the integration red; one that outlasts the retries does, with
//!   a message that says it was transient.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{Server, backends, redshift};
use hmac::{KeyInit as _, Mac as _};
use serde_json::Value;
use warden_e2e::rehearsal::FAULTS_ENV;

const SECRET: &str = "test-webhook-secret-0123456789";

/// One delivery as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    event_id: i64,
    signature: String,
    body: Bytes,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let event_id = header("x-warden-event-id").parse().unwrap_or(-1);
    inbox.lock().unwrap().push(Received { event_id, signature: header("x-warden-signature"), body });
    StatusCode::NO_CONTENT
}

/// Starts the receiver on `listener`.
fn start_receiver(listener: tokio::net::TcpListener, inbox: Inbox) {
    let router = Router::new().route("/hook", post(receive)).with_state(inbox);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
}

/// Whether `signature` (`t=<secs>,v1=<hex>`) signs `body` with the secret.
fn signed(signature: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = signature.strip_prefix("t=").and_then(|rest| rest.split_once(",v1=")) else { return false };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    warden_model::hex::encode(&mac.finalize().into_bytes()) == v1
}

/// The status changes of `id` in the audit log, as (entry id, status).
async fn status_changes(server: &Server, id: u64) -> Vec<(i64, String)> {
    let audit = server.call("GET", &format!("/audit?integrationId={id}"), None).await;
    audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| {
            let change = entry["changes"].as_array()?.iter().find(|c| c["path"] == "status")?;
            Some((entry["id"].as_i64()?, change["after"].as_str()?.to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_every_status_change_once_signed_and_in_order() {
    for backend in backends().await {
        // The receiver's port is bound now (so no other test can take it) but listened on
        // only later: until then a connection is refused and deliveries fail.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = socket.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/hook");
        let server = Server::start_binary_with_env_and_args(
            common::REHEARSAL,
            &backend,
            tempfile::tempdir().unwrap(),
            &[("WARDEN_WEBHOOK_SECRET", SECRET)],
            &["--webhook-url", &url, "--webhook-first-retry-ms", "100"],
        )
        .await;

        let created = server.call("POST", "/integrations", Some(&redshift("hooked.example.com", false))).await;
        let id = created.body["id"].as_u64().unwrap();
        assert_eq!(server.settled(id).await["status"], "enabled");
        let failed = server.call("POST", "/integrations", Some(&redshift("failsetup.example.com", true))).await;
        let failed_id = failed.body["id"].as_u64().unwrap();
        assert_eq!(server.settled(failed_id).await["status"], "createError");

        // While the receiver is down, the first delivery fails and is recorded as pending.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let record = server.call("GET", "/webhooks/deliveries", None).await;
            assert_eq!(record.status, 200, "{}", record.text);
            let retried = record.body.as_array().unwrap().iter().any(|d| {
                d["state"] == "pending"
                    && d["attempts"].as_i64() >= Some(2)
                    && d["lastError"] == "could not connect to the receiver"
            });
            if retried {
                break;
            }
            assert!(Instant::now() < deadline, "{}: no failed attempt recorded: {}", backend.name(), record.text);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // The receiver comes up: every status change arrives once, in order, signed.
        let inbox: Inbox = Arc::default();
        start_receiver(socket.listen(64).unwrap(), Arc::clone(&inbox));
        let mut expected = status_changes(&server, id).await;
        expected.extend(status_changes(&server, failed_id).await);
        expected.sort();
        assert_eq!(expected.len(), 4, "creating and enabled, creating and createError: {expected:?}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while inbox.lock().unwrap().len() < expected.len() {
            assert!(Instant::now() < deadline, "{}: got {:?}", backend.name(), inbox.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await; // a repeat would arrive by now
        let got = inbox.lock().unwrap().clone();
        let ids: Vec<i64> = got.iter().map(|r| r.event_id).collect();
        assert_eq!(
            ids,
            expected.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            "{}: once each, in order",
            backend.name()
        );
        for received in &got {
            assert!(signed(&received.signature, &received.body), "a bad signature: {received:?}");
            let event: Value = serde_json::from_slice(&received.body).unwrap();
            let (_, status) = expected.iter().find(|(id, _)| *id == received.event_id).unwrap();
            assert_eq!(event["status"], status.as_str(), "{event}");
            assert_eq!(event["eventId"], received.event_id);
            assert_eq!(event["integrationType"], "Redshift");
            assert!(!String::from_utf8_lossy(&received.body).contains("S3CRET"), "a secret in a webhook body");
        }
        let broken: Value = got
            .iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
            .find(|e| e["status"] == "createError")
            .unwrap();
        assert_eq!(broken["previousStatus"], "creating");
        assert!(broken["message"].as_str().unwrap().contains("Fix the cause"), "{broken}");

        let record = server.call("GET", "/webhooks/deliveries", None).await;
        let deliveries = record.body.as_array().unwrap();
        assert_eq!(deliveries.len(), 4, "{}", record.text);
        assert!(deliveries.iter().all(|d| d["state"] == "delivered" && d["url"] == url.as_str()), "{}", record.text);
        assert!(deliveries.iter().any(|d| d["attempts"].as_i64() >= Some(2)), "{}", record.text);
        assert_eq!(server.send("GET", "/webhooks/deliveries", None, None).await.status, 401);
        let refused = server.call("GET", "/webhooks/deliveries?limit=0", None).await;
        assert_eq!(refused.status, 400, "{}", refused.text);
        assert!(refused.text.contains("limit"), "{}", refused.text);
    }
}

#[tokio::test]
async fn webhooks_without_a_usable_secret_or_url_are_refused_at_start() {
    for (env, args, why) in [
        (vec![], vec!["--webhook-url", "https://hooks.example.com/warden"], "shared secret"),
        (
            vec![("WARDEN_WEBHOOK_SECRET", "short")],
            vec!["--webhook-url", "https://hooks.example.com/warden"],
            "shared secret",
        ),
        (
            vec![("WARDEN_WEBHOOK_SECRET", SECRET)],
            vec!["--webhook-url", "ftp://hooks.example.com"],
            "http:// or https://",
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let output = std::process::Command::new(common::REHEARSAL)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(&args)
            .env_remove("WARDEN_WEBHOOK_SECRET")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert!(!stderr.contains(SECRET), "the secret in an error: {stderr}");
    }
}

#[tokio::test]
async fn a_transient_fault_is_retried_before_an_integration_turns_red() {
    let faults = tempfile::tempdir().unwrap();
    let server = Server::start_binary_with_env_and_args(
        common::REHEARSAL,
        &common::Backend::Sqlite,
        tempfile::tempdir().unwrap(),
        &[(FAULTS_ENV, faults.path().to_str().unwrap())],
        &["--recheck-interval-secs", "1", "--recheck-retries", "2", "--recheck-retry-delay-ms", "100"],
    )
    .await;
    let host = "blip.example.com";
    let created = server.call("POST", "/integrations", Some(&redshift(host, false))).await;
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled");
    let fault = faults.path().join(host);

    // One failed connection: the retry passes, and the integration never turns red.
    std::fs::write(&fault, "1").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&fault).unwrap() != "0" {
        assert!(Instant::now() < deadline, "no recurring check took the fault");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        let status = server.call("GET", &format!("/integrations/{id}/status"), None).await;
        assert_eq!(status.body["status"], "enabled", "a single transient fault turned it red: {}", status.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = server.send("GET", "/metrics", None, None).await.text;
    let failed_connection = metrics.lines().any(|line| {
        line.starts_with("warden_validation_tests_total{")
            && line.contains("basic connection test")
            && line.contains("status=\"failed\"")
            && !line.ends_with(" 0")
    });
    assert!(failed_connection, "the injected fault was not counted:\n{metrics}");
    assert!(status_changes(&server, id).await.iter().all(|(_, s)| s != "recurringValidationError"));

    // A fault that outlasts the retries (three tries in a row) turns it red, saying so.
    std::fs::write(&fault, "3").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status = server.call("GET", &format!("/integrations/{id}/status"), None).await;
        if status.body["status"] == "recurringValidationError" {
            break status.body;
        }
        assert!(Instant::now() < deadline, "three faults in a row did not turn it red: {}", status.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("a transient fault") && message.contains("3 times in a row"), "{message}");
    assert!(message.contains("connection reset by peer"), "{message}");
    let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut shown = shown;
    while shown.body["validationResults"]["status"] != "failed" {
        assert!(Instant::now() < deadline, "{}", shown.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
        shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    }
    let connection = &shown.body["validationResults"]["validationTests"][0];
    assert_eq!(connection["fault"], "transient", "{connection}");
    assert_eq!(connection["platformError"], "could not connect: connection reset by peer (rehearsal fault)");

    // Once the platform answers again, the next round sets it back to enabled.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.call("GET", &format!("/integrations/{id}/status"), None).await.body["status"] != "enabled" {
        assert!(Instant::now() < deadline, "it did not come back to enabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
