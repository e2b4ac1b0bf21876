//! `warden keys rotate-master` through the binary, with the key in the data directory's
//! `master.key` and a server running under load: every stored secret is sealed again with a
//! new key while PUTs keep writing, the server takes the new key up without a restart, a
//! server killed mid-rotation and a rotation begun twice lose nothing, `--finish` retires the
//! old key, and afterwards only the new key opens the store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Backend, REHEARSAL, Server, redshift};
use serde_json::json;

fn rotate(data_dir: &Path, finish: bool) -> Output {
    let mut command = std::process::Command::new(REHEARSAL);
    command.args(["keys", "rotate-master", "--data-dir"]).arg(data_dir);
    if finish {
        command.arg("--finish");
    }
    command.env_remove("WARDEN_MASTER_KEY").env_remove("WARDEN_MASTER_KEY_PREVIOUS").output().unwrap()
}

fn said(output: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    text
}

/// Every integration's removal validates with its stored password (the rehearsal's
/// connection test fails on a password holding `wrong`, and the store must open it first).
async fn every_secret_opens(server: &Server, ids: &[u64]) {
    for id in ids {
        let dry = server.call("DELETE", &format!("/integrations/{id}?dryRun=true"), None).await;
        assert_eq!(dry.status, 200, "integration {id}: {}", dry.text);
    }
}

#[tokio::test]
async fn the_master_key_rotates_under_load_and_survives_a_kill() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().to_path_buf();
    let server = Server::start_binary_with_env(REHEARSAL, &Backend::Sqlite, temp, &[("WARDEN_MASTER_KEY", "")]).await;
    let old_key = std::fs::read_to_string(data_dir.join("master.key")).unwrap();
    let mut ids = Vec::new();
    for n in 0..12 {
        let created =
            server.call("POST", "/integrations", Some(&redshift(&format!("rotate{n}.example.com"), false))).await;
        let id = created.body["id"].as_u64().unwrap();
        assert_eq!(server.settled(id).await["status"], "enabled");
        ids.push(id);
    }

    // Load: PUTs that write sealed secrets while the rotation runs.
    let server = Arc::new(tokio::sync::Mutex::new(server));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (server, stop, id) = (Arc::clone(&server), Arc::clone(&stop), ids[0]);
        tokio::spawn(async move {
            let mut port = 5440;
            while !stop.load(Ordering::SeqCst) {
                let mut payload = redshift("rotate0.example.com", false);
                payload["config"]["port"] = json!(port);
                port += 1;
                let server = server.lock().await;
                let answer = server.call("PUT", &format!("/integrations/{id}"), Some(&payload)).await;
                assert!(answer.status == 200 || answer.status == 409, "{}", answer.text);
                server.settled(id).await;
            }
        })
    };
    let first = said(&rotate(&data_dir, false));
    assert!(first.contains("Sealed 1") || first.contains("again with the new master key"), "{first}");
    let new_key = std::fs::read_to_string(data_dir.join("master.key")).unwrap();
    assert_ne!(new_key.trim(), old_key.trim(), "a new key");
    assert_eq!(std::fs::read_to_string(data_dir.join("master.key.previous")).unwrap().trim(), old_key.trim());
    // Running it again goes on where it stopped (nothing is left, or what the load wrote).
    said(&rotate(&data_dir, false));
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    let mut server = Arc::try_unwrap(server).ok().unwrap().into_inner();
    every_secret_opens(&server, &ids).await;

    // A server killed while the rotation is under way (the old key still accepted) reads
    // everything after its restart.
    server.kill9();
    server.restart().await;
    every_secret_opens(&server, &ids).await;

    let finished = said(&rotate(&data_dir, true));
    assert!(finished.contains("Rotation finished"), "{finished}");
    assert!(!data_dir.join("master.key.previous").exists());
    server.restart().await;
    every_secret_opens(&server, &ids).await;

    // Only the new key opens the store now: a server given the old key cannot read a secret.
    server.kill9();
    std::fs::write(data_dir.join("master.key"), old_key.trim()).unwrap();
    let cannot = std::process::Command::new(REHEARSAL)
        .args(["backup"])
        .arg(data_dir.join("check.db"))
        .arg("--data-dir")
        .arg(&data_dir)
        .env_remove("WARDEN_MASTER_KEY")
        .output()
        .unwrap();
    assert!(cannot.status.success(), "a backup needs no key: {cannot:?}");
    let restore_dir = tempfile::tempdir().unwrap();
    std::fs::write(restore_dir.path().join("master.key"), old_key.trim()).unwrap();
    let refused = std::process::Command::new(REHEARSAL)
        .args(["restore"])
        .arg(data_dir.join("check.db"))
        .arg("--data-dir")
        .arg(restore_dir.path())
        .env_remove("WARDEN_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!refused.status.success(), "the old key still opens the secrets");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("another master key"), "{refused:?}");
}
