//! API keys through the binary: `warden keys create --expires-at`, `keys list` and
//! `keys revoke`. An expiring key works until its time and not after (also when the server
//! remembers it); a revoked key is refused by every process on one PostgreSQL before the
//! 5 s a remembered key would otherwise last (the revocation is notified), and by a SQLite
//! server within those 5 s; nothing prints a key's value but `create`, once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{Backend, MASTER_KEY, REHEARSAL, Server, backends};

fn keys(args: &[&str], server: &Server, backend: &Backend) -> Output {
    let mut command = std::process::Command::new(REHEARSAL);
    command.arg("keys").args(args).arg("--data-dir").arg(server.data_dir()).env("WARDEN_MASTER_KEY", MASTER_KEY);
    if let Backend::Postgres(url) = backend {
        command.arg("--database-url").arg(url);
    }
    command.env_remove("WARDEN_DATABASE_URL").output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Waits until `key` is refused by `server`, failing after `within`.
async fn refused_within(server: &Server, key: &str, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    loop {
        let status = server.send("GET", "/integrations", Some(key), None).await.status;
        if status == 401 {
            return;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "{what}: the key still works after {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keys_expire_and_are_revoked() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        // An expiring key: works now (and is remembered), refused once its time has passed.
        let soon = warden_model::time::rfc3339(warden_model::time::now_millis() + 3000);
        let expiring = stdout(&keys(
            &["create", "--name", "temporary", "--permission", "APPLICATION_ADMIN", "--expires-at", &soon],
            &server,
            &backend,
        ));
        assert!(expiring.starts_with("wdn_"), "{expiring}");
        assert_eq!(server.send("GET", "/integrations", Some(&expiring), None).await.status, 200);
        refused_within(&server, &expiring, Duration::from_secs(10), "an expired key").await;

        let past = keys(
            &["create", "--permission", "APPLICATION_ADMIN", "--expires-at", "2020-01-01T00:00:00Z"],
            &server,
            &backend,
        );
        assert!(!past.status.success());
        assert!(String::from_utf8_lossy(&past.stderr).contains("has passed"), "{past:?}");

        // A revoked key.
        let ops = stdout(&keys(&["create", "--name", "ops", "--permission", "APPLICATION_ADMIN"], &server, &backend));
        assert_eq!(server.send("GET", "/integrations", Some(&ops), None).await.status, 200);
        let listed = stdout(&keys(&["list"], &server, &backend));
        assert!(!listed.contains(&ops) && !listed.contains(&expiring), "a key's value in the list: {listed}");
        let line = listed.lines().find(|l| l.contains("\tops\t")).unwrap_or_else(|| panic!("{listed}"));
        let id = line.split('\t').next().unwrap();
        assert!(listed.lines().any(|l| l.contains("\ttemporary\t") && l.contains(&soon[..16])), "{listed}");
        assert_eq!(stdout(&keys(&["revoke", id], &server, &backend)), format!("API key {id} revoked."));
        // SQLite: the CLI is another process that no notification joins to the server, so a
        // remembered key lasts up to its 5 s. PostgreSQL: the revocation is notified.
        refused_within(&server, &ops, Duration::from_secs(8), backend.name()).await;
        let again = keys(&["revoke", id], &server, &backend);
        assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("no API key"));
        let listed = stdout(&keys(&["list"], &server, &backend));
        let line = listed.lines().find(|l| l.contains("\tops\t")).unwrap();
        assert!(!line.ends_with("\t-"), "the revocation time is listed: {line}");
    }
}

#[tokio::test]
async fn a_revocation_reaches_every_process_on_postgresql_before_a_remembered_key_would_lapse() {
    for backend in backends().await.into_iter().filter(|b| matches!(b, Backend::Postgres(_))) {
        let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = Server::start_in(&backend, dirs.0.path(), None, &[]).await;
        let b = Server::start_in(&backend, dirs.1.path(), None, &[]).await;
        let key = stdout(&keys(&["create", "--name", "shared", "--permission", "APPLICATION_ADMIN"], &a, &backend));
        // Both processes remember the key.
        for server in [&a, &b] {
            assert_eq!(server.send("GET", "/integrations", Some(&key), None).await.status, 200);
        }
        let listed = stdout(&keys(&["list"], &a, &backend));
        let id = listed.lines().find(|l| l.contains("\tshared\t")).unwrap().split('\t').next().unwrap().to_owned();
        stdout(&keys(&["revoke", &id], &a, &backend));
        // Well under the 5 s a remembered key lasts without the notification.
        for server in [&a, &b] {
            refused_within(server, &key, Duration::from_secs(3), "on PostgreSQL").await;
        }
    }
}
