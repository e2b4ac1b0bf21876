//! Redshift end to end: the shipped `warden` binary with its real Redshift adapter, driven
//! over HTTP, against the real PostgreSQL server `cargo xtask ci` starts (Redshift speaks
//! its wire protocol). Automatic setup, each validation test failing for its real reason,
//! a failed setup that leaves nothing behind, impersonation edits, delete, the manual flow
//! with the generated scripts, recurring validation, and kill -9 in the middle of a setup.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, SHIPPED, Server};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, Row as _};

/// The test PostgreSQL's superuser, standing in for a Redshift administrator.
struct Cluster {
    admin_url: String,
    host: String,
    port: u16,
    user: String,
    password: String,
}

fn cluster() -> Option<Cluster> {
    let common::PgAdmin { admin_url, host, port, user, password } = common::pg_admin()?;
    Some(Cluster { admin_url, host, port, user, password })
}

static NAMES: AtomicU32 = AtomicU32::new(0);

/// A database name (and so a system user `<name>_system`) no other test uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), NAMES.fetch_add(1, Ordering::SeqCst))
}

impl Cluster {
    fn automatic(&self, database: &str, group: &str, impersonation: bool) -> Value {
        json!({"type": "Redshift", "autoBootstrap": true, "config": {
            "host": self.host, "port": self.port, "database": database, "initialDatabase": "postgres",
            "authenticationType": "userPassword", "username": self.user, "password": self.password,
            "impersonation": {"enabled": impersonation, "role": group}}})
    }

    /// A new privileged user with only `options` (`LOGIN`, `LOGIN CREATEDB`), and an automatic
    /// setup of a new database with it: the setup fails where those privileges end. Answers
    /// (user, database, payload).
    async fn weak_setup(&self, options: &str) -> (String, String, Value) {
        let (weak, database) = (unique("wrs_weak"), unique("wrs_db"));
        self.execute(&format!("CREATE ROLE {weak} {options} PASSWORD 'Weak-Passw0rd'")).await;
        let mut payload = self.automatic(&database, &unique("g"), false);
        payload["config"]["username"] = json!(weak);
        payload["config"]["password"] = json!("Weak-Passw0rd");
        (weak, database, payload)
    }

    fn privileged(&self) -> Value {
        json!({"config": {"authenticationType": "userPassword", "username": self.user, "password": self.password}})
    }

    async fn admin(&self) -> PgConnection {
        PgConnection::connect(&self.admin_url).await.unwrap()
    }

    async fn exists(&self, sql: &str, name: &str) -> bool {
        let mut admin = self.admin().await;
        let row = sqlx::query(AssertSqlSafe(sql.to_owned())).bind(name).fetch_one(&mut admin).await.unwrap();
        row.get::<bool, _>(0)
    }

    async fn database_exists(&self, name: &str) -> bool {
        self.exists("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).await
    }

    async fn role_exists(&self, name: &str) -> bool {
        self.exists("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).await
    }

    async fn execute(&self, sql: &str) {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(&mut self.admin().await).await.unwrap();
    }

    fn url_for(&self, database: &str) -> String {
        format!("{}/{database}", self.admin_url.rsplit_once('/').unwrap().0)
    }
}

async fn shipped(extra: &[&str]) -> Server {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    Server::start_binary(SHIPPED, &Backend::Sqlite, &dir, Some(temp), extra).await
}

fn secret_free(server: &Server, answers: &[&common::Answer], password: &str) {
    for answer in answers {
        assert!(!answer.text.contains(password), "the privileged password reached a response: {}", answer.text);
    }
    assert!(!server.logs().contains(password), "the privileged password reached the log");
    assert!(server.logs().contains("DEBUG"), "the log is at debug level");
    for file in ["warden.db", "warden.db-wal"] {
        if let Ok(bytes) = std::fs::read(server.data_dir().join(file)) {
            assert!(!String::from_utf8_lossy(&bytes).contains(password), "the privileged password is in the store");
        }
    }
}

#[tokio::test]
async fn automatic_setup_edit_and_delete_on_a_real_server() {
    let Some(cluster) = cluster() else { return };
    let server = shipped(&[]).await;
    let (database, group) = (unique("wrs_auto"), unique("wrs_imp"));
    let system = format!("{database}_system");

    let created = server.call("POST", "/integrations", Some(&cluster.automatic(&database, &group, true))).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.body["validationResults"]["status"], "passed", "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    assert!(cluster.database_exists(&database).await);
    assert!(cluster.role_exists(&system).await, "the system account {system} exists");
    assert!(cluster.role_exists(&group).await);
    let mut db = PgConnection::connect(&cluster.url_for(&database)).await.unwrap();
    let schemas: i64 = sqlx::query("SELECT COUNT(*) FROM pg_namespace WHERE nspname LIKE 'warden_%'")
        .fetch_one(&mut db)
        .await
        .unwrap()
        .get(0);
    assert_eq!(schemas, 3);
    drop(db);

    let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(
        shown.body["config"]["username"],
        system.as_str(),
        "Warden stores its system account, not the administrator"
    );
    assert_eq!(shown.body["config"]["password"], "[REDACTED]");
    // The stored system account works: an installed-phase validation connects with it.
    let mut same = cluster.automatic(&database, &group, true);
    same["config"]["username"] = json!(system);
    same["config"]["password"] = json!("[REDACTED]");
    let check = server.call("PUT", &format!("/integrations/{id}?dryRun=true"), Some(&same)).await;
    assert_eq!(check.body["validationResults"]["status"], "passed", "{}", check.text);

    // Impersonation off: the edit script runs with the privileged credentials of the body.
    let off = cluster.automatic(&database, &group, false);
    let edit = server.call("PUT", &format!("/integrations/{id}"), Some(&off)).await;
    assert_eq!((edit.status, edit.body["status"].as_str()), (200, Some("editing")), "{}", edit.text);
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    assert!(!cluster.role_exists(&group).await, "impersonation off drops the group");
    let shown_after = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown_after.body["config"]["username"], system.as_str(), "an edit keeps the system account");

    let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&cluster.privileged())).await;
    assert_eq!(deleted.body["status"], "deleting", "{}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", server.logs());
    assert!(!cluster.database_exists(&database).await, "delete drops the database");
    assert!(!cluster.role_exists(&system).await, "delete drops the system account");
    secret_free(&server, &[&created, &shown, &check, &edit, &shown_after, &deleted], &cluster.password);
}

/// The message of `test` in a create's 422, which must have failed it.
fn failed(answer: &common::Answer, test: &str) -> String {
    assert_eq!(answer.status, 422, "{}", answer.text);
    assert_eq!(answer.body["message"], "Validation of prerequisite setup failed. Unable to create integration.");
    let tests = answer.body["validationResults"]["validationTests"].as_array().unwrap();
    let found = tests.iter().find(|t| t["name"] == test).unwrap_or_else(|| panic!("{test} in {}", answer.text));
    assert_eq!(found["status"], "failed", "{}", answer.text);
    found["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_validation_test_fails_for_its_real_reason() {
    let Some(cluster) = cluster() else { return };
    let server = shipped(&[]).await;

    let mut wrong = cluster.automatic(&unique("wrs_pw"), &unique("g"), false);
    wrong["config"]["password"] = json!("not-the-password");
    let answer = server.call("POST", "/integrations", Some(&wrong)).await;
    let message = failed(&answer, "Initial validation: basic connection test");
    assert!(message.starts_with("Unable to connect to host."), "{message}");
    assert!(message.contains("password authentication failed"), "{message}");
    let skipped = &answer.body["validationResults"]["validationTests"][1];
    assert_eq!(skipped["status"], "skipped", "{}", answer.text);

    let taken = unique("wrs_taken");
    cluster.execute(&format!("CREATE DATABASE {taken}")).await;
    let answer = server.call("POST", "/integrations", Some(&cluster.automatic(&taken, &unique("g"), false))).await;
    let message = failed(&answer, "Validate automatic: database does not exist");
    assert!(message.starts_with("The database already exists."), "{message}");
    cluster.execute(&format!("DROP DATABASE {taken}")).await;

    let group = unique("wrs_group");
    cluster.execute(&format!("CREATE GROUP {group}")).await;
    let answer = server.call("POST", "/integrations", Some(&cluster.automatic(&unique("wrs_g"), &group, true))).await;
    let message = failed(&answer, "Validate automatic: impersonation role does not exist");
    assert!(message.starts_with("Impersonation role already exists."), "{message}");
    cluster.execute(&format!("DROP GROUP {group}")).await;

    let mut okta = cluster.automatic(&unique("wrs_okta"), &unique("g"), false);
    let config = okta["config"].as_object_mut().unwrap();
    config.remove("username");
    config.remove("password");
    config.insert("authenticationType".into(), json!("okta"));
    config.insert(
        "okta".into(),
        json!({"username": "u", "password": "p", "appId": "a", "idpHost": "acme.okta.com", "role": "r"}),
    );
    let answer = server.call("POST", "/integrations", Some(&okta)).await;
    let message = failed(&answer, "Initial validation: basic connection test");
    // Okta sign-in runs (tests/redshift_okta.rs); here it stops before asking Okta, since
    // the host is not a cluster's standard endpoint and connectArgs name no cluster.
    assert!(message.contains("accessKey and okta need the cluster and region"), "{message}");
    assert_eq!(server.call("GET", "/integrations?includeDeleted=true", None).await.body, json!([]));
}

#[tokio::test]
async fn a_setup_that_fails_ends_in_create_error_and_leaves_nothing_behind() {
    let Some(cluster) = cluster() else { return };
    let server = shipped(&[]).await;
    // Without CREATEDB the first statement fails; with CREATEDB but without CREATEROLE the
    // database is made and the user is not, so the cleanup has something to remove.
    for options in ["LOGIN", "LOGIN CREATEDB"] {
        let (weak, database, payload) = cluster.weak_setup(options).await;
        let created = server.call("POST", "/integrations", Some(&payload)).await;
        assert_eq!(created.status, 200, "{}", created.text);
        let id = created.body["id"].as_u64().unwrap();
        let status = server.settled(id).await;
        assert_eq!(status["status"], "createError", "{weak}: {status}");
        let message = status["message"].as_str().unwrap();
        assert!(message.contains("permission denied"), "{weak}: the server's own reason: {message}");
        assert!(message.contains("Warden removed what it had created"), "{weak}: {message}");
        // With CREATEDB the failing statement is CREATE USER, which carries the generated
        // password: the message names the statement but never its literal.
        if options.contains("CREATEDB") {
            assert!(message.contains("while running: CREATE USER"), "{weak}: {message}");
        }
        assert!(!message.contains("PASSWORD '"), "{weak}: a password literal reached the status message: {message}");
        assert!(!server.logs().contains("PASSWORD '"), "{weak}: a password literal reached the log");
        assert!(!cluster.database_exists(&database).await, "{weak}: the database was left behind");
        assert!(!cluster.role_exists(&format!("{database}_system")).await, "{weak}: the user was left behind");
        server.call("DELETE", &format!("/integrations/{id}?forceDisable=true"), None).await;
        cluster.execute(&format!("DROP ROLE {weak}")).await;
    }
}

/// Splits a script answered by the API into (database, SQL) parts, leaving out the
/// statements marked Redshift-only; returns them with the skipped statements.
fn runnable_parts(script: &str, first_database: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut parts = vec![(first_database.to_owned(), String::new())];
    let mut skipped = Vec::new();
    let mut skipping = false;
    for line in script.lines() {
        if let Some(rest) = line.strip_prefix("-- ==== Part ") {
            let database = rest.split("connect to ").nth(1).unwrap().split(" and run").next().unwrap();
            if parts.last().is_some_and(|(_, sql)| sql.trim().is_empty()) {
                parts.pop();
            }
            parts.push((database.to_owned(), String::new()));
            continue;
        }
        if line.starts_with("-- [Redshift only]") {
            skipping = true;
            continue;
        }
        if skipping {
            skipped.push(line.to_owned());
            skipping = !line.ends_with(';');
            continue;
        }
        let sql = &mut parts.last_mut().unwrap().1;
        sql.push_str(line);
        sql.push('\n');
    }
    (parts, skipped)
}

async fn run_script(cluster: &Cluster, server: &Server, path: &str, body: &Value) -> Vec<String> {
    let answer = common::http()
        .post(format!("{}{path}", server.base))
        .header("Authorization", common::ADMIN_KEY)
        .header("Accept", "application/json")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{path}");
    let answer: Value = answer.json().await.unwrap();
    let (parts, skipped) = runnable_parts(answer["script"].as_str().unwrap(), answer["connectTo"].as_str().unwrap());
    for (database, sql) in parts {
        psql(cluster, &database, &sql);
    }
    skipped
}

/// Pipes SQL into `psql` (installed with the PostgreSQL server), as an administrator would,
/// stopping at the first error.
fn psql(cluster: &Cluster, database: &str, sql: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &cluster.url_for(database), "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql (from the postgresql packages) runs the scripts");
    child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "psql failed: {}\n{sql}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn the_manual_flow_with_the_generated_scripts_and_recurring_validation() {
    let Some(cluster) = cluster() else { return };
    let server = shipped(&["--recheck-interval-secs", "1"]).await;
    let (database, user) = (unique("wrs_manual"), unique("wrs_sys"));
    let manual = json!({"type": "Redshift", "autoBootstrap": false, "config": {
        "host": cluster.host, "port": cluster.port, "database": database, "initialDatabase": "postgres",
        "authenticationType": "userPassword", "username": user, "password": "Manual-Passw0rd-1"}});
    let mut skipped = run_script(&cluster, &server, "/integrations/scripts/initial-create", &manual).await;
    skipped.extend(run_script(&cluster, &server, "/integrations/scripts/create", &manual).await);
    eprintln!("Redshift-only lines skipped on PostgreSQL: {skipped:?}");
    assert!(skipped.iter().any(|l| l.contains("enable_case_sensitive_identifier")), "{skipped:?}");

    let created = server.call("POST", "/integrations", Some(&manual)).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled");

    // Behind Warden's back the system account's password changes: the next round fails.
    cluster.execute(&format!("ALTER USER {user} PASSWORD 'Changed-Passw0rd-2'")).await;
    let status = wait_for(&server, id, "recurringValidationError").await;
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("Initial validation: basic connection test"), "{message}");
    assert!(message.contains("password authentication failed"), "{message}");
    // The failed round is the integration's latest validation run, as GET shows it (it is
    // recorded just after the status moves).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
        if shown.body["validationResults"]["status"] == "failed" {
            break;
        }
        assert!(Instant::now() < deadline, "the failed round is not shown: {}", shown.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.execute(&format!("ALTER USER {user} PASSWORD 'Manual-Passw0rd-1'")).await;
    wait_for(&server, id, "enabled").await;

    // Manual delete: nothing runs on the platform; the delete script removes it all.
    let deleted = server.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted");
    assert!(cluster.database_exists(&database).await, "a manual delete leaves the platform to the administrator");
    let answer = server.call("POST", &format!("/integrations/{id}/scripts/delete"), None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let (parts, _) = runnable_parts(&answer.text, &database);
    for (db, sql) in parts {
        psql(&cluster, &db, &sql);
    }
    assert!(!cluster.database_exists(&database).await);
    assert!(!cluster.role_exists(&user).await);
}

async fn wait_for(server: &Server, id: u64, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = server.call("GET", &format!("/integrations/{id}/status"), None).await;
        if answer.body["status"] == status {
            return answer.body;
        }
        assert!(Instant::now() < deadline, "still {} after 30 s, waiting for {status}", answer.text);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn kill_9_during_an_automatic_setup_leaves_create_error_and_the_cleanup_script_removes_the_rest() {
    let Some(cluster) = cluster() else { return };
    let mut server = shipped(&[]).await;
    let database = unique("wrs_crash");
    let system = format!("{database}_system");
    // Hold a lock that CREATE USER waits for (connections only read the catalog, so they
    // still work): the setup stops after CREATE DATABASE, mid-script.
    let mut blocker = cluster.admin().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE pg_catalog.pg_authid IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let created = server.call("POST", "/integrations", Some(&cluster.automatic(&database, &unique("g"), false))).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster.database_exists(&database).await {
        assert!(Instant::now() < deadline, "the setup never created the database: {}", server.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill9();
    sqlx::raw_sql("ROLLBACK").execute(&mut blocker).await.unwrap();
    drop(blocker);

    server.restart().await;
    let status = server.call("GET", &format!("/integrations/{id}/status"), None).await;
    assert_eq!(status.body["status"], "createError", "{}", status.text);
    let message = status.body["message"].as_str().unwrap();
    assert!(message.contains("cleanup script"), "{message}");
    assert!(
        cluster.database_exists(&database).await,
        "the interrupted setup left its database (the point of the test)"
    );

    // The administrator follows the message: the stored integration's cleanup script.
    let path = format!("/integrations/{id}/scripts/cleanup");
    assert!(message.contains(&format!("POST {path}")), "{message}");
    run_script(&cluster, &server, &path, &Value::Null).await;
    assert!(!cluster.database_exists(&database).await, "the cleanup script drops the database");
    assert!(!cluster.role_exists(&system).await, "the cleanup script drops the system account if it was made");
    assert!(!server.logs().contains(&cluster.password), "the privileged password reached the log");
}

/// Issue 11, item 1: a failed setup never drops what it did not create. A system account of
/// the name the setup would create already exists: validation refuses the setup before
/// anything runs, and the account is untouched.
#[tokio::test]
async fn an_existing_system_account_is_refused_before_anything_runs() {
    let Some(cluster) = cluster() else { return };
    let server = shipped(&[]).await;
    let database = unique("wrs_taken");
    let system = format!("{database}_system");
    cluster.execute(&format!("CREATE ROLE {system} LOGIN PASSWORD 'Customer-0wned'")).await;
    let answer = server.call("POST", "/integrations", Some(&cluster.automatic(&database, &unique("g"), false))).await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    let message = failed(&answer, "Validate automatic: database does not exist");
    assert!(message.contains(&system), "{message}");
    assert!(cluster.role_exists(&system).await, "the customer's user is untouched");
    assert!(!cluster.database_exists(&database).await, "nothing ran");
    cluster.execute(&format!("DROP ROLE {system}")).await;
}

/// Issue 11, item 1, the race: two Warden servers (two stores) set up the same database at
/// once. Whichever loses must not drop what the winner created.
#[tokio::test]
async fn a_setup_that_loses_a_race_leaves_the_winners_objects() {
    let Some(cluster) = cluster() else { return };
    for round in 0..3 {
        // Fresh servers each round: a server allows one integration per host.
        let (one, two) = (shipped(&[]).await, shipped(&[]).await);
        let database = unique(&format!("wrs_race{round}"));
        let payload = cluster.automatic(&database, &unique("g"), false);
        let (a, b) = tokio::join!(
            one.call("POST", "/integrations", Some(&payload)),
            two.call("POST", "/integrations", Some(&payload))
        );
        let mut outcomes = Vec::new();
        for (server, answer) in [(&one, &a), (&two, &b)] {
            let outcome = if answer.status == 200 {
                let id = answer.body["id"].as_u64().unwrap();
                server.settled(id).await["status"].as_str().unwrap().to_owned()
            } else {
                format!("refused {}", answer.status)
            };
            outcomes.push(outcome);
        }
        let winners = outcomes.iter().filter(|o| *o == "enabled").count();
        assert_eq!(winners, 1, "round {round}: exactly one setup wins: {outcomes:?}");
        assert!(
            cluster.database_exists(&database).await,
            "round {round}: the winner's database is there: {outcomes:?}"
        );
        assert!(
            cluster.role_exists(&format!("{database}_system")).await,
            "round {round}: the winner's system account is there: {outcomes:?}"
        );
    }
}

/// Issue 10, items 2 and 3: after a failed automatic create, the stored cleanup script drops
/// the system account Warden made (never the privileged user), and DELETE removes the rest.
#[tokio::test]
async fn a_failed_create_is_cleaned_up_by_its_own_script_or_by_delete() {
    let Some(cluster) = cluster() else { return };
    let server = shipped(&[]).await;
    let (weak, database, payload) = cluster.weak_setup("LOGIN CREATEDB").await;
    let id = server.call("POST", "/integrations", Some(&payload)).await.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "createError");
    let script = server.call("POST", &format!("/integrations/{id}/scripts/cleanup"), None).await;
    assert_eq!(script.status, 200, "{}", script.text);
    assert!(script.text.contains(&format!("DROP USER IF EXISTS \"{database}_system\"")), "{}", script.text);
    assert!(!script.text.contains(&weak), "the privileged user is never dropped: {}", script.text);
    // The payload-based endpoint, as the contract has it, takes the config it is given.
    let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&cluster.privileged())).await;
    assert_eq!(deleted.status, 200, "a failed create can be deleted: {}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", server.logs());
    assert!(cluster.role_exists(&weak).await, "the privileged user is untouched");
    cluster.execute(&format!("DROP ROLE {weak}")).await;
}

/// Issue 11, item 4: a DELETE that failed after the database was dropped can be sent again
/// and finishes the removal: its check connects to the initial database, and the removal
/// skips what is gone.
#[tokio::test]
async fn a_repeated_delete_finishes_after_the_database_is_gone() {
    let Some(cluster) = cluster() else { return };
    let server = shipped(&[]).await;
    let database = unique("wrs_redel");
    let system = format!("{database}_system");
    let id = server.call("POST", "/integrations", Some(&cluster.automatic(&database, &unique("g"), false))).await.body
        ["id"]
        .as_u64()
        .unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    // The system account owns a table elsewhere: DROP USER fails after DROP DATABASE ran.
    let holder = unique("wrs_holder");
    cluster.execute(&format!("CREATE TABLE {holder} (x int)")).await;
    cluster.execute(&format!("ALTER TABLE {holder} OWNER TO {system}")).await;
    let first = server.call("DELETE", &format!("/integrations/{id}"), Some(&cluster.privileged())).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(server.settled(id).await["status"], "deleteError");
    assert!(!cluster.database_exists(&database).await, "the database went before the failure");
    assert!(cluster.role_exists(&system).await);
    cluster.execute(&format!("DROP TABLE {holder}")).await;
    let again = server.call("DELETE", &format!("/integrations/{id}"), Some(&cluster.privileged())).await;
    assert_eq!(again.status, 200, "the repeated DELETE is accepted: {}", again.text);
    assert_eq!(server.settled(id).await["status"], "deleted", "{}", server.logs());
    assert!(!cluster.role_exists(&system).await, "the system account is removed");
}

/// Issue 10, items 4 to 6: upper-case names are folded, and the drivers' connectArgs are
/// read, with keys Warden ignores reported as a warning of the connection test.
#[tokio::test]
async fn upper_case_names_and_driver_style_connect_args_work_end_to_end() {
    let Some(cluster) = cluster() else { return };
    let server = shipped(&[]).await;
    let database = unique("WRS_UPPER");
    let mut payload = cluster.automatic(&database, &unique("g"), false);
    payload["config"]["initialDatabase"] = json!("POSTGRES");
    payload["config"]["connectArgs"] = json!("SSLMode=require;Timeout=30&ApplicationName=warden-e2e;TCPKeepAlive=true");
    let answer = server.call("POST", "/integrations", Some(&payload)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let connection = &answer.body["validationResults"]["validationTests"][0];
    assert_eq!(connection["status"], "warning", "{}", answer.text);
    assert!(connection["message"].as_str().unwrap().contains("TCPKeepAlive"), "{}", answer.text);
    let id = answer.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    let folded = database.to_lowercase();
    assert_eq!(
        server.call("GET", &format!("/integrations/{id}"), None).await.body["config"]["database"],
        folded.as_str()
    );
    assert!(cluster.database_exists(&folded).await);
    let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&cluster.privileged())).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted");
}

/// Issue 11, item 2: a listener that does not offer TLS and asks for the password in clear
/// never receives it, and a PUT that would send the stored password to it is refused.
#[tokio::test]
async fn no_password_goes_to_a_listener_without_tls() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Some(cluster) = cluster() else { return };
    let server = shipped(&[]).await;
    // A listener speaking just enough of the PostgreSQL protocol: no to TLS, then "send me
    // the password in clear"; it records every byte it is sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<u8>::new()));
    let sink = std::sync::Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let sink = std::sync::Arc::clone(&sink);
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let mut answered_tls = false;
                loop {
                    let Ok(n) = socket.read(&mut buffer).await else { return };
                    if n == 0 {
                        return;
                    }
                    sink.lock().await.extend_from_slice(&buffer[..n]);
                    if !answered_tls && n == 8 {
                        answered_tls = true;
                        let _ = socket.write_all(b"N").await;
                    } else {
                        // AuthenticationCleartextPassword.
                        let _ = socket.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await;
                    }
                }
            });
        }
    });
    let secret = "S3CRET-never-in-clear";
    let payload = json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": "127.0.0.1", "port": port,
        "database": "dev", "authenticationType": "userPassword", "username": "warden_system", "password": secret}});
    let answer = server.call("POST", "/integrations?dryRun=true", Some(&payload)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["validationResults"]["status"], "failed", "{}", answer.text);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bytes = received.lock().await.clone();
    assert!(!bytes.is_empty(), "Warden did contact the listener");
    assert!(!String::from_utf8_lossy(&bytes).contains(secret), "the password was sent without TLS");

    // A stored password is never pointed at the listener by a PUT that keeps it.
    let database = unique("wrs_keep");
    let id = server.call("POST", "/integrations", Some(&cluster.automatic(&database, &unique("g"), false))).await.body
        ["id"]
        .as_u64()
        .unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled");
    let stored = server.call("GET", &format!("/integrations/{id}"), None).await.body;
    let mut keep = json!({"type": "Redshift", "autoBootstrap": false, "config": stored["config"]});
    keep["config"]["port"] = json!(port);
    keep["autoBootstrap"] = json!(true);
    let answer = server.call("PUT", &format!("/integrations/{id}?dryRun=true"), Some(&keep)).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.text.contains("config.port changed"), "{}", answer.text);
    let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&cluster.privileged())).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    server.settled(id).await;
}

/// Issue 11 ("outside Warden"): the passwords Warden sets reach the server pre-hashed, so a
/// statement the server logs never holds one. A failed CREATE USER is logged with its text.
#[tokio::test]
async fn passwords_reach_the_server_pre_hashed() {
    let Some(cluster) = cluster() else { return };
    let Ok(log_path) = std::env::var("WARDEN_TEST_POSTGRES_LOG") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_POSTGRES_LOG");
        return;
    };
    let server = shipped(&[]).await;
    let (weak, database, payload) = cluster.weak_setup("LOGIN CREATEDB").await;
    let id = server.call("POST", "/integrations", Some(&payload)).await.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "createError");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let create_user = format!("CREATE USER \"{database}_system\" PASSWORD '");
    let logged: Vec<&str> = log.lines().filter(|l| l.contains(&create_user)).collect();
    assert!(!logged.is_empty(), "the failed CREATE USER is in the server log");
    for line in logged {
        let literal = line.split(&create_user).nth(1).unwrap();
        assert!(literal.starts_with("SCRAM-SHA-256$") || literal.starts_with("md5"), "a password in clear: {line}");
    }
    cluster.execute(&format!("DROP ROLE {weak}")).await;
}

/// Issue 12 (one rule for reaching servers), with the real adapter: a request may turn TLS off only towards a
/// loopback address; anywhere else the POST is a 400 naming `config.connectArgs`, and nothing
/// is stored.
#[tokio::test]
async fn tls_cannot_be_turned_off_towards_a_remote_host() {
    let server = shipped(&[]).await;
    for args in ["sslmode=disable", "SSL=false", "aws_endpoint_url=http://moto.internal:5000"] {
        let mut payload = json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": "remote.example.com",
            "database": "warden", "authenticationType": "userPassword", "username": "warden_system", "password": "pw"}});
        payload["config"]["connectArgs"] = json!(args);
        let answer = server.call("POST", "/integrations?dryRun=true", Some(&payload)).await;
        assert_eq!(answer.status, 400, "{args}: {}", answer.text);
        assert_eq!(answer.body["errors"][0]["path"], "config.connectArgs", "{}", answer.text);
        assert!(answer.text.contains("only to a loopback address"), "{}", answer.text);
    }
    let listed = server.call("GET", "/integrations", None).await;
    assert_eq!(listed.body, json!([]), "{}", listed.text);
}

/// A config stored before the loopback rule (TLS off towards a remote host) is refused
/// before any password is sent, seen from the outside in a removal's dry run; and the advice
/// in that refusal is a request that works: the PUT without `SSLMode=disable` and with the
/// password given again passes the rules (its dry run goes on to connect), while one that
/// keeps the stored password is refused.
#[tokio::test]
async fn a_stored_config_with_tls_off_is_refused_and_its_advice_works() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let config = |connect_args: Option<&str>, password: &str| {
        let mut payload = json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": "warden-test.invalid",
            "database": "warden", "authenticationType": "userPassword", "username": "warden_system", "password": password}});
        if let Some(args) = connect_args {
            payload["config"]["connectArgs"] = json!(args);
        }
        payload
    };
    let id = {
        let key = warden_store::MasterKey::from_hex(common::MASTER_KEY).unwrap();
        let store = warden_store::Store::open_sqlite(&dir, key).await.unwrap();
        let spec =
            warden_model::IntegrationSpec::from_value(&config(Some("sslmode=disable"), "S3CRET-pw"), None).unwrap();
        store.insert_integration(&spec, warden_model::Status::Enabled).await.unwrap().id
    };
    let server = Server::start_binary(SHIPPED, &Backend::Sqlite, &dir, Some(temp), &[]).await;
    let removal = server.call("DELETE", &format!("/integrations/{id}?dryRun=true"), None).await;
    assert_eq!(removal.status, 200, "{}", removal.text);
    let connect = &removal.body["validationResults"]["validationTests"][0];
    let refusal = connect["message"].as_str().unwrap();
    assert!(refusal.contains("allows only to a loopback address"), "{refusal}");
    assert!(refusal.contains("taken out of connectArgs and the credentials given again"), "{refusal}");

    let kept = server.call("PUT", &format!("/integrations/{id}?dryRun=true"), Some(&config(None, "[REDACTED]"))).await;
    assert_eq!(kept.status, 400, "{}", kept.text);
    assert_eq!(kept.body["errors"][0]["path"], "config.password", "{}", kept.text);
    let advised =
        server.call("PUT", &format!("/integrations/{id}?dryRun=true"), Some(&config(None, "S3CRET-pw"))).await;
    assert_eq!(advised.status, 200, "{}", advised.text);
    let connect = &advised.body["validationResults"]["validationTests"][0];
    let message = connect["message"].as_str().unwrap_or_default();
    assert!(!message.contains("loopback"), "the TLS rule no longer stops it: {message}");
    assert!(!advised.text.contains("S3CRET"), "{}", advised.text);
}

/// moto (AWS Secrets Manager) and its test user's key, when `cargo xtask ci` started it.
fn secrets_manager() -> Option<(String, String, String)> {
    let vars =
        ["WARDEN_TEST_MOTO_URL", "WARDEN_TEST_MOTO_ACCESS_KEY_ID", "WARDEN_TEST_MOTO_SECRET_KEY"].map(std::env::var);
    let [Ok(url), Ok(key_id), Ok(secret)] = vars else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs moto (cargo xtask ci)");
        eprintln!("moto is not configured: skipped");
        return None;
    };
    Some((url, key_id, secret))
}

/// A client of moto's Secrets Manager, as an administrator keeping Warden's secrets there
/// would use AWS's own.
async fn secrets_client(url: &str, key_id: &str, secret: &str) -> aws_sdk_secretsmanager::Client {
    let credentials = aws_sdk_secretsmanager::config::Credentials::new(key_id, secret, None, None, "test");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(url)
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

/// Secrets kept outside Warden (`secretRef`), on a real server against PostgreSQL: the
/// system account's password comes from an environment variable, a file or AWS Secrets
/// Manager (moto), is read each time it is used (the scripts, every validation, recurring
/// validation), so a rotation where it is kept takes effect without a restart; the
/// reference is what GET shows and what the store keeps, never the value; the operator's
/// allow-list decides what may be referenced, and Warden's own variables never may.
#[tokio::test]
async fn secrets_kept_outside_warden_are_read_at_each_use_and_never_stored() {
    let Some(cluster) = cluster() else { return };
    let Some((moto, key_id, moto_secret)) = secrets_manager() else { return };
    let (database, user) = (unique("wrs_ref"), unique("wrs_ref_sys"));
    let (first, second) = ("Kept-Elsewhere-Pw-1", "Kept-Elsewhere-Pw-2");
    let secret_name = format!("warden-test/{database}");
    let aws = secrets_client(&moto, &key_id, &moto_secret).await;
    let body = |password: &str| json!({"password": password, "note": "other keys are ignored"}).to_string();
    aws.create_secret().name(&secret_name).secret_string(body(first)).send().await.unwrap();

    let files = tempfile::tempdir().unwrap();
    let dir = files.path().canonicalize().unwrap();
    std::fs::write(dir.join("password"), format!("{first}\n")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.join("elsewhere")).unwrap();
    let allow = format!("env://WRS_,file://{}/,aws-sm://warden-test/", dir.display());
    let env = [
        ("WRS_PASSWORD", first),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.as_str()),
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", moto_secret.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let args = ["--recheck-interval-secs", "1", "--recheck-retries", "0", "--secret-ref-allow", &allow];
    let server =
        Server::start_binary_with_env_and_args(SHIPPED, &Backend::Sqlite, tempfile::tempdir().unwrap(), &env, &args)
            .await;
    let payload = |reference: &str| {
        json!({"type": "Redshift", "autoBootstrap": false, "config": {
            "host": cluster.host, "port": cluster.port, "database": database, "initialDatabase": "postgres",
            "authenticationType": "userPassword", "username": user, "password": {"secretRef": reference}}})
    };
    let from_aws = format!("aws-sm://{secret_name}#password");

    // The scripts an administrator runs read the reference too: the account gets its value.
    run_script(&cluster, &server, "/integrations/scripts/initial-create", &payload(&from_aws)).await;
    run_script(&cluster, &server, "/integrations/scripts/create", &payload(&from_aws)).await;

    let file_ref = format!("file://{}/password", dir.display());
    let mut answers = Vec::new();
    for reference in ["env://WRS_PASSWORD", file_ref.as_str(), from_aws.as_str()] {
        let dry = server.call("POST", "/integrations?dryRun=true", Some(&payload(reference))).await;
        assert_eq!(dry.status, 200, "{reference}: {}", dry.text);
        let connection = &dry.body["validationResults"]["validationTests"][0];
        assert_eq!(connection["status"], "passed", "{reference}: {}", dry.text);
        answers.push(dry);
    }

    let created = server.call("POST", "/integrations", Some(&payload(&from_aws))).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(server.settled(id).await["status"], "enabled", "{}", server.logs());
    let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown.body["config"]["password"], json!({"secretRef": from_aws}), "{}", shown.text);

    // Rotation where the secret is kept: the account's password changes, and until the
    // secret follows, recurring validation fails; once it does, the next round passes.
    cluster.execute(&format!("ALTER USER {user} PASSWORD '{second}'")).await;
    let failed = wait_for(&server, id, "recurringValidationError").await;
    assert!(failed["message"].as_str().unwrap().contains("password authentication failed"), "{failed}");
    aws.put_secret_value().secret_id(&secret_name).secret_string(body(second)).send().await.unwrap();
    wait_for(&server, id, "enabled").await;

    // A reference that cannot be read says which field, which reference and what to do.
    for (reference, says) in [
        ("env://WRS_NOT_SET", "not set in Warden's environment"),
        ("aws-sm://warden-test/missing#password", "does not have"),
        (&format!("aws-sm://{secret_name}#user") as &str, "which the secret does not have"),
        (&format!("file://{}/elsewhere", dir.display()) as &str, "through a link"),
        (&format!("file://{}/absent", dir.display()) as &str, "cannot read"),
    ] {
        let refused = server.call("POST", "/integrations?dryRun=true", Some(&payload(reference))).await;
        assert_eq!(refused.status, 400, "{reference}: {}", refused.text);
        assert!(
            refused.text.contains("config.password") && refused.text.contains(says),
            "{reference}: {}",
            refused.text
        );
        answers.push(refused);
    }
    // What the operator did not allow is refused before anything is read.
    for (reference, says) in [
        ("env://HOME", "does not accept"),
        ("env://WARDEN_MASTER_KEY", "Warden's own"),
        ("file:///etc/passwd", "does not accept"),
        ("aws-sm://prod/other#password", "does not accept"),
    ] {
        let refused = server.call("POST", "/integrations?dryRun=true", Some(&payload(reference))).await;
        assert_eq!(refused.status, 400, "{reference}: {}", refused.text);
        assert!(refused.text.contains(says), "{reference}: {}", refused.text);
        answers.push(refused);
    }
    let answers: Vec<&common::Answer> = answers.iter().chain([&created, &shown]).collect();
    for password in [first, second] {
        secret_free(&server, &answers, password);
    }

    // A server whose operator allowed nothing takes no reference at all.
    let strict = shipped(&[]).await;
    let refused = strict.call("POST", "/integrations?dryRun=true", Some(&payload("env://WRS_PASSWORD"))).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("--secret-ref-allow"), "{}", refused.text);
}
