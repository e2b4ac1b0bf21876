//! Issue 11: the defects a hostile test of the release binary found, reproduced the way they
//! were seen, over HTTP and raw TCP against the started binary: slowloris and connection
//! floods, bodiless 4xx answers, unknown-key amplification, one host under many spellings,
//! a stored secret kept when its destination changes, the race of POST against a
//! force-disable, advice in status messages that must work, and the data directory's modes.
//! (The ones that need a real PostgreSQL as the platform are in `redshift.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::Duration;

use common::{Backend, Server, backends, redshift};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Sends raw bytes and reads the answer until the server closes or 5 s pass.
async fn raw(server: &Server, request: &[u8]) -> String {
    let address = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The JSON body of a raw answer.
fn body_of(answer: &str) -> Value {
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// Opens `n` connections that each send one header line and stop; answers the server's
/// address and the connections.
async fn stall(server: &Server, n: usize) -> (String, Vec<TcpStream>) {
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        idle.push(stream);
    }
    (address, idle)
}

/// Item 3, as it was found: 1,100 sockets that send one header line and stop (more than
/// the default limit of 1,024 open files) do not stop the server, and each is closed at the
/// header deadline.
#[tokio::test]
async fn slowloris_does_not_stop_the_server() {
    // This test process needs the files too.
    let _ = rlimit::increase_nofile_limit(4096);
    let server = Server::start_with(&Backend::Sqlite, &["--header-read-timeout-secs", "3"]).await;
    let (_, mut idle) = stall(&server, 1100).await;
    let health = server.call("GET", "/healthz", None).await;
    assert_eq!(health.status, 200, "/healthz answers while 1,100 sockets stall");

    // The stalled sockets are closed by the server at the header deadline.
    for stream in idle.iter_mut().take(50) {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "a stalled connection is closed after the header deadline");
    }
    drop(idle);

    // The process runs with its open-file limit raised to the hard limit.
    let pid = server.pid().unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let numbers: Vec<&str> = line.split_whitespace().filter(|w| w.chars().all(|c| c.is_ascii_digit())).collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert_eq!(numbers[0], numbers[1], "soft limit raised to the hard limit: {line}");
}

/// Item 3: past the connection cap a new connection is answered 503 with the error body, and
/// the server serves again once the stalled connections are closed.
#[tokio::test]
async fn connections_past_the_cap_get_a_503_body() {
    let server =
        Server::start_with(&Backend::Sqlite, &["--header-read-timeout-secs", "2", "--max-connections", "40"]).await;
    let (address, idle) = stall(&server, 40).await;
    let mut refused = 0;
    for _ in 0..10 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        if answer.starts_with("HTTP/1.1 503") {
            assert_eq!(body_of(&answer)["statusCode"], 503, "{answer}");
            refused += 1;
        }
    }
    assert!(refused >= 5, "connections past the cap are answered 503 with the error body ({refused} were)");
    drop(idle);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.call("GET", "/healthz", None).await.status, 200, "serving again after the deadline");
}

/// Item 9: the answers hyper writes before a request reaches the router carry the error body.
#[tokio::test]
async fn every_error_answer_has_the_error_body() {
    let server = Server::start(&Backend::Sqlite).await;
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let big_headers = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(500_000));
    let cases: [(&str, Vec<u8>, u16); 4] = [
        ("URI too long", long_uri.into_bytes(), 414),
        ("headers too large", big_headers.into_bytes(), 431),
        ("bad Content-Length", b"POST /integrations HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(), 400),
        ("bad header name", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n".to_vec(), 400),
    ];
    for (name, request, status) in cases {
        let answer = raw(&server, &request).await;
        assert!(answer.starts_with(&format!("HTTP/1.1 {status} ")), "{name}: {answer}");
        assert!(answer.to_ascii_lowercase().contains("content-type: application/json"), "{name}: {answer}");
        let body = body_of(&answer);
        assert_eq!(body["statusCode"], status, "{name}: {answer}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}: {answer}");
    }
    assert_eq!(server.call("GET", "/healthz", None).await.status, 200);
}

/// Item 8: a body of thousands of unknown keys lists 100 problems and counts the rest.
#[tokio::test]
async fn unknown_keys_do_not_amplify() {
    let server = Server::start(&Backend::Sqlite).await;
    // About 1 MB: each entry is `"unknownKey000000":1,` (21 bytes).
    let config: serde_json::Map<String, Value> = (0..47_000).map(|i| (format!("unknownKey{i:06}"), json!(1))).collect();
    let payload = json!({"type": "Redshift", "autoBootstrap": false, "config": config});
    let answer = server.call("POST", "/integrations", Some(&payload)).await;
    assert_eq!(answer.status, 400, "{}", &answer.text[..200.min(answer.text.len())]);
    assert_eq!(answer.body["errors"].as_array().unwrap().len(), 101, "100 problems and one counting the rest");
    assert!(answer.text.len() < 64 * 1024, "the error body stays small: {} bytes", answer.text.len());
}

/// Item 6: one host has one spelling; numeric, octal and hexadecimal IPv4 forms are refused.
#[tokio::test]
async fn one_integration_per_host_whatever_its_spelling() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let first = server.call("POST", "/integrations", Some(&redshift("127.0.0.1", false))).await;
        assert_eq!(first.status, 200, "{}", first.text);
        for same in ["localhost", "LOCALHOST.", "::ffff:127.0.0.1"] {
            let answer = server.call("POST", "/integrations", Some(&redshift(same, false))).await;
            assert_eq!(answer.status, 409, "{}: {same} is the same host: {}", backend.name(), answer.text);
        }
        for refused in ["127.1", "2130706433", "0x7f000001", "0177.0.0.1"] {
            let answer = server.call("POST", "/integrations", Some(&redshift(refused, false))).await;
            assert_eq!(answer.status, 400, "{refused}: {}", answer.text);
            assert_eq!(answer.body["errors"][0]["path"], "config.host", "{}", answer.text);
        }
    }
}

/// Item 2 (from the outside): a PUT, dry run or not, that points a stored password at another
/// port or turns TLS off must give the password again; and every dry run is audited.
#[tokio::test]
async fn a_stored_secret_is_not_sent_to_a_new_destination() {
    let server = Server::start(&Backend::Sqlite).await;
    let payload = redshift("secret.example.com", false);
    let id = server.call("POST", "/integrations", Some(&payload)).await.body["id"].as_u64().unwrap();
    server.settled(id).await;
    for (field, value) in [("port", json!(15439)), ("connectArgs", json!("sslmode=disable"))] {
        for query in ["?dryRun=true", ""] {
            let mut moved = payload.clone();
            moved["config"][field] = value.clone();
            moved["config"]["password"] = json!("[REDACTED]");
            let answer = server.call("PUT", &format!("/integrations/{id}{query}"), Some(&moved)).await;
            assert_eq!(answer.status, 400, "{field}{query}: {}", answer.text);
            assert_eq!(answer.body["errors"][0]["path"], "config.password", "{}", answer.text);
            assert!(answer.text.contains(&format!("config.{field} changed")), "{}", answer.text);
        }
    }
    assert_eq!(server.settled(id).await["status"], "enabled", "nothing changed");
    let dry = server.call("PUT", &format!("/integrations/{id}?dryRun=true"), Some(&payload)).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let forced = server.call("DELETE", &format!("/integrations/{id}?forceDisable=true&dryRun=true"), None).await;
    assert_eq!(forced.status, 200, "{}", forced.text);
    let elsewhere = server.call("POST", "/integrations?dryRun=true", Some(&redshift("other.example.com", false))).await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text);
    let removal = server.call("DELETE", &format!("/integrations/{id}?dryRun=true"), None).await;
    assert_eq!(removal.status, 200, "{}", removal.text);

    let actions = audit_actions(&server).await;
    for action in ["update.dryRun", "forceDisable.dryRun", "create.dryRun", "delete.dryRun"] {
        assert!(actions.iter().any(|a| a == action), "{action} is audited: {actions:?}");
    }
}

/// The actions in the audit log of a SQLite test server.
async fn audit_actions(server: &Server) -> Vec<String> {
    use sqlx::{Connection as _, Row as _};
    let url = format!("sqlite://{}?mode=ro", server.data_dir().join("warden.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT action FROM audit_log ORDER BY id").fetch_all(&mut db).await.unwrap();
    rows.iter().map(|r| r.get::<String, _>("action")).collect()
}

/// Item 5: POST racing a force-disable of the same host never answers 500.
#[tokio::test]
async fn post_racing_force_disable_never_answers_500() {
    for backend in backends().await {
        let server = std::sync::Arc::new(Server::start(&backend).await);
        let mut tasks = Vec::new();
        for worker in 0..4 {
            let server = std::sync::Arc::clone(&server);
            tasks.push(tokio::spawn(async move {
                let mut statuses = Vec::new();
                for round in 0..40 {
                    if worker % 2 == 0 {
                        let answer =
                            server.call("POST", "/integrations", Some(&redshift("race.example.com", false))).await;
                        statuses.push(answer.status);
                    } else {
                        let list = server.call("GET", "/integrations", None).await.body;
                        for item in list.as_array().into_iter().flatten() {
                            let id = item["id"].as_u64().unwrap();
                            let path = format!("/integrations/{id}?forceDisable=true");
                            statuses.push(server.call("DELETE", &path, None).await.status);
                        }
                    }
                    let _ = round;
                }
                statuses
            }));
        }
        for task in tasks {
            for status in task.await.unwrap() {
                assert!(status < 500, "{}: a race answered {status}", backend.name());
            }
        }
    }
}

/// Item 7: every status message's advice is a request that works. Each error status is
/// reached through the API, and every request its message names is sent (as a dry run where
/// it would change something) and must be accepted.
#[tokio::test]
async fn every_status_messages_advice_is_a_request_that_works() {
    let mut server = Server::start(&Backend::Sqlite).await;
    let auto = |host: &str| redshift(host, true);
    let privileged = json!({"config": {"authenticationType": "userPassword", "username": "awsuser", "password": "S3CRET-privileged-pw"}});
    let mut cases: Vec<(u64, Value)> = Vec::new();

    // createError after a failed setup (its rollback failing too), and after a failed one
    // that rolled back; editError; deleteError.
    for host in ["failsetup-failrollback.a.example.com", "failsetup.b.example.com"] {
        let id = server.call("POST", "/integrations", Some(&auto(host))).await.body["id"].as_u64().unwrap();
        assert_eq!(server.settled(id).await["status"], "createError");
        cases.push((id, auto(host)));
    }
    let edit_host = "failedit-faildelete.c.example.com";
    let id = server.call("POST", "/integrations", Some(&auto(edit_host))).await.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled");
    let mut edited = auto(edit_host);
    edited["config"]["impersonation"] = json!({"enabled": true});
    assert_eq!(server.call("PUT", &format!("/integrations/{id}"), Some(&edited)).await.status, 200);
    assert_eq!(server.settled(id).await["status"], "editError");
    cases.push((id, auto(edit_host)));
    let deleting = server.call("DELETE", &format!("/integrations/{id}"), Some(&privileged)).await;
    assert_eq!(deleting.status, 200, "{}", deleting.text);
    assert_eq!(server.settled(id).await["status"], "deleteError");
    cases.push((id, auto(edit_host)));

    // Interrupted create, edit and delete (kill -9, then recovery), automatic and manual.
    let mut interrupted = Vec::new();
    for (host, auto_setup) in [("hangsetup.d.example.com", true), ("hangsetup.e.example.com", false)] {
        let payload = redshift(host, auto_setup);
        let id = server.call("POST", "/integrations", Some(&payload)).await.body["id"].as_u64().unwrap();
        interrupted.push((id, payload));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart().await;
    for (host, auto_setup) in
        [("hangedit-hangdelete.f.example.com", true), ("hangedit-hangdelete.g.example.com", false)]
    {
        let payload = redshift(host, auto_setup);
        let id = server.call("POST", "/integrations", Some(&payload)).await.body["id"].as_u64().unwrap();
        assert_eq!(server.settled(id).await["status"], "enabled");
        let mut edited = payload.clone();
        edited["config"]["impersonation"] = json!({"enabled": true});
        assert_eq!(server.call("PUT", &format!("/integrations/{id}"), Some(&edited)).await.status, 200);
        interrupted.push((id, payload));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart().await;
    let (id, payload) = interrupted[2].clone();
    assert_eq!(server.settled(id).await["status"], "editError");
    let body = payload["autoBootstrap"].as_bool().unwrap().then(|| privileged.clone());
    assert_eq!(server.call("DELETE", &format!("/integrations/{id}"), body.as_ref()).await.status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart().await;
    cases.extend(interrupted);

    let mut followed = 0;
    for (id, payload) in cases {
        let status = server.settled(id).await;
        let message = status["message"].as_str().unwrap_or_else(|| panic!("integration {id} has no message: {status}"));
        let automatic = payload["autoBootstrap"].as_bool().unwrap();
        for (method, path) in advice(message) {
            let (path, body) = match method.as_str() {
                "PUT" => (format!("{path}?dryRun=true"), Some(payload.clone())),
                "POST" if path.ends_with("/scripts/edit") => (path, Some(payload.clone())),
                "DELETE" => (format!("{path}?dryRun=true"), automatic.then(|| privileged.clone())),
                _ => (path, None),
            };
            let answer = server.call(&method, &path, body.as_ref()).await;
            assert_eq!(
                answer.status, 200,
                "{} ({message}): {method} {path} answered {}",
                status["status"], answer.text
            );
            followed += 1;
        }
    }
    assert!(followed >= 15, "every message names at least one request ({followed} followed)");
}

/// The requests a status message names: `METHOD /integrations/...`.
fn advice(message: &str) -> Vec<(String, String)> {
    let words: Vec<&str> = message.split_whitespace().collect();
    words
        .windows(2)
        .map(|w| (w[0].trim_start_matches('('), w[1]))
        .filter(|(method, path)| {
            ["GET", "POST", "PUT", "DELETE"].contains(method) && path.starts_with("/integrations/")
        })
        .map(|(method, path)| (method.to_owned(), path.trim_end_matches(['.', ',', ')', ';']).to_owned()))
        .collect()
}

/// Item 12: the data directory is 0700 and the database files and master key are 0600.
#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    // A data directory made by hand with the usual umask (0755): Warden makes it private.
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("warden-data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start_in(&Backend::Sqlite, &dir, Some(temp), &[]).await;
    server.call("POST", "/integrations", Some(&redshift("modes.example.com", false))).await;
    let mode = |name: &str| {
        let path = if name.is_empty() { server.data_dir().to_path_buf() } else { server.data_dir().join(name) };
        std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).ok()
    };
    assert_eq!(mode(""), Some(0o700), "the data directory");
    for file in ["warden.db", "warden.db-wal", "warden.db-shm", "master.key", "warden.lock"] {
        if let Some(mode) = mode(file) {
            assert_eq!(mode, 0o600, "{file}");
        } else {
            assert_ne!(file, "warden.db", "the database exists");
        }
    }
}
