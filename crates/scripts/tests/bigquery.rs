//! The BigQuery setup script (a bash script of `gcloud` and `bq` commands): pinned as a
//! snapshot; read by `bash -n` and by shellcheck (Debian's package, which `cargo xtask ci`
//! installs and names in `WARDEN_TEST_SHELLCHECK`); run by bash against `gcloud` and `bq`
//! stand-ins that record the arguments they get, so each name is seen to arrive as one
//! argument, unchanged; and hostile names refused with their field, or (through the bash
//! quoting every name goes through) read back by bash exactly as written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use warden_model::IntegrationSpec;
use warden_scripts::{Dialect, ScriptError, ScriptKind, build, prepare_payload};

fn payload(config: Value) -> Value {
    let mut config = config;
    let fields = config.as_object_mut().unwrap();
    for (name, value) in [("role", "wardenRole"), ("datasetSuffix", "_secure"), ("location", "europe-west1")] {
        fields.entry(name).or_insert(json!(value));
    }
    json!({"type": "Google BigQuery", "autoBootstrap": false, "config": config})
}

/// The create script of `payload`, as the endpoint builds it, or the field it refused.
fn script(payload: &Value) -> Result<String, (String, String)> {
    let (payload, _) = prepare_payload(ScriptKind::Create, payload).map_err(|e| match e {
        ScriptError::UnsafeName { field, reason } | ScriptError::Payload { field, reason } => (field, reason),
        other => panic!("{other:?}"),
    })?;
    let spec = IntegrationSpec::from_value(&payload, None)
        .map_err(|problems| (problems[0].path.clone(), problems[0].message.clone()))?;
    match build(ScriptKind::Create, &spec, None) {
        Ok(script) => Ok(script.render()),
        Err(ScriptError::UnsafeName { field, reason }) => Err((field, reason)),
        Err(other) => panic!("{other:?}"),
    }
}

fn by_project() -> Value {
    payload(json!({"projectId": "acme-analytics", "serviceAccount": "warden-gov", "dataset": "warden_meta"}))
}

#[test]
fn the_script_is_pinned() {
    insta::assert_snapshot!("bigquery-create", script(&by_project()).unwrap());
    let with_key = payload(json!({"role": "roles/bigquery.dataOwner", "credential": json!({"type": "service_account",
        "project_id": "acme-analytics", "client_email": "warden@acme-analytics.iam.gserviceaccount.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}).to_string()}));
    let text = script(&with_key).unwrap();
    insta::assert_snapshot!("bigquery-create-predefined-role", text);
    assert!(!text.contains("BEGIN PRIVATE KEY"), "the key never reaches the script");
}

/// `bash -n` reads it, and shellcheck finds nothing in it.
#[test]
fn bash_and_shellcheck_read_it() {
    let text = script(&by_project()).unwrap();
    let file = std::env::temp_dir().join(format!("warden-bq-{}.sh", std::process::id()));
    std::fs::write(&file, &text).unwrap();
    let bash = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(bash.status.success(), "bash -n: {}", String::from_utf8_lossy(&bash.stderr));
    match std::env::var("WARDEN_TEST_SHELLCHECK") {
        Ok(shellcheck) => {
            let checked = Command::new(shellcheck).arg(&file).output().unwrap();
            assert!(checked.status.success(), "shellcheck:\n{}", String::from_utf8_lossy(&checked.stdout));
        }
        Err(_) => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs shellcheck (cargo xtask ci)");
            eprintln!("WARDEN_TEST_SHELLCHECK is not set: shellcheck skipped");
        }
    }
    let _ = std::fs::remove_file(&file);
}

/// Writes a `gcloud` or `bq` stand-in into `dir` that appends its arguments (one per line,
/// each line framed by `<` and `>`) to `calls.log`, and answers "not found" to `describe`
/// and `show` (so the script makes everything).
fn stand_in(dir: &Path, name: &str) {
    let path = dir.join(name);
    let body = format!(
        "#!/usr/bin/env bash\n{{ printf '%s' '{name}'; for a in \"$@\"; do printf ' <%s>' \"$a\"; done; echo; }} >> \"$(dirname \"$0\")/calls.log\"\nfor a in \"$@\"; do case \"$a\" in describe|show) exit 1;; esac; done\nexit 0\n"
    );
    std::fs::write(&path, body).unwrap();
    Command::new("chmod").arg("+x").arg(&path).status().unwrap();
}

/// Run by bash against stand-ins, each command gets each name as one argument.
#[test]
fn run_against_stand_ins_every_name_arrives_as_one_argument() {
    let dir = std::env::temp_dir().join(format!("warden-bq-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    stand_in(&dir, "gcloud");
    stand_in(&dir, "bq");
    let file = dir.join("setup.sh");
    std::fs::write(&file, script(&by_project()).unwrap()).unwrap();
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let run = Command::new("bash").arg(&file).current_dir(&dir).env("PATH", path).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let calls = std::fs::read_to_string(dir.join("calls.log")).unwrap();
    let expected = [
        "gcloud <iam> <roles> <create> <wardenRole> <--project=acme-analytics> <--title=Warden> <--description=The permissions Warden uses> <--stage=GA> <--permissions=bigquery.datasets.create,bigquery.datasets.get,bigquery.datasets.update,bigquery.datasets.delete,bigquery.tables.create,bigquery.tables.get,bigquery.tables.update,bigquery.tables.updateData,bigquery.tables.delete,bigquery.jobs.create>",
        "gcloud <iam> <service-accounts> <create> <warden-gov> <--project=acme-analytics> <--display-name=Warden>",
        "gcloud <projects> <add-iam-policy-binding> <acme-analytics> <--member=serviceAccount:warden-gov@acme-analytics.iam.gserviceaccount.com> <--role=projects/acme-analytics/roles/wardenRole> <--condition=None>",
        "gcloud <iam> <service-accounts> <keys> <create> <warden-gov-key.json> <--iam-account=warden-gov@acme-analytics.iam.gserviceaccount.com> <--project=acme-analytics>",
        "bq <--project_id=acme-analytics> <--location=europe-west1> <mk> <--dataset> <--description=Warden metadata> <acme-analytics:warden_meta>",
    ];
    for line in expected {
        assert!(calls.lines().any(|l| l == line), "missing:\n{line}\nin:\n{calls}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Hostile names are refused with their field before any script is written.
#[test]
fn hostile_names_are_refused_naming_the_field() {
    let hostile = ["x'; rm -rf ~; '", "$(touch /tmp/pwned)", "`id`", "a\nb", "role name", "\"q\""];
    for name in hostile {
        for (field, config) in [
            ("config.role", json!({"projectId": "acme-analytics", "role": name})),
            ("config.projectId", json!({"projectId": name})),
            ("config.serviceAccount", json!({"projectId": "acme-analytics", "serviceAccount": name})),
            ("config.dataset", json!({"projectId": "acme-analytics", "dataset": name})),
            ("config.location", json!({"projectId": "acme-analytics", "location": name})),
        ] {
            let refused = script(&payload(config)).expect_err(&format!("{field} = {name:?} was accepted"));
            assert_eq!(refused.0, field, "{name:?}: {refused:?}");
        }
    }
    let missing = script(&payload(json!({}))).unwrap_err();
    assert_eq!(missing.0, "config.projectId");
    assert!(missing.1.contains("is required when config.credential is not given"), "{missing:?}");
}

/// Whatever the name, bash reads the quoted word back as exactly that name (the quoting is
/// what holds if a check above ever lets one through).
#[test]
fn the_bash_quoting_reads_back_exactly() {
    for text in ["plain", "it's", "$(touch /tmp/pwned)", "`id`", "a\nb", "'", "''", "\\'\\", "$HOME \"x\" ; |&"] {
        let quoted = Dialect::Bash.literal(text);
        let echoed = Command::new("bash").arg("-c").arg(format!("printf %s {quoted}")).output().unwrap();
        assert_eq!(String::from_utf8(echoed.stdout).unwrap(), text, "{quoted}");
    }
}
