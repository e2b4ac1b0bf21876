//! `warden backup` and `warden restore` through the binary: a snapshot taken while the server
//! serves round-trips a store with secrets and audit entries (the restored server shows the
//! same integrations and history, and opens the secrets to validate a removal); a restore
//! refuses a backup sealed with another master key, a store that holds integrations without
//! `--force`, a file that is not a Warden store, and a running server; a backup refuses to
//! overwrite a file, and on PostgreSQL says how to use pg_dump.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::path::Path;
use std::process::Output;

use common::{ADMIN_KEY, Backend, MASTER_KEY, REHEARSAL, Server, redshift};
use serde_json::{Value, json};

fn warden(args: &[&str], data_dir: &Path, master_key: &str) -> Output {
    std::process::Command::new(REHEARSAL)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("WARDEN_MASTER_KEY", master_key)
        .env_remove("WARDEN_DATABASE_URL")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// What the server shows of its store: every integration and the whole audit log.
async fn shown(server: &Server) -> (Value, Value) {
    let integrations = server.call("GET", "/integrations?includeDeleted=true", None).await.body;
    let audit = server.call("GET", "/audit?limit=1000", None).await.body;
    (integrations, audit)
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_integrations_secrets_and_history() {
    let mut server = Server::start(&Backend::Sqlite).await;
    let data_dir = server.data_dir().to_path_buf();
    let mut kept = redshift("kept.example.com", false);
    kept["labels"] = json!({"name": "kept"});
    let kept_id = server.call("POST", "/integrations", Some(&kept)).await.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(kept_id).await["status"], "enabled");
    let other = server.call("POST", "/integrations", Some(&redshift("failsetup.example.com", true))).await;
    let other_id = other.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(other_id).await["status"], "createError");
    kept["config"]["port"] = json!(5440);
    assert_eq!(server.call("PUT", &format!("/integrations/{kept_id}"), Some(&kept)).await.status, 200);
    server.settled(kept_id).await;
    let before = shown(&server).await;

    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("warden.backup");
    let file_text = file.to_str().unwrap();
    let taken = warden(&["backup", file_text], &data_dir, MASTER_KEY);
    assert!(taken.status.success(), "{}", text(&taken));
    assert!(text(&taken).contains("Backed up 2 integrations"), "{}", text(&taken));
    assert!(text(&taken).contains("master key"), "the output says to keep the master key: {}", text(&taken));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = warden(&["backup", file_text], &data_dir, MASTER_KEY);
    assert!(!again.status.success() && text(&again).contains("exists already"), "{}", text(&again));
    let raw = std::fs::read(&file).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("S3CRET"), "a secret in clear in the backup");

    // While the server runs, a restore is refused.
    let busy = warden(&["restore", file_text, "--force"], &data_dir, MASTER_KEY);
    assert!(!busy.status.success() && text(&busy).contains("another warden process"), "{}", text(&busy));

    // The store is lost; the backup brings it back.
    assert!(server.terminate(), "{}", server.logs());
    for name in ["warden.db", "warden.db-wal", "warden.db-shm"] {
        let _ = std::fs::remove_file(data_dir.join(name));
    }
    let wrong_key = "ff".repeat(32);
    let refused = warden(&["restore", file_text], &data_dir, &wrong_key);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("sealed with another master key"), "{}", text(&refused));
    let not_a_store = backups.path().join("not-a-store");
    std::fs::write(&not_a_store, b"hello").unwrap();
    let garbage = warden(&["restore", not_a_store.to_str().unwrap()], &data_dir, MASTER_KEY);
    assert!(!garbage.status.success() && text(&garbage).contains("cannot be restored"), "{}", text(&garbage));
    let restored = warden(&["restore", file_text], &data_dir, MASTER_KEY);
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(text(&restored).contains("Restored 2 integrations"), "{}", text(&restored));

    server.restart().await;
    let after = shown(&server).await;
    assert_eq!(after.0, before.0, "the integrations as they were");
    assert_eq!(after.1, before.1, "the audit log as it was");
    // The secrets open: a removal validates with the stored password.
    let removed = server.call("DELETE", &format!("/integrations/{kept_id}"), None).await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(server.settled(kept_id).await["status"], "deleted");

    // A store that holds integrations is replaced only with --force.
    assert!(server.terminate());
    let occupied = warden(&["restore", file_text], &data_dir, MASTER_KEY);
    assert!(!occupied.status.success() && text(&occupied).contains("--force"), "{}", text(&occupied));
    let forced = warden(&["restore", file_text, "--force"], &data_dir, MASTER_KEY);
    assert!(forced.status.success(), "{}", text(&forced));
    server.restart().await;
    let status = server.send("GET", &format!("/integrations/{kept_id}/status"), Some(ADMIN_KEY), None).await;
    assert_eq!(status.body["status"], "enabled", "the backup's state again: {}", status.text);
}

#[test]
fn on_postgresql_backup_says_how_to_use_pg_dump() {
    let data = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(REHEARSAL)
        .args(["backup", "/tmp/never-written", "--database-url", "postgres://warden:secret-pw@db.example.com/warden"])
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = text(&output);
    assert!(said.contains("pg_dump --format=custom") && said.contains("pg_restore"), "{said}");
    assert!(!said.contains("secret-pw"), "the database password in the advice: {said}");
    assert!(!Path::new("/tmp/never-written").exists());
}
