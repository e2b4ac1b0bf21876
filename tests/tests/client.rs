//! The `warden` client commands end to end: the shipped binary serves, and the same binary
//! run as a client (`apply`, `plan`, `export`, `get`, `status`, `wait`) drives it, against
//! the real Redshift adapter on the test PostgreSQL and the Trino adapter. Exit codes,
//! output, what the server holds after each step, and that no secret is printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::path::Path;

use common::{ADMIN_KEY, Backend, PgAdmin, SHIPPED, Server, pg_admin};
use serde_json::Value;

/// What one client run printed and answered.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `warden <args>` as a client of `server`, with `env` besides the server address and key.
async fn client(server: &Server, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = tokio::process::Command::new(SHIPPED)
        .args(args)
        .current_dir(dir)
        .env("WARDEN_URL", &server.base)
        .env("WARDEN_API_KEY", ADMIN_KEY)
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!run.stdout.contains(ADMIN_KEY) && !run.stderr.contains(ADMIN_KEY), "the API key was printed: {run:?}");
    run
}

/// The shipped binary serving on SQLite in a directory of its own.
async fn shipped() -> Server {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    Server::start_binary(SHIPPED, &Backend::Sqlite, &dir, Some(temp), &[]).await
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A manual Redshift document for the test PostgreSQL (its superuser as the system
/// account), the password from the environment.
fn redshift_document(pg: &PgAdmin, impersonation: bool) -> String {
    format!(
        "# yaml-language-server: $schema=../schemas/Redshift.json\n\
         name: analytics\ntype: Redshift\nautoBootstrap: false\nconfig:\n  host: {}\n  port: {}\n  database: postgres\n  \
         authenticationType: userPassword\n  username: {}\n  password: ${{env:ANALYTICS_PASSWORD}}\n  connectArgs: sslmode=disable\n  \
         impersonation:\n    enabled: {impersonation}\n    role: warden_client_imp\nlabels:\n  team: data-platform\n",
        pg.host, pg.port, pg.user
    )
}

/// An automatic Redshift document: Warden creates the database and its system account with
/// the test PostgreSQL's superuser, whose credentials the document holds (never stored).
fn automatic_document(pg: &PgAdmin, database: &str) -> String {
    format!(
        "name: warehouse\ntype: Redshift\nautoBootstrap: true\nconfig:\n  host: {}\n  port: {}\n  database: {database}\n  \
         initialDatabase: postgres\n  authenticationType: userPassword\n  username: {}\n  password: ${{env:ANALYTICS_PASSWORD}}\n  \
         connectArgs: sslmode=disable\n",
        pg.host, pg.port, pg.user
    )
}

async fn integrations(server: &Server) -> Vec<Value> {
    let answer = server.call("GET", "/integrations", None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body.as_array().unwrap().clone()
}

fn named<'a>(all: &'a [Value], name: &str) -> &'a Value {
    all.iter().find(|i| i["labels"]["name"] == name).unwrap_or_else(|| panic!("no integration named {name}: {all:?}"))
}

/// Create from a directory, plan shows no change, edit one field and plan shows exactly that
/// field, apply it, export then apply is a no-op, prune, and the exit codes of each.
#[tokio::test]
async fn apply_plan_export_and_prune_a_directory_of_documents() {
    let Some(pg) = pg_admin() else { return };
    let server = shipped().await;
    let work = tempfile::tempdir().unwrap();
    let docs = work.path().join("integrations");
    std::fs::create_dir(&docs).unwrap();
    write(&docs, "analytics.yaml", &redshift_document(&pg, false));
    write(&docs, "trino.yaml", "name: trino-main\ntype: Trino\n");
    let env = [("ANALYTICS_PASSWORD", pg.password.as_str())];
    let dir = work.path();

    // A plan of two new documents: both to create, both validated on the server; exit 2.
    let plan = client(&server, dir, &["plan", "-f", "integrations"], &env).await;
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("+ create analytics (Redshift)"), "{plan:?}");
    assert!(plan.stdout.contains("+ create trino-main (Trino)"), "{plan:?}");
    assert!(plan.stdout.contains("config.password: [REDACTED]"), "{plan:?}");
    assert!(plan.stdout.contains("validation of analytics (dryRun): passed"), "{plan:?}");
    assert!(plan.stdout.contains("Plan: 2 to create, 0 to update, 0 to delete."), "{plan:?}");
    assert!(integrations(&server).await.is_empty(), "a plan changed the server");

    // Apply creates both and waits for them; Trino's callback configuration goes to a 0600 file.
    let apply = client(&server, dir, &["apply", "-f", "integrations"], &env).await;
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(apply.stdout.contains("analytics (id "), "{apply:?}");
    let all = integrations(&server).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let analytics = named(&all, "analytics");
    assert_eq!(analytics["status"], "enabled", "{analytics}");
    assert_eq!(analytics["labels"]["team"], "data-platform");
    assert_eq!(named(&all, "trino-main")["status"], "enabled");
    let callback = dir.join("trino-main.callback.properties");
    let text = std::fs::read_to_string(&callback).unwrap();
    assert!(text.contains("wdn_"), "{text}");
    assert!(!apply.stdout.contains(text.trim()), "the callback key was printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&callback).unwrap().permissions().mode() & 0o777, 0o600);
    }
    for run in [&plan, &apply] {
        assert!(!run.stdout.contains(&pg.password) && !run.stderr.contains(&pg.password), "a secret was printed");
    }

    // Nothing to do now: exit 0 for plan and apply.
    let again = client(&server, dir, &["plan", "-f", "integrations"], &env).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("No changes"), "{again:?}");

    // One field edited: the plan shows exactly that field, and apply makes it.
    write(&docs, "analytics.yaml", &redshift_document(&pg, true));
    let edit = client(&server, dir, &["plan", "-f", "integrations"], &env).await;
    assert_eq!(edit.code, 2, "{edit:?}");
    let id = named(&all, "analytics")["id"].as_u64().unwrap();
    assert!(
        edit.stdout
            .contains(&format!("~ update analytics (id {id})\n    config.impersonation.enabled: false -> true\n")),
        "{edit:?}"
    );
    assert_eq!(edit.stdout.matches("    config.").count(), 1, "{edit:?}");
    let applied = client(&server, dir, &["apply", "-f", "integrations"], &env).await;
    assert_eq!(applied.code, 0, "{applied:?}");
    let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown.body["config"]["impersonation"]["enabled"], true, "{}", shown.text);
    assert_eq!(client(&server, dir, &["plan", "-f", "integrations"], &env).await.code, 0);

    // get, status and wait by name.
    let got = client(&server, dir, &["get", "analytics"], &[]).await;
    assert_eq!(got.code, 0, "{got:?}");
    assert_eq!(serde_json::from_str::<Value>(&got.stdout).unwrap()["id"], id);
    let waited = client(&server, dir, &["wait", "analytics", "--for", "enabled", "--timeout", "30s"], &[]).await;
    assert_eq!(waited.code, 0, "{waited:?}");
    assert!(waited.stderr.contains("enabled"), "{waited:?}");
    let missing = client(&server, dir, &["status", "nobody"], &[]).await;
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("no integration is named nobody"), "{missing:?}");

    // Export writes documents with secrets as references; applying them is a no-op.
    let export = client(&server, dir, &["export", "-o", "exported"], &[]).await;
    assert_eq!(export.code, 0, "{export:?}");
    let exported = std::fs::read_to_string(dir.join("exported/analytics.yaml")).unwrap();
    assert!(
        exported
            .starts_with(&format!("# yaml-language-server: $schema={}/schemas/Redshift.document.json\n", server.base)),
        "{exported}"
    );
    assert!(exported.contains("${env:ANALYTICS_PASSWORD}"), "{exported}");
    assert!(!exported.contains(&pg.password), "{exported}");
    let secret = [("ANALYTICS_PASSWORD", pg.password.as_str())];
    let noop = client(&server, dir, &["apply", "-f", "exported"], &secret).await;
    assert_eq!(noop.code, 0, "{noop:?}");
    assert!(noop.stdout.contains("No changes"), "{noop:?}");
    assert_eq!(integrations(&server).await.len(), 2);

    // Prune: the Trino document removed, its integration deleted with --prune only.
    std::fs::remove_file(docs.join("trino.yaml")).unwrap();
    let kept = client(&server, dir, &["plan", "-f", "integrations"], &env).await;
    assert_eq!(kept.code, 0, "without --prune nothing is deleted: {kept:?}");
    let prune_plan = client(&server, dir, &["plan", "-f", "integrations", "--prune"], &env).await;
    assert_eq!(prune_plan.code, 2, "{prune_plan:?}");
    assert!(prune_plan.stdout.contains("- delete trino-main (id "), "{prune_plan:?}");
    let pruned = client(&server, dir, &["apply", "-f", "integrations", "--prune"], &env).await;
    assert_eq!(pruned.code, 0, "{pruned:?}");
    let left = integrations(&server).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["labels"]["name"], "analytics");
}

/// An automatic integration: its document holds the privileged credentials, the server its
/// system account; apply creates it, and the next plan compares everything but the
/// credentials and finds nothing to do. An edit of another field is still seen.
#[tokio::test]
async fn an_automatic_integration_is_planned_without_comparing_its_privileged_credentials() {
    let Some(pg) = pg_admin() else { return };
    let server = shipped().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let database = format!("wcl_{}", std::process::id());
    write(dir, "warehouse.yaml", &automatic_document(&pg, &database));
    let env = [("ANALYTICS_PASSWORD", pg.password.as_str())];
    let apply = client(&server, dir, &["apply", "-f", "warehouse.yaml"], &env).await;
    assert_eq!(apply.code, 0, "{apply:?}");
    let left = integrations(&server).await;
    assert_eq!(named(&left, "warehouse")["config"]["username"], format!("{database}_system"));
    assert_eq!(named(&left, "warehouse")["status"], "enabled");
    let again = client(&server, dir, &["plan", "-f", "warehouse.yaml"], &env).await;
    assert_eq!(again.code, 0, "{again:?}");
    write(dir, "warehouse.yaml", &format!("{}labels:\n  tier: gold\n", automatic_document(&pg, &database)));
    let edit = client(&server, dir, &["plan", "-f", "warehouse.yaml"], &env).await;
    assert_eq!(edit.code, 2, "{edit:?}");
    assert!(edit.stdout.contains("    labels.tier: (none) -> \"gold\"\n"), "{edit:?}");
    assert!(!edit.stdout.contains("config.username"), "{edit:?}");

    // The automatic integration is removed with its privileged credentials (DELETE's body).
    let id = named(&left, "warehouse")["id"].as_u64().unwrap();
    let body = serde_json::json!({"config": {"authenticationType": "userPassword", "username": pg.user, "password": pg.password}});
    let deleted = server.call("DELETE", &format!("/integrations/{id}"), Some(&body)).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(server.settled(id).await["status"], "deleted");
}

/// A literal secret is refused before anything is sent (unless allowed); a document the
/// model refuses names the field; a failing validation fails the plan with exit 1; an
/// unknown command line exits 1, not 2.
#[tokio::test]
async fn documents_are_checked_before_anything_is_sent() {
    let server = shipped().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let literal = "name: literal\ntype: Redshift\nautoBootstrap: false\nconfig:\n  host: 127.0.0.1\n  port: 9\n  \
                   database: warden\n  authenticationType: userPassword\n  username: warden_system\n  password: Hunter2-literal\n  connectArgs: sslmode=disable\n";
    write(dir, "literal.yaml", literal);
    let refused = client(&server, dir, &["apply", "-f", "literal.yaml"], &[]).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("config.password is a secret written in the document"), "{refused:?}");
    assert!(!refused.stderr.contains("Hunter2-literal"), "{refused:?}");
    assert!(integrations(&server).await.is_empty());

    // Allowed, it reaches the server, whose validation fails (nothing listens on port 9): exit 1.
    let allowed = client(&server, dir, &["plan", "-f", "literal.yaml", "--allow-literal-secrets"], &[]).await;
    assert_eq!(allowed.code, 1, "{allowed:?}");
    assert!(allowed.stdout.contains("FAIL"), "{allowed:?}");
    assert!(!allowed.stdout.contains("Hunter2-literal") && !allowed.stderr.contains("Hunter2-literal"));

    // A reference that is not set, and a field the model refuses, each named.
    write(dir, "unset.yaml", &literal.replace("Hunter2-literal", "${env:WARDEN_TEST_UNSET_VARIABLE}"));
    let unset = client(&server, dir, &["plan", "-f", "unset.yaml"], &[]).await;
    assert_eq!(unset.code, 1, "{unset:?}");
    assert!(unset.stderr.contains("${env:WARDEN_TEST_UNSET_VARIABLE} is not set"), "{unset:?}");
    write(dir, "bad.yaml", &literal.replace("port: 9", "port: 70000").replace("Hunter2-literal", "${file:pw.txt}"));
    write(dir, "pw.txt", "from-a-file\n");
    let bad = client(&server, dir, &["plan", "-f", "bad.yaml"], &[]).await;
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("config.port"), "{bad:?}");

    // Two documents with one name are refused.
    write(dir, "twice.yaml", "name: t\ntype: Trino\n---\nname: t\ntype: Trino\n");
    let twice = client(&server, dir, &["plan", "-f", "twice.yaml"], &[]).await;
    assert_eq!(twice.code, 1, "{twice:?}");
    assert!(twice.stderr.contains("names must be unique"), "{twice:?}");

    // The server and key may come from the user's config file instead of the environment.
    let config_home = dir.join("config-home");
    std::fs::create_dir_all(config_home.join("warden")).unwrap();
    std::fs::write(config_home.join("warden/client.yaml"), format!("server: {}\napiKey: {ADMIN_KEY}\n", server.base))
        .unwrap();
    let from_file = tokio::process::Command::new(SHIPPED)
        .args(["list"])
        .env_remove("WARDEN_API_KEY")
        .env_remove("WARDEN_URL")
        .env("XDG_CONFIG_HOME", &config_home)
        .output()
        .await
        .unwrap();
    assert_eq!(from_file.status.code(), Some(0), "{}", String::from_utf8_lossy(&from_file.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&from_file.stdout).unwrap(), Value::Array(Vec::new()));

    let typo = client(&server, dir, &["plna", "-f", "x"], &[]).await;
    assert_eq!(typo.code, 1, "{typo:?}");
    let no_key = tokio::process::Command::new(SHIPPED)
        .args(["list"])
        .env_remove("WARDEN_API_KEY")
        .env("WARDEN_URL", &server.base)
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .output()
        .await
        .unwrap();
    assert_eq!(no_key.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("WARDEN_API_KEY"));
}

/// The schemas the server publishes: each type's payload and document, checked by a JSON
/// Schema validator against documents as a user writes them (references included); an
/// unknown one is a 404 that lists them. No key is needed.
#[tokio::test]
async fn the_server_publishes_a_schema_per_type_that_editors_can_check_documents_with() {
    let server = shipped().await;
    let fetch = |path: &str| {
        let url = format!("{}{path}", server.base);
        async move { common::http().get(url).send().await.unwrap() }
    };
    let answer = fetch("/schemas/Redshift.document.json").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/schema+json");
    let schema: Value = answer.json().await.unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let pg = PgAdmin {
        admin_url: String::new(),
        host: "127.0.0.1".into(),
        port: 5439,
        user: "warden".into(),
        password: String::new(),
    };
    let written: Value = serde_saphyr::from_str(&redshift_document(&pg, true)).unwrap();
    assert!(
        validator.is_valid(&written),
        "{:?}",
        validator.iter_errors(&written).map(|e| e.to_string()).collect::<Vec<_>>()
    );
    for (path, bad) in
        [("/config/port", serde_json::json!(70000)), ("/config/host", serde_json::json!("db.example.com:5439"))]
    {
        let mut wrong = written.clone();
        *wrong.pointer_mut(path).unwrap() = bad;
        assert!(!validator.is_valid(&wrong), "{path}");
    }
    let mut unnamed = written.clone();
    unnamed.as_object_mut().unwrap().remove("name");
    assert!(!validator.is_valid(&unnamed), "a document needs its name");
    // The payload schema refuses a name (the API does too), and a schema per type is there.
    let payload: Value = fetch("/schemas/Redshift.json").await.json().await.unwrap();
    assert!(!jsonschema::draft202012::new(&payload).unwrap().is_valid(&written));
    for slug in ["Snowflake", "Databricks", "NativeS3", "GoogleBigQuery", "AzureSynapseAnalytics", "Trino"] {
        assert_eq!(fetch(&format!("/schemas/{slug}.json")).await.status(), 200, "{slug}");
    }
    let missing = fetch("/schemas/Oracle.json").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("/schemas/Redshift.json"), "{body}");
    // The client prints the same schema offline.
    let printed = client(&server, server.data_dir(), &["schema", "Redshift", "--document"], &[]).await;
    assert_eq!(printed.code, 0, "{printed:?}");
    assert_eq!(serde_json::from_str::<Value>(&printed.stdout).unwrap(), schema);
}

/// `examples/integrations` as its README shows it: plan (exit 2), apply, plan (exit 0), with
/// the host, port, database and user of the test PostgreSQL in place of the example's.
#[tokio::test]
async fn examples_apply_as_documented() {
    let Some(pg) = pg_admin() else { return };
    let server = shipped().await;
    let work = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/integrations");
    let docs = work.path().join("integrations");
    std::fs::create_dir(&docs).unwrap();
    let mut copied = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("host: redshift.example.com", &format!("host: {}", pg.host))
                .replace("port: 5439", &format!("port: {}\n  connectArgs: sslmode=disable", pg.port))
                .replace("database: analytics", "database: postgres")
                .replace("username: warden_system", &format!("username: {}", pg.user));
            std::fs::write(docs.join(path.file_name().unwrap()), text).unwrap();
            copied += 1;
        }
    }
    assert_eq!(copied, 2, "the README shows two documents");
    let env = [("ANALYTICS_PASSWORD", pg.password.as_str())];
    let dir = work.path();
    let plan = client(&server, dir, &["plan", "-f", "integrations"], &env).await;
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("Plan: 2 to create, 0 to update, 0 to delete."), "{plan:?}");
    let apply = client(&server, dir, &["apply", "-f", "integrations"], &env).await;
    assert_eq!(apply.code, 0, "{apply:?}");
    let again = client(&server, dir, &["plan", "-f", "integrations"], &env).await;
    assert_eq!(again.code, 0, "{again:?}");
    eprintln!("{plan:?}\n{apply:?}\n{again:?}");
}
