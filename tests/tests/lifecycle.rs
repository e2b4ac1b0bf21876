//! The lifecycle under failure and load, against the started binary: kill -9 while jobs
//! run, graceful shutdown that finishes or parks jobs, many simultaneous PUTs on one
//! integration, and two processes sharing one PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, Server, backends, fresh_database, redshift};
use serde_json::{Value, json};

const TRANSITIONAL: [&str; 4] = ["creating", "editing", "deleting", "migrating"];

async fn post(server: &Server, payload: &Value) -> u64 {
    let answer = server.call("POST", "/integrations", Some(payload)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body["id"].as_u64().unwrap()
}

async fn enabled(server: &Server, payload: &Value) -> u64 {
    let id = post(server, payload).await;
    assert_eq!(server.settled(id).await["status"], "enabled");
    id
}

async fn statuses(server: &Server) -> HashMap<u64, Value> {
    let all = server.call("GET", "/integrations?includeDeleted=true", None).await;
    all.body.as_array().unwrap().iter().map(|i| (i["id"].as_u64().unwrap(), i.clone())).collect()
}

/// Waits until no integration is transitional: at once on SQLite (recovery runs before
/// `/readyz`), within a few job leases on PostgreSQL (another process may be alive, so a
/// job is taken over only when its lease runs out). The callers start the server with a
/// 3 s lease, so 12 s fails the test if that setting is not honoured (the default is 30 s).
async fn until_settled(server: &Server, backend: &Backend) -> HashMap<u64, Value> {
    let deadline = Instant::now() + Duration::from_secs(12);
    loop {
        let now = statuses(server).await;
        let busy: Vec<_> = now.values().filter(|i| TRANSITIONAL.contains(&i["status"].as_str().unwrap())).collect();
        if busy.is_empty() {
            return now;
        }
        assert!(
            matches!(backend, Backend::Postgres(_)) && Instant::now() < deadline,
            "{}: still transitional after the restart: {busy:?}",
            backend.name()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn after_kill_9_no_integration_is_left_transitional_and_nothing_is_lost() {
    for backend in backends().await {
        let mut server = Server::start_with(&backend, &["--job-lease-secs", "3"]).await;
        let steady = enabled(&server, &redshift("steady.example.com", false)).await;
        // Changes that never end on their own: the kill always finds them running.
        let editing = enabled(&server, &redshift("hangedit.example.com", false)).await;
        let deleting = enabled(&server, &redshift("hangdelete.example.com", false)).await;
        let mut edit = redshift("hangedit.example.com", false);
        edit["config"]["impersonation"] = json!({"enabled": true});
        assert_eq!(
            server.call("PUT", &format!("/integrations/{editing}"), Some(&edit)).await.body["status"],
            "editing"
        );
        assert_eq!(server.call("DELETE", &format!("/integrations/{deleting}"), None).await.body["status"], "deleting");
        let creating = post(&server, &redshift("hangsetup.example.com", true)).await;
        let before = statuses(&server).await;
        assert_eq!(before[&creating]["status"], "creating");

        server.restart().await; // kill -9, then start on the same store

        let after = until_settled(&server, &backend).await;
        assert_eq!(after.len(), 4, "{}: an integration was lost", backend.name());
        let status = |id: u64| after[&id]["status"].as_str().unwrap().to_owned();
        let message = |id: u64| after[&id]["message"].as_str().unwrap_or_default().to_owned();
        assert_eq!(status(steady), "enabled");
        assert_eq!(status(creating), "createError", "{}", backend.name());
        assert!(message(creating).contains("cleanup script"), "{}", message(creating));
        assert!(message(creating).contains("Privileged credentials are never stored"), "{}", message(creating));
        assert_eq!(status(editing), "editError");
        assert!(message(editing).contains("previous configuration is still in force"));
        assert_eq!(after[&editing]["config"]["impersonation"]["enabled"], false, "the edit did not half-apply");
        assert_eq!(status(deleting), "deleteError");
        for id in [steady, editing, deleting, creating] {
            assert_eq!(after[&id]["config"]["host"], before[&id]["config"]["host"], "{}", backend.name());
        }
        // The recovered integrations work again: the failed create is re-created by PUT.
        let retry =
            server.call("PUT", &format!("/integrations/{creating}"), Some(&redshift("fixed.example.com", true))).await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        assert_eq!(server.settled(creating).await["status"], "enabled");
    }
}

#[tokio::test]
async fn graceful_shutdown_finishes_running_jobs_within_the_grace_and_parks_the_rest() {
    for backend in backends().await {
        let mut server = Server::start_with(&backend, &["--shutdown-grace-secs", "15"]).await;
        let finishing = post(&server, &redshift("slowsetup.example.com", false)).await;
        assert!(server.terminate(), "{}: unclean exit on SIGTERM", backend.name());
        server.restart().await;
        assert_eq!(
            statuses(&server).await[&finishing]["status"],
            "enabled",
            "{}: the job was not finished",
            backend.name()
        );

        let mut server = Server::start_with(&backend, &["--shutdown-grace-secs", "1"]).await;
        let parked = post(&server, &redshift("hangsetup.example.com", true)).await;
        assert!(server.terminate(), "{}: unclean exit on SIGTERM", backend.name());
        assert!(server.logs().contains("parking a job interrupted by the shutdown"), "{}", server.logs());
        server.restart().await;
        let after = statuses(&server).await;
        assert_eq!(after[&parked]["status"], "createError", "{}: the parked job's integration", backend.name());
        assert!(after[&parked]["message"].as_str().unwrap().contains("cleanup script"));
    }
}

#[tokio::test]
async fn of_many_simultaneous_puts_exactly_one_starts_an_edit() {
    for backend in backends().await {
        let server = Arc::new(Server::start(&backend).await);
        let id = enabled(&server, &redshift("slowedit.example.com", false)).await;
        let mut edit = redshift("slowedit.example.com", false);
        edit["config"]["impersonation"] = json!({"enabled": true});
        let mut puts = tokio::task::JoinSet::new();
        for _ in 0..24 {
            let (server, edit) = (Arc::clone(&server), edit.clone());
            puts.spawn(async move { server.call("PUT", &format!("/integrations/{id}"), Some(&edit)).await });
        }
        let mut started = 0;
        let mut refused = 0;
        while let Some(answer) = puts.join_next().await {
            let answer = answer.unwrap();
            match answer.status {
                200 => {
                    assert_eq!(answer.body["status"], "editing");
                    started += 1;
                }
                409 => {
                    assert_eq!(
                        answer.body["message"],
                        format!("Unable to edit integration with ID {id} in current state editing."),
                        "{}",
                        answer.text
                    );
                    refused += 1;
                }
                other => panic!("{}: unexpected {other}: {}", backend.name(), answer.text),
            }
        }
        assert_eq!((started, refused), (1, 23), "{}", backend.name());
        assert_eq!(server.settled(id).await["status"], "enabled");
        let edits = std::fs::read_to_string(server.rehearsal_log_path()).unwrap();
        assert_eq!(edits.lines().filter(|l| l.starts_with("edit ")).count(), 1, "{}: {edits}", backend.name());
    }
}

#[tokio::test]
async fn two_processes_on_one_postgresql_run_each_queued_job_exactly_once() {
    let Ok(admin_url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_POSTGRES_URL");
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let backend = Backend::Postgres(fresh_database(&admin_url).await);
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Arc::new(Server::start_in(&backend, dirs.0.path(), None, &[]).await);
    let b = Arc::new(Server::start_in(&backend, dirs.1.path(), None, &[]).await);
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..40 {
        let server = Arc::clone(if i % 2 == 0 { &a } else { &b });
        posts.spawn(async move { post(&server, &redshift(&format!("scale{i}.example.com"), false)).await });
    }
    let mut ids = Vec::new();
    while let Some(id) = posts.join_next().await {
        ids.push(id.unwrap());
    }
    for id in &ids {
        assert_eq!(a.settled(*id).await["status"], "enabled");
    }
    let mut runs: HashMap<String, Vec<String>> = HashMap::new();
    for server in [&a, &b] {
        let log = std::fs::read_to_string(server.rehearsal_log_path()).unwrap_or_default();
        for line in log.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            if parts[0] == "create" {
                runs.entry(parts[1].to_owned()).or_default().push(parts[2].to_owned());
            }
        }
    }
    assert_eq!(runs.len(), 40, "every create ran: {runs:?}");
    assert!(runs.values().all(|pids| pids.len() == 1), "a job ran twice: {runs:?}");
    let pids: std::collections::HashSet<&String> = runs.values().flatten().collect();
    assert_eq!(pids.len(), 2, "both processes took jobs: {runs:?}");
}

/// Issue 12: a platform that hangs does not keep an integration in a transitional status
/// while its lease is renewed forever: every change has a deadline, after which the
/// integration gets its error status and a message saying what is left to do.
#[tokio::test]
async fn a_hung_change_ends_in_its_error_status_at_the_deadline() {
    let server = Server::start_with(&Backend::Sqlite, &["--change-timeout-secs", "2"]).await;
    let id = post(&server, &redshift("hangsetup.example.com", true)).await;
    let status = server.settled(id).await;
    assert_eq!(status["status"], "createError", "{status}");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("did not finish within 2 s"), "{message}");
    assert!(
        message.contains(&format!("POST /integrations/{id}/scripts/cleanup")),
        "what it made may be left: {message}"
    );
}

/// Issue 12: every check has a deadline from configuration (`--check-timeout-secs`): a check
/// that never answers fails with a timeout, and the request still answers.
#[tokio::test]
async fn a_hung_check_fails_at_the_configured_check_timeout() {
    let server = Server::start_with(&Backend::Sqlite, &["--check-timeout-secs", "1"]).await;
    let answer = server.call("POST", "/integrations?dryRun=true", Some(&redshift("hangcheck.example.com", true))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let tests = answer.body["validationResults"]["validationTests"].as_array().unwrap();
    let hung = tests.iter().find(|t| t["name"] == "Validate automatic: database does not exist").unwrap();
    assert_eq!(hung["status"], "failed", "{hung}");
    assert!(hung["message"].as_str().unwrap().ends_with("The check did not finish within 1 s."), "{hung}");
}
