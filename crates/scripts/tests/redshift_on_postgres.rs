//! The Redshift scripts run for real against PostgreSQL (the server `cargo xtask ci`
//! starts): initial-create and create leave the expected database, schemas, user, group,
//! procedures and grants; edit turns impersonation off and on; delete leaves none of them.
//! Statements marked Redshift-only are skipped, and the test prints which and why.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod cases;

use serde_json::json;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, Row as _};
use warden_scripts::{Script, ScriptKind, build};

/// Runs every part of `script`, each on a connection to its database on the server of
/// `admin_url`; returns the statements skipped as Redshift-only.
async fn run(admin_url: &str, script: &Script) -> Vec<String> {
    let base = admin_url.rsplit_once('/').unwrap().0;
    let mut skipped = Vec::new();
    for part in &script.parts {
        let mut conn = PgConnection::connect(&format!("{base}/{}", part.connect_to)).await.expect("connect");
        for statement in &part.statements {
            if let Some(reason) = statement.vendor_only {
                skipped.push(format!("{} -- {reason}", statement.sql));
                continue;
            }
            sqlx::raw_sql(AssertSqlSafe(statement.sql.clone()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", statement.sql));
        }
    }
    skipped
}

async fn count(conn: &mut PgConnection, sql: &str, name: &str) -> i64 {
    sqlx::query(AssertSqlSafe(sql.to_owned())).bind(name).fetch_one(conn).await.unwrap().get::<i64, _>(0)
}

#[tokio::test]
async fn redshift_scripts_create_then_remove_everything_on_postgresql() {
    let Ok(admin_url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_POSTGRES_URL");
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let tag = std::process::id();
    let (database, user, group) =
        (format!("warden_rs_{tag}"), format!("warden_sys_{tag}"), format!("warden_imp_{tag}"));
    let initial = admin_url.rsplit('/').next().unwrap().to_owned();
    let mut payload = cases::redshift(true);
    payload["config"]["database"] = json!(database);
    payload["config"]["initialDatabase"] = json!(initial);
    payload["config"]["username"] = json!(user);
    payload["config"]["impersonation"] = json!({"enabled": true, "role": group});
    let on = cases::spec(&payload);
    payload["config"]["impersonation"]["enabled"] = json!(false);
    let off = cases::spec(&payload);

    let mut skipped = run(&admin_url, &build(ScriptKind::InitialCreate, &on, None).unwrap()).await;
    skipped.extend(run(&admin_url, &build(ScriptKind::Create, &on, None).unwrap()).await);

    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    assert_eq!(count(&mut admin, "SELECT COUNT(*) FROM pg_database WHERE datname = $1", &database).await, 1);
    assert_eq!(count(&mut admin, "SELECT COUNT(*) FROM pg_roles WHERE rolname = $1 AND rolcanlogin", &user).await, 1);
    assert_eq!(count(&mut admin, "SELECT COUNT(*) FROM pg_roles WHERE rolname = $1", &group).await, 1);
    let base = admin_url.rsplit_once('/').unwrap().0;
    let mut db = PgConnection::connect(&format!("{base}/{database}")).await.unwrap();
    for schema in ["warden_system", "warden_functions", "warden_procedures"] {
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1", schema).await, 1, "{schema}");
        let sql = format!("SELECT COUNT(*) FROM (SELECT 1 WHERE has_schema_privilege($1, '{schema}', 'CREATE')) t");
        assert_eq!(count(&mut db, &sql, &user).await, 1, "{user} may create in {schema}");
    }
    let procedures = "SELECT COUNT(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'warden_procedures' AND p.proname = ANY(ARRAY['grant_impersonation', 'revoke_impersonation']) AND $1 <> ''";
    assert_eq!(count(&mut db, procedures, "x").await, 2);
    let can_execute = "SELECT COUNT(*) FROM pg_proc p WHERE p.proname = 'grant_impersonation' AND has_function_privilege($1, p.oid, 'EXECUTE')";
    assert_eq!(count(&mut db, can_execute, &user).await, 1);
    let public_temp = format!(
        "SELECT COUNT(*) FROM (SELECT 1 WHERE has_database_privilege('public', '{database}', 'TEMP') AND $1 <> '') t"
    );
    assert_eq!(count(&mut admin, &public_temp, "x").await, 1);

    // The procedure works: it puts a user into the impersonation group.
    sqlx::raw_sql(AssertSqlSafe(format!("CALL warden_procedures.grant_impersonation('{user}')")))
        .execute(&mut db)
        .await
        .unwrap();
    let member = "SELECT COUNT(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = $1";
    assert_eq!(count(&mut admin, member, &group).await, 1);
    drop(db);

    // Edit: impersonation off removes the group and the procedures; on brings them back.
    skipped.extend(run(&admin_url, &build(ScriptKind::Edit, &off, Some(&on)).unwrap()).await);
    assert_eq!(count(&mut admin, "SELECT COUNT(*) FROM pg_roles WHERE rolname = $1", &group).await, 0);
    skipped.extend(run(&admin_url, &build(ScriptKind::Edit, &on, Some(&off)).unwrap()).await);
    assert_eq!(count(&mut admin, "SELECT COUNT(*) FROM pg_roles WHERE rolname = $1", &group).await, 1);

    skipped.extend(run(&admin_url, &build(ScriptKind::Delete, &on, None).unwrap()).await);
    assert_eq!(count(&mut admin, "SELECT COUNT(*) FROM pg_database WHERE datname = $1", &database).await, 0);
    assert_eq!(count(&mut admin, "SELECT COUNT(*) FROM pg_roles WHERE rolname = $1", &user).await, 0);
    assert_eq!(count(&mut admin, "SELECT COUNT(*) FROM pg_roles WHERE rolname = $1", &group).await, 0);

    // Run again, the cleanup script's second part tolerates what is already gone (its first
    // part connects to the dropped database, which the header tells the administrator).
    let mut cleanup = build(ScriptKind::Cleanup, &off, None).unwrap();
    assert_eq!(cleanup.parts.len(), 2);
    cleanup.parts.remove(0);
    run(&admin_url, &cleanup).await;

    skipped.sort();
    skipped.dedup();
    eprintln!("Redshift-only statements skipped on PostgreSQL:\n  {}", skipped.join("\n  "));
    assert_eq!(skipped.len(), 2, "{skipped:?}");
}
