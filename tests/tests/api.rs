//! The integrations API over HTTP against the started binary, on SQLite and PostgreSQL:
//! every error message of the API reference §2, the Trino flow with key rotation, dryRun,
//! forceDisable, JSON and YAML bodies, hostile input, auth, and secrets kept out of every
//! response, log line and stored row.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use common::{ADMIN_KEY, Answer, Backend, Server, backends, redshift};
use serde_json::{Value, json};

/// Every secret in these payloads contains this; no response, log line or stored cell may.
const MARK: &str = "S3CRET";

fn databricks(host: &str) -> Value {
    json!({"type": "Databricks", "autoBootstrap": false, "config": {"workspaceUrl": host,
        "httpPath": "/sql/1.0/warehouses/abc123", "authenticationType": "token", "token": "S3CRET-dapi"}})
}

fn assert_clean(answer: &Answer) {
    assert!(!answer.text.contains(MARK), "a secret reached a response: {}", answer.text);
}

async fn created(server: &Server, payload: &Value) -> u64 {
    let answer = server.call("POST", "/integrations", Some(payload)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_clean(&answer);
    answer.body["id"].as_u64().unwrap()
}

async fn enabled(server: &Server, payload: &Value) -> u64 {
    let id = created(server, payload).await;
    assert_eq!(server.settled(id).await["status"], "enabled");
    id
}

fn message(answer: &Answer) -> &str {
    answer.body["message"].as_str().unwrap_or_default()
}

fn expect_error(answer: &Answer, status: u16, text: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.body["statusCode"], status, "{}", answer.text);
    assert_eq!(message(answer), text, "{}", answer.text);
    assert!(answer.body["error"].is_string(), "{}", answer.text);
    assert_clean(answer);
}

#[tokio::test]
async fn trino_create_returns_its_key_once_and_regenerate_revokes_the_old_one_at_once() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let answer = server.call("POST", "/integrations", Some(&json!({"type": "Trino"}))).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.body["status"], "creating");
        let id = answer.body["id"].as_u64().unwrap();
        let first_key = answer.body["apiKey"].as_str().unwrap().to_owned();
        let snippet = answer.body["configSnippet"].as_str().unwrap();
        assert!(snippet.contains(&first_key) && snippet.contains(&server.base), "{snippet}");
        assert_eq!(server.settled(id).await["status"], "enabled", "{}", backend.name());

        let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
        assert_eq!(shown.body["type"], "Trino");
        assert!(!shown.text.contains(&first_key), "the key is shown only once");
        let listed = server.call("GET", "/integrations", None).await;
        assert!(!listed.text.contains(&first_key));

        let again = server.call("POST", "/integrations", Some(&json!({"type": "Trino"}))).await;
        expect_error(&again, 409, &format!("Trino integration already exists on warden (id = {id})."));

        // An integration key is known but may not administer Warden: 403, not 401.
        let with_trino_key = server.send("GET", "/integrations", Some(&first_key), None).await;
        expect_error(&with_trino_key, 403, "This API key does not have the APPLICATION_ADMIN permission.");

        let rotated = server.call("POST", &format!("/integrations/{id}/regenerate"), None).await;
        assert_eq!(rotated.status, 200, "{}", rotated.text);
        assert_eq!(rotated.body["id"], id);
        let second_key = rotated.body["apiKey"].as_str().unwrap().to_owned();
        assert_ne!(second_key, first_key);
        let old = server.send("GET", "/integrations", Some(&first_key), None).await;
        assert_eq!(old.status, 401, "{}: the old key still works", backend.name());
        assert_eq!(server.send("GET", "/integrations", Some(&second_key), None).await.status, 403);

        let deleted = server.call("DELETE", &format!("/integrations/{id}"), None).await;
        assert_eq!((deleted.status, deleted.body["status"].as_str()), (200, Some("deleting")), "{}", deleted.text);
        assert_eq!(server.settled(id).await["status"], "deleted");
        assert_eq!(server.send("GET", "/integrations", Some(&second_key), None).await.status, 401);
        assert_eq!(server.call("GET", "/integrations", None).await.body, json!([]));
        let all = server.call("GET", "/integrations?includeDeleted=true", None).await;
        assert_eq!(all.body[0]["status"], "deleted", "{}", all.text);
        assert_eq!(server.call("GET", &format!("/integrations/{id}"), None).await.body["status"], "deleted");
        // A Trino integration has nothing to edit, whatever its status (issue 10, item 15).
        let edit = server.call("PUT", &format!("/integrations/{id}"), Some(&json!({"type": "Trino"}))).await;
        expect_error(
            &edit,
            400,
            &format!(
                "A Trino integration has no configuration to edit. To replace its API key, send POST /integrations/{id}/regenerate."
            ),
        );
        let regenerate_deleted = server.call("POST", &format!("/integrations/{id}/regenerate"), None).await;
        assert_eq!(regenerate_deleted.status, 409, "{}", regenerate_deleted.text);
        let recreated = server.call("POST", "/integrations", Some(&json!({"type": "Trino"}))).await;
        assert_eq!(recreated.status, 200, "{}: a deleted Trino integration frees the slot", backend.name());
    }
}

#[tokio::test]
async fn missing_integrations_bad_ids_and_unknown_routes_get_their_exact_errors() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        expect_error(&server.call("GET", "/integrations/99", None).await, 404, "No Integration found with ID 99.");
        for (method, path) in [
            ("PUT", "/integrations/99"),
            ("DELETE", "/integrations/99"),
            ("GET", "/integrations/99/status"),
            ("POST", "/integrations/99/regenerate"),
        ] {
            let body = (method == "PUT").then(|| json!({"type": "Trino"}));
            let answer = server.call(method, path, body.as_ref()).await;
            expect_error(&answer, 404, "No integration found with ID 99.");
        }
        for bad in ["abc", "0", "-1", "1.5", "99999999999999999999999"] {
            let answer = server.call("GET", &format!("/integrations/{bad}"), None).await;
            expect_error(&answer, 400, "id must be a positive integer.");
        }
        let answer = server.call("GET", "/integrations?includeDeleted=maybe", None).await;
        expect_error(&answer, 400, "Query parameter includeDeleted must be true or false.");
        let answer = server.call("POST", "/integrations?dryrun=true", Some(&json!({"type": "Trino"}))).await;
        expect_error(&answer, 400, "Query parameter dryrun is not accepted: this route takes dryRun.");
        assert_eq!(server.call("GET", "/integrations", None).await.body, json!([]), "the typo must not create");
        expect_error(&server.call("GET", "/nowhere", None).await, 404, "No such route.");
        expect_error(
            &server.call("PATCH", "/integrations", None).await,
            405,
            "This route does not accept that method.",
        );
        let regenerate = server.call("POST", "/integrations", Some(&redshift("rs.example.com", false))).await;
        let id = regenerate.body["id"].as_u64().unwrap();
        let answer = server.call("POST", &format!("/integrations/{id}/regenerate"), None).await;
        expect_error(
            &answer,
            400,
            &format!(
                "Only Trino integrations have an API key to regenerate; integration {id} is a Redshift integration."
            ),
        );
    }
}

#[tokio::test]
async fn keys_are_checked_on_every_route_but_the_probes_and_docs() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let unauthorized =
            "A valid API key is required in the Authorization header (Authorization: <key> or Bearer <key>).";
        expect_error(&server.send("GET", "/integrations", None, None).await, 401, unauthorized);
        expect_error(&server.send("GET", "/integrations", Some("wdn_nope"), None).await, 401, unauthorized);
        expect_error(&server.send("POST", "/integrations", Some(""), None).await, 401, unauthorized);
        for header in [ADMIN_KEY.to_owned(), format!("Bearer {ADMIN_KEY}"), format!("bearer {ADMIN_KEY}")] {
            assert_eq!(server.send("GET", "/integrations", Some(&header), None).await.status, 200, "{header}");
        }
        for open in ["/healthz", "/readyz", "/openapi.json", "/docs/", "/schemas/Redshift.json"] {
            assert_eq!(server.send("GET", open, None, None).await.status, 200, "{open}");
        }
        let openapi = server.send("GET", "/openapi.json", None, None).await;
        assert_eq!(openapi.body["openapi"], "3.1.0");
        for path in
            ["/integrations", "/integrations/{id}", "/integrations/{id}/status", "/integrations/{id}/regenerate"]
        {
            assert!(openapi.body["paths"][path].is_object(), "{path} missing from the OpenAPI document");
        }
        let docs = server.send("GET", "/docs/", None, None).await;
        assert!(docs.text.contains("swagger-ui"), "the docs page is served from the binary");

        // A key made on the command line with another permission is known but forbidden.
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_warden-under-test"));
        command.args(["keys", "create", "--name", "s3-only", "--permission", "CREATE_S3_DATASOURCE", "--data-dir"]);
        command.arg(server.data_dir()).env("WARDEN_MASTER_KEY", common::MASTER_KEY);
        if let Backend::Postgres(url) = &backend {
            command.arg("--database-url").arg(url);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        assert!(key.starts_with("wdn_"), "{key}");
        let answer = server.send("GET", "/integrations", Some(&format!("Bearer {key}")), None).await;
        expect_error(&answer, 403, "This API key does not have the APPLICATION_ADMIN permission.");
        let refused = std::process::Command::new(env!("CARGO_BIN_EXE_warden-under-test"))
            .args(["keys", "create", "--permission", "ROOT"])
            .output()
            .unwrap();
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("ROOT is not a permission"));
    }
}

#[tokio::test]
async fn bad_and_hostile_bodies_get_a_400_naming_the_field_and_nothing_stored_is_lost() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let kept = enabled(&server, &redshift("kept.example.com", false)).await;
        let before = server.call("GET", "/integrations", None).await.body;

        let mut typo = redshift("rs.example.com", false);
        typo["config"]["warehuose"] = json!("x");
        typo["extra"] = json!(1);
        let answer = server.call("POST", "/integrations", Some(&typo)).await;
        assert_eq!(answer.status, 400, "{}", answer.text);
        let paths: Vec<&str> =
            answer.body["errors"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
        assert!(paths.contains(&"config.warehuose") && paths.contains(&"extra"), "{paths:?}");

        let mut wrong_type = redshift("rs.example.com", false);
        wrong_type["autoBootstrap"] = json!("yes");
        wrong_type["config"]["port"] = json!("5439; DROP TABLE integrations");
        let answer = server.call("POST", "/integrations", Some(&wrong_type)).await;
        let paths: Vec<&str> =
            answer.body["errors"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
        assert!(paths.contains(&"autoBootstrap") && paths.contains(&"config.port"), "{}", answer.text);

        let malformed = server
            .send("POST", "/integrations", Some(ADMIN_KEY), Some(("application/json", b"{\"type\": ".to_vec())))
            .await;
        assert_eq!(malformed.status, 400, "{}", malformed.text);
        assert!(message(&malformed).starts_with("Unable to read the request body"), "{}", malformed.text);

        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let answer =
            server.send("POST", "/integrations", Some(ADMIN_KEY), Some(("application/json", deep.into_bytes()))).await;
        assert_eq!(answer.status, 400, "{}", answer.text);

        for size in [1024 * 1024 + 1, 4 * 1024 * 1024] {
            let huge = vec![b' '; size];
            let answer = server.send("POST", "/integrations", Some(ADMIN_KEY), Some(("application/json", huge))).await;
            expect_error(&answer, 413, "The request body is larger than 1 MiB.");
        }

        let answer =
            server.send("POST", "/integrations", Some(ADMIN_KEY), Some(("application/xml", b"<a/>".to_vec()))).await;
        expect_error(
            &answer,
            415,
            "Content type application/xml is not accepted: send application/json or application/yaml.",
        );

        let empty = server.send("POST", "/integrations", Some(ADMIN_KEY), Some(("application/json", Vec::new()))).await;
        assert_eq!(empty.status, 400);
        assert!(empty.text.contains("the body is empty"), "{}", empty.text);

        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        let answer = server
            .send("POST", "/integrations", Some(ADMIN_KEY), Some(("application/yaml", bomb.as_bytes().to_vec())))
            .await;
        assert_eq!(answer.status, 400, "{}", answer.text);

        // SQL metacharacters in a name: refused with the field named, or stored verbatim.
        let mut sql = redshift("sql.example.com", false);
        sql["config"]["database"] = json!("w'; DROP TABLE integrations; --");
        let answer = server.call("POST", "/integrations", Some(&sql)).await;
        if answer.status == 400 {
            assert!(answer.text.contains("config.database"), "{}", answer.text);
        } else {
            assert_eq!(answer.status, 200, "{}", answer.text);
            let id = answer.body["id"].as_u64().unwrap();
            let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
            // Redshift folds names to lower case; the stored config shows the folded name.
            assert_eq!(shown.body["config"]["database"], "w'; drop table integrations; --");
            server.settled(id).await;
            server.call("DELETE", &format!("/integrations/{id}?forceDisable=true"), None).await;
        }

        let after = server.call("GET", "/integrations", None).await.body;
        let kept_before: Vec<&Value> = before.as_array().unwrap().iter().filter(|i| i["id"] == kept).collect();
        let kept_after: Vec<&Value> = after.as_array().unwrap().iter().filter(|i| i["id"] == kept).collect();
        assert_eq!(kept_before, kept_after, "{}: hostile input changed a stored integration", backend.name());
        assert_eq!(server.call("GET", "/healthz", None).await.status, 200);
        assert!(!server.logs().contains("panicked"), "{}", server.logs());
    }
}

#[tokio::test]
async fn yaml_and_json_bodies_give_the_same_answer() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let json_body = redshift("yaml.example.com", false);
        let yaml_body = "type: Redshift\nautoBootstrap: false\nconfig:\n  host: yaml.example.com\n  database: warden\n  authenticationType: userPassword\n  username: warden_system\n  password: S3CRET-system-pw\n";
        let from_json = server.call("POST", "/integrations?dryRun=true", Some(&json_body)).await;
        for content_type in ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", ""] {
            let from_yaml = server
                .send(
                    "POST",
                    "/integrations?dryRun=true",
                    Some(ADMIN_KEY),
                    Some((content_type, yaml_body.as_bytes().to_vec())),
                )
                .await;
            assert_eq!(
                (from_yaml.status, common::without_durations(&from_yaml.body)),
                (from_json.status, common::without_durations(&from_json.body)),
                "{content_type}"
            );
        }
        let mut bad_json = json_body.clone();
        bad_json["config"]["port"] = json!(0);
        let bad_yaml = yaml_body.replace("database: warden\n", "database: warden\n  port: 0\n");
        let from_json = server.call("POST", "/integrations", Some(&bad_json)).await;
        let from_yaml = server
            .send("POST", "/integrations", Some(ADMIN_KEY), Some(("application/yaml", bad_yaml.into_bytes())))
            .await;
        assert_eq!(from_json.status, 400);
        assert_eq!(from_json.body["errors"], from_yaml.body["errors"], "{}", from_yaml.text);
        let created = server
            .send("POST", "/integrations", Some(ADMIN_KEY), Some(("application/yaml", yaml_body.as_bytes().to_vec())))
            .await;
        assert_eq!(created.status, 200, "{}", created.text);
        let id = created.body["id"].as_u64().unwrap();
        let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
        assert_eq!(shown.body["config"]["password"], "[REDACTED]");
        assert_eq!(shown.body["config"]["host"], "yaml.example.com");
    }
}

#[tokio::test]
async fn validation_failures_answer_422_and_dry_runs_store_nothing() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let answer = server.call("POST", "/integrations", Some(&redshift("failconnect.example.com", false))).await;
        expect_error(&answer, 422, "Validation of prerequisite setup failed. Unable to create integration.");
        let results = &answer.body["validationResults"];
        assert_eq!(results["status"], "failed", "{}", answer.text);
        let tests = results["validationTests"].as_array().unwrap();
        assert_eq!(tests[0]["status"], "failed");
        assert!(tests[0]["message"].as_str().unwrap().contains("password authentication failed"));
        assert!(tests.iter().skip(1).all(|t| t["status"] == "skipped"), "{results}");

        let dry =
            server.call("POST", "/integrations?dryRun=true", Some(&redshift("failcheck.example.com", true))).await;
        assert_eq!(dry.status, 200, "{}", dry.text);
        assert_eq!(dry.body["validationResults"]["status"], "failed");
        let dry = server.call("POST", "/integrations?dryRun=true", Some(&redshift("fine.example.com", false))).await;
        assert_eq!((dry.status, &dry.body["validationResults"]["status"]), (200, &json!("passed")), "{}", dry.text);
        assert!(dry.body.get("id").is_none());
        let all = server.call("GET", "/integrations?includeDeleted=true", None).await;
        assert_eq!(all.body, json!([]), "{}: a dry run or a refused create stored something", backend.name());

        let synapse = json!({"type": "Azure Synapse Analytics", "autoBootstrap": false, "config": {
            "host": "acme.sql.azuresynapse.net", "database": "analytics", "schema": "warden_views",
            "authenticationType": "userPassword", "username": "warden_system", "password": "S3CRET-synapse"}});
        let answer = server.call("POST", "/integrations", Some(&synapse)).await;
        expect_error(
            &answer,
            501,
            "This version of Warden cannot connect to Azure Synapse Analytics yet, so it cannot validate or set up this integration. The payload itself is valid.",
        );
    }
}

#[tokio::test]
async fn host_conflicts_and_a_failed_automatic_create_follow_the_contract() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let first = enabled(&server, &redshift("taken.example.com", false)).await;
        let answer = server.call("POST", "/integrations", Some(&redshift("taken.example.com", true))).await;
        expect_error(
            &answer,
            409,
            &format!("Redshift integration already exists on taken.example.com (id = {first})."),
        );

        let failed = created(&server, &redshift("failsetup.example.com", true)).await;
        let status = server.settled(failed).await;
        assert_eq!(status["status"], "createError", "{status}");
        assert!(status["message"].as_str().unwrap().contains("Warden removed what it had created"), "{status}");
        let answer = server.call("POST", "/integrations", Some(&redshift("failsetup.example.com", false))).await;
        expect_error(
            &answer,
            400,
            &format!(
                "Use PUT /integrations/{failed} endpoint to update connection information for Redshift integration on host failsetup.example.com (id = {failed}) that previously failed to create."
            ),
        );

        // A failed create may change anything but its type; a failing validation puts it back.
        let answer = server
            .call("PUT", &format!("/integrations/{failed}"), Some(&redshift("failconnect.example.com", true)))
            .await;
        expect_error(&answer, 422, &format!("Unable to edit integration with ID {failed}, validation failed."));
        assert_eq!(
            server.call("GET", &format!("/integrations/{failed}/status"), None).await.body["status"],
            "createError"
        );
        let answer =
            server.call("PUT", &format!("/integrations/{failed}"), Some(&redshift("taken.example.com", true))).await;
        expect_error(
            &answer,
            409,
            &format!("Redshift integration already exists on taken.example.com (id = {first})."),
        );
        let fixed =
            server.call("PUT", &format!("/integrations/{failed}"), Some(&redshift("fixed.example.com", true))).await;
        assert_eq!((fixed.status, fixed.body["status"].as_str()), (200, Some("creating")), "{}", fixed.text);
        assert_eq!(server.settled(failed).await["status"], "enabled");
        let shown = server.call("GET", &format!("/integrations/{failed}"), None).await;
        assert_eq!(shown.body["config"]["host"], "fixed.example.com");
        assert_eq!(
            shown.body["config"]["username"], "warden_system",
            "the system account is stored, not the privileged one"
        );

        // The privileged password is in no response, log line or stored cell.
        let logs = server.logs();
        assert!(!logs.contains("S3CRET-privileged-pw"), "the privileged password reached the log");
        assert!(logs.contains("DEBUG"), "the log is at debug level, so the check above means something");
        for cell in stored_cells(&server, &backend).await {
            assert!(!cell.contains("S3CRET"), "{}: a secret is readable in the store: {cell}", backend.name());
        }
    }
}

/// Every cell of every table, as text (SQLite: the raw database file too).
async fn stored_cells(server: &Server, backend: &Backend) -> Vec<String> {
    match backend {
        Backend::Sqlite => {
            let mut cells = Vec::new();
            for file in ["warden.db", "warden.db-wal"] {
                if let Ok(bytes) = std::fs::read(server.data_dir().join(file)) {
                    cells.push(String::from_utf8_lossy(&bytes).into_owned());
                }
            }
            assert!(!cells.is_empty(), "no database file found");
            cells
        }
        Backend::Postgres(url) => {
            use sqlx::{Connection as _, Row as _};
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let mut cells = Vec::new();
            for table in ["integrations", "jobs", "api_keys", "audit_log"] {
                let sql = format!("SELECT t::text AS row FROM {table} t");
                for row in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut conn).await.unwrap() {
                    cells.push(row.get::<String, _>("row"));
                }
            }
            assert!(cells.len() > 3, "the store is empty");
            cells
        }
    }
}

#[tokio::test]
async fn edits_check_non_editable_attributes_and_keep_secrets_unless_replaced() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let id = enabled(&server, &redshift("slowedit.example.com", false)).await;
        let path = format!("/integrations/{id}");

        let mut moved = redshift("elsewhere.example.com", false);
        moved["config"]["database"] = json!("other");
        let answer = server.call("PUT", &path, Some(&moved)).await;
        expect_error(&answer, 400, "Unable to edit integration due to changes of non-editable attribute(s).");
        assert_eq!(answer.body["attributes"], json!(["config.host", "config.database"]));
        let answer = server.call("PUT", &path, Some(&databricks("dbc-1.cloud.databricks.com"))).await;
        assert_eq!(answer.body["attributes"], json!(["type"]), "{}", answer.text);

        let dry =
            server.call("PUT", &format!("{path}?dryRun=true"), Some(&redshift("slowedit.example.com", false))).await;
        assert_eq!(dry.body["validationResults"]["status"], "passed", "{}", dry.text);
        assert_eq!(server.call("GET", &format!("{path}/status"), None).await.body["status"], "enabled");

        let mut edit = redshift("slowedit.example.com", false);
        edit["config"]["password"] = json!("[REDACTED]");
        edit["config"]["impersonation"] = json!({"enabled": true, "role": "warden_impersonation"});
        let answer = server.call("PUT", &path, Some(&edit)).await;
        assert_eq!((answer.status, answer.body["status"].as_str()), (200, Some("editing")), "{}", answer.text);
        expect_error(
            &server.call("PUT", &path, Some(&edit)).await,
            409,
            &format!("Unable to edit integration with ID {id} in current state editing."),
        );
        expect_error(
            &server.call("DELETE", &path, None).await,
            409,
            &format!("Unable to edit integration with ID {id} in current state editing."),
        );
        assert_eq!(server.settled(id).await["status"], "enabled");
        let shown = server.call("GET", &path, None).await;
        assert_eq!(shown.body["config"]["impersonation"]["enabled"], true, "{}", shown.text);
        assert_eq!(shown.body["config"]["password"], "[REDACTED]");

        // A failed edit leaves the previous config in force.
        let failing = enabled(&server, &redshift("failedit.example.com", false)).await;
        let mut edit = redshift("failedit.example.com", false);
        edit["config"]["impersonation"] = json!({"enabled": true});
        assert_eq!(server.call("PUT", &format!("/integrations/{failing}"), Some(&edit)).await.status, 200);
        let status = server.settled(failing).await;
        assert_eq!(status["status"], "editError", "{status}");
        assert!(status["message"].as_str().unwrap().contains("previous configuration is still in force"));
        let shown = server.call("GET", &format!("/integrations/{failing}"), None).await;
        assert_eq!(shown.body["config"]["impersonation"]["enabled"], false, "{}", shown.text);
    }
}

#[tokio::test]
async fn deletes_follow_the_credential_rules_dry_run_and_force_disable() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let credentials = json!({"config": {"authenticationType": "userPassword", "username": "awsuser", "password": "S3CRET-privileged-pw"}});

        let manual = enabled(&server, &redshift("manual.example.com", false)).await;
        expect_error(
            &server.call("DELETE", &format!("/integrations/{manual}"), Some(&credentials)).await,
            400,
            "Credentials are not required for disable unless the integration was configured automatically. If you need to update your integration credentials, use PUT to update the integration before disabling.",
        );
        let dbx = enabled(&server, &databricks("dbc-a1b2.cloud.databricks.com")).await;
        expect_error(
            &server.call("DELETE", &format!("/integrations/{dbx}"), Some(&json!({"config": {"token": "x"}}))).await,
            400,
            "Credentials are not required to disable a Databricks Unity Catalog integration. If you need to update your integration credentials, use PUT to update the integration before disabling.",
        );
        let auto = enabled(&server, &redshift("auto.example.com", true)).await;
        let path = format!("/integrations/{auto}");
        expect_error(
            &server.call("DELETE", &path, None).await,
            400,
            "Integrations that are automatically configured require privileged credentials to disable. Please provide them in your payload.",
        );
        let mut sneaky = credentials.clone();
        sneaky["config"]["database"] = json!("other");
        let answer = server.call("DELETE", &path, Some(&sneaky)).await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.body["errors"][0]["path"], "config.database", "{}", answer.text);

        let mut wrong = credentials.clone();
        wrong["config"]["password"] = json!("S3CRET-wrong-pw");
        let answer = server.call("DELETE", &path, Some(&wrong)).await;
        expect_error(&answer, 422, &format!("Unable to delete integration with ID {auto}, validation failed."));
        assert_eq!(answer.body["validationResults"]["status"], "failed", "{}", answer.text);
        assert_eq!(server.call("GET", &format!("{path}/status"), None).await.body["status"], "enabled");

        let dry = server.call("DELETE", &format!("{path}?dryRun=true"), Some(&credentials)).await;
        assert_eq!(dry.body["validationResults"]["status"], "passed", "{}", dry.text);
        assert_eq!(server.call("GET", &format!("{path}/status"), None).await.body["status"], "enabled");
        let answer = server.call("DELETE", &path, Some(&credentials)).await;
        assert_eq!(answer.body["status"], "deleting", "{}", answer.text);
        assert_clean(&answer);
        assert_eq!(server.settled(auto).await["status"], "deleted");

        let answer = server.call("DELETE", &format!("/integrations/{manual}?forceDisable=true"), None).await;
        assert_eq!(answer.body["status"], "disabled", "{}", answer.text);
        assert!(message(&answer).contains("delete script"), "{}", answer.text);
        assert_eq!(server.call("GET", &format!("/integrations/{manual}"), None).await.body["status"], "disabled");
        let again = server.call("DELETE", &format!("/integrations/{manual}"), None).await;
        expect_error(
            &again,
            409,
            &format!(
                "Unable to edit integration with ID {manual} in current state disabled. It is no longer in use: POST /integrations creates it again."
            ),
        );

        let stuck = enabled(&server, &redshift("faildelete.example.com", false)).await;
        assert_eq!(server.call("DELETE", &format!("/integrations/{stuck}"), None).await.status, 200);
        let status = server.settled(stuck).await;
        assert_eq!(status["status"], "deleteError", "{status}");
        let shown = server.call("GET", &format!("/integrations/{stuck}"), None).await;
        assert_eq!(shown.body["config"]["host"], "faildelete.example.com");
        assert!(!server.logs().contains("S3CRET-privileged-pw"));
    }
}

#[tokio::test]
async fn a_store_failure_answers_a_5xx_with_a_request_id_and_no_internals() {
    let Ok(admin_url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_POSTGRES_URL");
        return;
    };
    let url = common::fresh_database(&admin_url).await;
    let server = Server::start(&Backend::Postgres(url.clone())).await;
    let doomed = enabled(&server, &redshift("doomed.example.com", false)).await;
    let name = url.rsplit('/').next().unwrap();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&mut admin).await.unwrap();

    // A change reads the store (reads may be answered from the read cache until its
    // notification connection is seen gone).
    let answer = server.call("DELETE", &format!("/integrations/{doomed}?forceDisable=true"), None).await;
    assert!(answer.status >= 500, "{}", answer.text);
    let request_id = answer.body["requestId"].as_str().expect("a 5xx body carries the request id");
    let text = answer.text.to_lowercase();
    for internal in ["sqlx", "database", "postgres", "connection", "does not exist"] {
        assert!(!text.contains(internal), "a 5xx body carries internals ({internal}): {}", answer.text);
    }
    let logs = server.logs();
    let detail = logs.lines().find(|l| l.contains(request_id) && l.contains("store error"));
    assert!(detail.is_some(), "the log has the detail under {request_id}: {logs}");
    let ready = server.send("GET", "/readyz", None, None).await;
    assert_eq!(ready.status, 503, "{}", ready.text);
}

/// The list's extensions: by type and status, and a page at a time, where a walk sees every
/// integration exactly once while integrations are created during it; a write is visible
/// to the next read; bad parameters are 400s naming them.
#[tokio::test]
async fn the_list_filters_and_pages() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(enabled(&server, &redshift(&format!("list{i}.example.com"), false)).await);
        }
        let trino = created(&server, &json!({"type": "Trino"})).await;
        assert_eq!(server.settled(trino).await["status"], "enabled");
        let extra = created(&server, &redshift("list-extra.example.com", false)).await;
        let ids_of = |answer: &Answer| -> Vec<u64> {
            answer.body.as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect()
        };

        let redshifts = server.call("GET", "/integrations?type=Redshift", None).await;
        assert_eq!(redshifts.status, 200, "{}", redshifts.text);
        assert!(ids_of(&redshifts).iter().all(|id| *id != trino), "{}", redshifts.text);
        assert_eq!(ids_of(&redshifts).len(), 6, "{}: {}", backend.name(), redshifts.text);
        let trinos = server.call("GET", "/integrations?type=Trino&status=enabled", None).await;
        assert_eq!(ids_of(&trinos), [trino], "{}", trinos.text);
        assert!(trinos.link.is_none(), "no Link without a limit");

        // A walk of pages of two, with an integration created between pages.
        let mut seen = Vec::new();
        let mut next = Some("/integrations?limit=2".to_owned());
        let mut made = Vec::new();
        while let Some(path) = next.take() {
            let page = server.call("GET", &path, None).await;
            assert_eq!(page.status, 200, "{path}: {}", page.text);
            let page_ids = ids_of(&page);
            assert!(page_ids.len() <= 2, "{path}: {}", page.text);
            seen.extend(page_ids);
            if made.len() < 2 {
                made.push(enabled(&server, &redshift(&format!("during{}.example.com", made.len()), false)).await);
            }
            next = page.link.as_deref().map(|link| {
                assert!(link.ends_with(">; rel=\"next\""), "{link}");
                link.trim_start_matches('<').split('>').next().unwrap().to_owned()
            });
        }
        let mut expected: Vec<u64> = ids.iter().copied().chain([trino, extra]).chain(made.iter().copied()).collect();
        expected.sort_unstable();
        assert_eq!(seen, expected, "{}: every integration exactly once, in id order", backend.name());

        // A write is visible to the next read.
        let deleted = server.call("DELETE", &format!("/integrations/{}", ids[0]), None).await;
        assert_eq!(deleted.status, 200, "{}", deleted.text);
        assert_eq!(server.settled(ids[0]).await["status"], "deleted");
        let listed = server.call("GET", "/integrations?type=Redshift", None).await;
        assert!(!ids_of(&listed).contains(&ids[0]), "{}", listed.text);
        let gone = server.call("GET", "/integrations?status=deleted", None).await;
        assert_eq!(ids_of(&gone), [ids[0]], "asking for the status lists deleted ones: {}", gone.text);

        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=ten", "limit"),
            ("after=-1", "after"),
            ("type=Oracle", "type"),
            ("status=broken", "status"),
            ("includeDeleted=maybe", "includeDeleted"),
        ] {
            let answer = server.call("GET", &format!("/integrations?{query}"), None).await;
            assert_eq!(answer.status, 400, "{query}: {}", answer.text);
            assert!(
                message(&answer).starts_with(&format!("Query parameter {parameter} must be")),
                "{query}: {}",
                answer.text
            );
        }
        let unknown = server.call("GET", "/integrations?page=2", None).await;
        expect_error(
            &unknown,
            400,
            "Query parameter page is not accepted: this route takes includeDeleted, type, status, after, limit.",
        );
    }
}

/// Labels (an extension): kept, shown by every answer, replaced by a PUT; a bad one is a
/// 400 naming `labels.<key>` and the stored integration keeps its labels.
#[tokio::test]
async fn labels_are_kept_shown_replaced_and_checked() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let mut payload = redshift("labels.example.com", false);
        payload["labels"] = json!({"name": "analytics", "team": "data-platform"});
        let id = enabled(&server, &payload).await;
        let shown = server.call("GET", &format!("/integrations/{id}"), None).await;
        assert_eq!(shown.body["labels"], json!({"name": "analytics", "team": "data-platform"}), "{}", shown.text);
        let listed = server.call("GET", "/integrations", None).await;
        assert_eq!(listed.body[0]["labels"]["team"], "data-platform", "{}", listed.text);

        for (labels, path) in [
            (json!({"Robert'); DROP TABLE integrations;--": "x"}), "labels.Robert'); DROP TABLE integrations;--"),
            (json!({"team": {"nested": true}}), "labels.team"),
            (json!({"team": "x".repeat(257)}), "labels.team"),
            (json!("team"), "labels"),
        ] {
            let mut bad = payload.clone();
            bad["labels"] = labels;
            let answer = server.call("PUT", &format!("/integrations/{id}"), Some(&bad)).await;
            assert_eq!(answer.status, 400, "{}", answer.text);
            assert_eq!(answer.body["errors"][0]["path"], path, "{}", answer.text);
        }
        let kept = server.call("GET", &format!("/integrations/{id}"), None).await;
        assert_eq!(kept.body["labels"]["name"], "analytics", "a refused PUT changed nothing: {}", kept.text);

        payload["labels"] = json!({"team": "finance"});
        let replaced = server.call("PUT", &format!("/integrations/{id}"), Some(&payload)).await;
        assert_eq!(replaced.status, 200, "{}", replaced.text);
        server.settled(id).await;
        let after = server.call("GET", &format!("/integrations/{id}"), None).await;
        assert_eq!(after.body["labels"], json!({"team": "finance"}), "{}", after.text);
    }
}

/// `GET /audit`: who (the key, by name) did what to which integration, oldest first, with
/// the field-by-field difference (secrets `[REDACTED]`); filters and paging; bad values
/// are a 400 naming the parameter.
#[tokio::test]
async fn the_audit_log_says_who_did_what_field_by_field() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let mut payload = redshift("audit.example.com", false);
        let id = enabled(&server, &payload).await;
        payload["config"]["port"] = json!(5440);
        payload["config"]["password"] = json!("S3CRET-new-password");
        let updated = server.call("PUT", &format!("/integrations/{id}"), Some(&payload)).await;
        assert_eq!(updated.status, 200, "{}", updated.text);
        server.settled(id).await;

        // The worker records its move just after the status it settles is visible: wait for
        // both of its entries (the create's and the update's) before reading the log whole.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let answer = loop {
            let answer = server.call("GET", &format!("/audit?integrationId={id}"), None).await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            let moves = answer.body.as_array().unwrap().iter().filter(|e| e["action"] == "Succeeded").count();
            if moves == 2 {
                break answer;
            }
            assert!(std::time::Instant::now() < deadline, "{}", answer.text);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(!answer.text.contains("S3CRET"), "a secret reached the audit answer: {}", answer.text);
        let entries = answer.body.as_array().unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
        let create = actions.iter().position(|a| *a == "create").unwrap_or_else(|| panic!("{actions:?}"));
        let update = actions.iter().position(|a| *a == "update").unwrap_or_else(|| panic!("{actions:?}"));
        assert!(create < update, "oldest first: {actions:?}");
        // Warden's own moves (the worker finishing the setup) are Warden's.
        let finished = entries.iter().find(|e| e["action"] == "Succeeded").unwrap_or_else(|| panic!("{actions:?}"));
        assert_eq!(finished["actor"], "warden", "{finished}");
        assert!(finished["apiKeyId"].is_null(), "{finished}");
        let entry = &entries[update];
        assert_eq!(entry["actor"], "admin", "{entry}");
        assert!(entry["apiKeyId"].as_i64().is_some(), "{entry}");
        assert_eq!(entry["integrationId"], id);
        assert!(entry["at"].as_str().unwrap().ends_with('Z'), "{entry}");
        let port = entry["changes"].as_array().unwrap().iter().find(|c| c["path"] == "config.port");
        assert_eq!(port, Some(&json!({"path": "config.port", "before": 5439, "after": 5440})), "{entry}");

        // Paging and filters.
        let first = entries[0]["id"].as_i64().unwrap();
        let one = server.call("GET", &format!("/audit?integrationId={id}&limit=1"), None).await;
        assert_eq!(one.body.as_array().map(Vec::len), Some(1), "{}", one.text);
        let rest = server.call("GET", &format!("/audit?integrationId={id}&after={first}"), None).await;
        assert_eq!(rest.body.as_array().map(Vec::len), Some(entries.len() - 1), "{}", rest.text);
        let future = server.call("GET", "/audit?since=2999-01-01T00:00:00Z", None).await;
        assert_eq!(future.body, json!([]), "{}", future.text);
        let other = server.call("GET", "/audit?integrationId=999999", None).await;
        assert_eq!(other.body, json!([]), "{}", other.text);

        for (query, parameter) in [
            ("since=yesterday", "since"),
            ("limit=0", "limit"),
            ("integrationId=-1", "integrationId"),
            ("after=x';--", "after"),
        ] {
            let bad = server.call("GET", &format!("/audit?{query}"), None).await;
            assert_eq!(bad.status, 400, "{query}: {}", bad.text);
            assert!(message(&bad).contains(parameter), "{query}: {}", bad.text);
        }
        let unknown = server.call("GET", "/audit?actor=admin", None).await;
        assert_eq!(unknown.status, 400, "{}", unknown.text);
        let anonymous = server.send("GET", "/audit", None, None).await;
        assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    }
}

/// The value of the sample `name` whose labels include `labels`, in a scrape.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.samples.iter().find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))).map(
        |s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            // A histogram's observations: its +Inf bucket's count.
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(f64::NAN, |b| b.count),
            _ => f64::NAN,
        },
    )
}

async fn scrape(server: &Server, key: Option<&str>) -> (u16, Option<prometheus_parse::Scrape>) {
    let answer = server.send("GET", "/metrics", key, None).await;
    let lines = answer.text.lines().map(|l| Ok(l.to_owned()));
    (answer.status, (answer.status == 200).then(|| prometheus_parse::Scrape::parse(lines).unwrap()))
}

/// `GET /metrics`: Prometheus' text format, parsed; counters checked after known requests
/// (requests by route and status, the create job and its validation tests, integrations by
/// type and status, the store's pool); open to a loopback client by default, a key with
/// `--metrics-access key`.
#[tokio::test]
async fn metrics_count_requests_jobs_tests_and_integrations() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        for _ in 0..3 {
            assert_eq!(server.send("GET", "/healthz", None, None).await.status, 200);
        }
        assert_eq!(server.send("GET", "/integrations/999", Some(ADMIN_KEY), None).await.status, 404);
        enabled(&server, &redshift("metrics.example.com", false)).await;

        // The worker counts its job just after the status it settles is visible.
        let job = [("platform", "Redshift"), ("operation", "create"), ("outcome", "enabled")];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let scraped = loop {
            let (status, scraped) = scrape(&server, None).await;
            assert_eq!(status, 200, "a loopback client needs no key by default");
            let scraped = scraped.unwrap();
            if sample(&scraped, "warden_jobs_total", &job).is_some() || std::time::Instant::now() > deadline {
                break scraped;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        let healthz = [("method", "GET"), ("route", "/healthz"), ("status", "200")];
        assert_eq!(sample(&scraped, "warden_http_requests_total", &healthz), Some(3.0));
        let missing = [("route", "/integrations/:id"), ("status", "404")];
        assert_eq!(sample(&scraped, "warden_http_requests_total", &missing), Some(1.0));
        let latency = [("method", "GET"), ("route", "/healthz")];
        assert_eq!(sample(&scraped, "warden_http_request_duration_seconds", &latency), Some(3.0));
        assert_eq!(sample(&scraped, "warden_jobs_total", &job), Some(1.0));
        assert_eq!(sample(&scraped, "warden_job_duration_seconds", &job), Some(1.0));
        let connection =
            [("platform", "Redshift"), ("test", "Initial validation: basic connection test"), ("status", "passed")];
        assert!(sample(&scraped, "warden_validation_tests_total", &connection).unwrap_or(0.0) >= 1.0);
        assert_eq!(
            sample(&scraped, "warden_integrations", &[("platform", "Redshift"), ("status", "enabled")]),
            Some(1.0)
        );
        assert_eq!(
            sample(&scraped, "warden_integrations", &[("platform", "Redshift"), ("status", "deleted")]),
            Some(0.0)
        );
        assert!(sample(&scraped, "warden_store_connections", &[("state", "idle")]).is_some());

        let guarded = Server::start_with(&backend, &["--metrics-access", "key"]).await;
        assert_eq!(scrape(&guarded, None).await.0, 401);
        assert_eq!(scrape(&guarded, Some(ADMIN_KEY)).await.0, 200);
    }
}

/// One server-sent event: its id, name and data.
#[derive(Debug, Clone)]
struct Sent {
    id: i64,
    name: String,
    data: Value,
}

/// Reads events from an open stream until `wanted` says it has them all (10 s at most).
async fn read_events(
    response: &mut reqwest::Response,
    buffer: &mut String,
    wanted: impl Fn(&[Sent]) -> bool,
) -> Vec<Sent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !wanted(&seen) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await;
        let chunk =
            chunk.unwrap_or_else(|_| panic!("no more events after {seen:?}")).unwrap().expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_owned()))
            };
            if let (Some(id), Some(name), Some(data)) = (field("id"), field("event"), field("data")) {
                seen.push(Sent { id: id.parse().unwrap(), name, data: serde_json::from_str(&data).unwrap() });
            }
        }
    }
    seen
}

async fn open_events(server: &Server, last_event_id: Option<i64>) -> reqwest::Response {
    let mut request = common::http().get(format!("{}/events", server.base)).header("Authorization", ADMIN_KEY);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    response
}

/// `GET /events`: a client sees the events of a create in order (the request, then the
/// worker's status move), and after a disconnect resumes with `Last-Event-ID` without losing
/// or repeating one.
#[tokio::test]
async fn events_stream_every_change_in_order_and_resume_after_a_disconnect() {
    for backend in backends().await {
        let server = Server::start(&backend).await;
        let mut stream = open_events(&server, None).await;
        let mut buffer = String::new();
        let mut payload = redshift("events.example.com", false);
        let id = enabled(&server, &payload).await;
        let created =
            read_events(&mut stream, &mut buffer, |seen| seen.iter().any(|e| e.data["action"] == "Succeeded")).await;
        let actions: Vec<&str> = created.iter().map(|e| e.data["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["create", "validated", "Succeeded"], "{created:?}");
        // The request's validation outcome is an event of its own.
        let validated = &created[1];
        assert_eq!(validated.name, "validation", "{validated:?}");
        let outcome = validated.data["changes"].as_array().unwrap().iter().find(|c| c["path"] == "validation.status");
        assert_eq!(outcome.unwrap()["after"], "passed", "{validated:?}");
        let created: Vec<Sent> = created.into_iter().filter(|e| e.name != "validation").collect();
        assert!(created.windows(2).all(|w| w[0].id < w[1].id), "in order: {created:?}");
        assert!(created.iter().all(|e| e.data["integrationId"] == id), "{created:?}");
        let settled = &created[1];
        assert_eq!(settled.name, "status", "{settled:?}");
        let moved = settled.data["changes"].as_array().unwrap().iter().find(|c| c["path"] == "status").unwrap();
        assert_eq!((moved["before"].as_str(), moved["after"].as_str()), (Some("creating"), Some("enabled")));
        assert!(
            !serde_json::to_string(&created.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap().contains("S3CRET")
        );

        // Disconnected while an edit runs: resuming after the last event seen loses nothing.
        let last = created.last().unwrap().id;
        drop(stream);
        payload["config"]["port"] = json!(5441);
        assert_eq!(server.call("PUT", &format!("/integrations/{id}"), Some(&payload)).await.status, 200);
        server.settled(id).await;
        let mut resumed = open_events(&server, Some(last)).await;
        let mut buffer = String::new();
        let after =
            read_events(&mut resumed, &mut buffer, |seen| seen.iter().any(|e| e.data["action"] == "Succeeded")).await;
        let actions: Vec<&str> =
            after.iter().map(|e| e.data["action"].as_str().unwrap()).filter(|a| *a != "validated").collect();
        assert_eq!(actions, ["update", "Succeeded"], "{after:?}");
        assert_eq!(after[0].id, last + 1, "the first event after the one seen: {after:?}");

        assert_eq!(server.send("GET", "/events", None, None).await.status, 401);
        let resume = common::http().get(format!("{}/events", server.base)).header("Authorization", ADMIN_KEY);
        let refused = resume.header("Last-Event-ID", "x';--").send().await.unwrap();
        assert_eq!(refused.status(), 400, "a Last-Event-ID that is not one is refused, naming it");
        assert!(refused.text().await.unwrap().contains("Header Last-Event-ID must be an event id"));
    }
}

/// On PostgreSQL a stream carries the events of every process: a change made through one
/// process reaches a client of another (woken by the audit log's notification).
#[tokio::test]
async fn events_of_another_process_arrive_on_postgresql() {
    for backend in backends().await.into_iter().filter(|b| matches!(b, Backend::Postgres(_))) {
        let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let watched = Server::start_in(&backend, dirs.0.path(), None, &[]).await;
        let changed = Server::start_in(&backend, dirs.1.path(), None, &[]).await;
        let mut stream = open_events(&watched, None).await;
        let mut buffer = String::new();
        let id = enabled(&changed, &redshift("elsewhere.example.com", false)).await;
        let seen =
            read_events(&mut stream, &mut buffer, |seen| seen.iter().any(|e| e.data["action"] == "Succeeded")).await;
        let actions: Vec<&str> = seen.iter().map(|e| e.data["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["create", "validated", "Succeeded"], "{seen:?}");
        assert!(seen.iter().all(|e| e.data["integrationId"] == id), "{seen:?}");
    }
}
