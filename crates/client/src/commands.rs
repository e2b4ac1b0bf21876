//! The client commands themselves: each reads its documents or target, talks to the server
//! through [`Server`], and prints what it did.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use warden_model::schema::{document_schema, payload_schema};
use warden_model::{IntegrationType, REDACTED, Status};

use crate::documents::{self, Document, NAME_LABEL, ReadOptions};
use crate::output::{Progress, note, out, plan_text, validation_text};
use crate::plan::{Action, plan};
use crate::server::Server;
use crate::{ClientCommand, ClientError, DocumentArgs, Finished};

/// How often a wait asks for the status.
const POLL: Duration = Duration::from_millis(500);

pub(crate) async fn run(command: ClientCommand) -> Result<Finished, ClientError> {
    match command {
        ClientCommand::Apply(args) => {
            let server = Server::from_args(&args.server)?;
            if args.dry_run {
                return plan_command(&server, &args.documents).await;
            }
            apply(&server, &args.documents, args.timeout, &args.callback_dir).await
        }
        ClientCommand::Plan(args) => plan_command(&Server::from_args(&args.server)?, &args.documents).await,
        ClientCommand::Export(args) => {
            let server = Server::from_args(&args.server)?;
            export(&server, args.integration_type.as_deref(), args.output.as_deref()).await
        }
        ClientCommand::Get(args) => {
            let server = Server::from_args(&args.server)?;
            let id = resolve_target(&server, &args.target).await?;
            print_json(&server.call(Method::GET, &format!("/integrations/{id}"), None).await?);
            Ok(Finished::Done)
        }
        ClientCommand::Status(args) => {
            let server = Server::from_args(&args.server)?;
            let id = resolve_target(&server, &args.target).await?;
            print_json(&server.call(Method::GET, &format!("/integrations/{id}/status"), None).await?);
            Ok(Finished::Done)
        }
        ClientCommand::List(args) => {
            let server = Server::from_args(&args.server)?;
            let mut query = Vec::new();
            if let Some(t) = &args.integration_type {
                query.push(format!("type={}", encode(t)));
            }
            if let Some(s) = &args.status {
                query.push(format!("status={}", encode(s)));
            }
            let path = if query.is_empty() {
                "/integrations".to_owned()
            } else {
                format!("/integrations?{}", query.join("&"))
            };
            print_json(&server.call(Method::GET, &path, None).await?);
            Ok(Finished::Done)
        }
        ClientCommand::Wait(args) => {
            let server = Server::from_args(&args.server)?;
            let target = Status::parse(&args.status).ok_or_else(|| {
                let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                ClientError::Usage(format!("--for {} is not a status: use one of {}", args.status, all.join(", ")))
            })?;
            let id = resolve_target(&server, &args.target).await?;
            wait_for(&server, id, &args.target, Some(target), args.timeout).await.map(|_| Finished::Done)
        }
        ClientCommand::Schema(args) => {
            let integration_type = IntegrationType::ALL
                .into_iter()
                .find(|t| t.wire_name() == args.integration_type || t.slug() == args.integration_type)
                .ok_or_else(|| {
                    let names: Vec<&str> = IntegrationType::ALL.iter().map(|t| t.slug()).collect();
                    ClientError::Usage(format!(
                        "{} is not an integration type: use one of {}",
                        args.integration_type,
                        names.join(", ")
                    ))
                })?;
            let schema =
                if args.document { document_schema(integration_type) } else { payload_schema(integration_type) };
            out(&format!("{}\n", serde_json::to_string_pretty(&schema).unwrap_or_default()));
            Ok(Finished::Done)
        }
        ClientCommand::Scripts(args) => {
            let server = Server::from_args(&args.server)?;
            let options = ReadOptions { allow_literal_secrets: args.allow_literal_secrets };
            let mut read = documents::read_file(&args.file, options)?;
            if read.len() != 1 {
                return Err(ClientError::Usage(format!(
                    "{} holds {} documents: scripts takes a file of one",
                    args.file.display(),
                    read.len()
                )));
            }
            let document = read.remove(0);
            let text = server.text(&format!("/integrations/scripts/{}", args.kind), &document.payload).await?;
            out(&text);
            Ok(Finished::Done)
        }
    }
}

fn print_json(value: &Value) {
    out(&format!("{}\n", serde_json::to_string_pretty(value).unwrap_or_default()));
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The server's integrations (not deleted).
async fn current(server: &Server) -> Result<Vec<Value>, ClientError> {
    match server.call(Method::GET, "/integrations", None).await? {
        Value::Array(items) => Ok(items),
        other => Err(ClientError::Unreachable {
            server: server.base().to_owned(),
            message: format!("GET /integrations answered something that is not a list: {}", short(&other)),
        }),
    }
}

fn short(value: &Value) -> String {
    value.to_string().chars().take(200).collect()
}

/// An id, or the id of the integration whose name label is `target`.
async fn resolve_target(server: &Server, target: &str) -> Result<u64, ClientError> {
    if let Ok(id) = target.parse::<u64>() {
        return Ok(id);
    }
    let found: Vec<u64> = current(server)
        .await?
        .iter()
        .filter(|i| i["labels"][NAME_LABEL].as_str() == Some(target))
        .filter_map(|i| i["id"].as_u64())
        .collect();
    match found.as_slice() {
        [id] => Ok(*id),
        [] => Err(ClientError::Usage(format!("no integration is named {target}: `warden list` shows them"))),
        _ => Err(ClientError::Usage(format!("{} integrations are named {target}: use an id", found.len()))),
    }
}

fn read_documents(args: &DocumentArgs) -> Result<Vec<Document>, ClientError> {
    documents::read_all(&args.files, ReadOptions { allow_literal_secrets: args.allow_literal_secrets })
}

/// `warden plan`: the plan, and a server-side dryRun of every create and update.
async fn plan_command(server: &Server, args: &DocumentArgs) -> Result<Finished, ClientError> {
    let documents = read_documents(args)?;
    let actions = plan(&documents, &current(server).await?, args.prune)?;
    out(&plan_text(&actions));
    let mut failed = Vec::new();
    for action in &actions {
        let (document, method, path) = match action {
            Action::Create { document } => (document, Method::POST, "/integrations?dryRun=true".to_owned()),
            Action::Update { document, id, .. } => (document, Method::PUT, format!("/integrations/{id}?dryRun=true")),
            Action::Unchanged { .. } | Action::Delete { .. } => continue,
        };
        let answer = server.send(method.clone(), &path, Some(&document.payload)).await?;
        if answer.status.is_success() {
            let results = &answer.body["validationResults"];
            out(&validation_text(&document.name, results));
            if !matches!(results["status"].as_str(), Some("passed" | "warning")) {
                failed.push(document.name.clone());
            }
        } else {
            out(&format!("{}\n", crate::server::refused(format!("{method} {path} ({})", document.name), &answer)));
            failed.push(document.name.clone());
        }
    }
    if !failed.is_empty() {
        return Err(ClientError::Unsettled(format!("the dry run of {} did not pass", failed.join(", "))));
    }
    Ok(if actions.iter().any(Action::is_change) { Finished::ChangesPending } else { Finished::Done })
}

/// `warden apply`: each change made in turn and waited for; every failure is reported, and
/// any makes the exit code 1.
async fn apply(
    server: &Server,
    args: &DocumentArgs,
    timeout: Duration,
    callback_dir: &Path,
) -> Result<Finished, ClientError> {
    let documents = read_documents(args)?;
    let actions = plan(&documents, &current(server).await?, args.prune)?;
    out(&plan_text(&actions));
    let mut failures = Vec::new();
    for action in &actions {
        let done = match action {
            Action::Unchanged { .. } => continue,
            Action::Create { document } => create(server, document, timeout, callback_dir).await,
            Action::Update { document, id, .. } => {
                let path = format!("/integrations/{id}");
                match server.call(Method::PUT, &path, Some(&document.payload)).await {
                    Ok(_) => settle(server, *id, &document.name, Status::Enabled, timeout).await,
                    Err(error) => Err(error),
                }
            }
            Action::Delete { name, id, .. } => {
                match server.call(Method::DELETE, &format!("/integrations/{id}"), None).await {
                    Ok(_) => settle(server, *id, name, Status::Deleted, timeout).await,
                    Err(error) => Err(error),
                }
            }
        };
        match done {
            Ok(line) => out(&format!("{line}\n")),
            Err(error) => {
                note(&format!("error: {error}"));
                failures.push(error);
            }
        }
    }
    match failures.len() {
        0 => Ok(Finished::Done),
        n => Err(ClientError::Unsettled(format!("{n} of the changes failed (above)"))),
    }
}

async fn create(
    server: &Server,
    document: &Document,
    timeout: Duration,
    callback_dir: &Path,
) -> Result<String, ClientError> {
    let answer = server.call(Method::POST, "/integrations", Some(&document.payload)).await?;
    let id = answer["id"].as_u64().ok_or_else(|| ClientError::Unreachable {
        server: server.base().to_owned(),
        message: format!("POST /integrations answered no id: {}", short(&answer)),
    })?;
    let mut line = settle(server, id, &document.name, Status::Enabled, timeout).await?;
    if let Some(snippet) = answer["configSnippet"].as_str() {
        let path = callback_dir.join(format!("{}.callback.properties", document.name));
        write_private(&path, snippet)?;
        line.push_str(&format!(
            "\n  its callback configuration (with its key, shown this once) is in {}: install it on the platform, then delete the file",
            path.display()
        ));
    }
    Ok(line)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), ClientError> {
    use std::io::Write as _;
    let failed = |e: std::io::Error| ClientError::Write { path: path.display().to_string(), message: e.to_string() };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)
}

/// Waits for an operation to settle and checks it settled in `expected`.
async fn settle(
    server: &Server,
    id: u64,
    name: &str,
    expected: Status,
    timeout: Duration,
) -> Result<String, ClientError> {
    let status = wait_for(server, id, name, None, timeout).await?;
    if status == expected {
        Ok(format!("{name} (id {id}): {status}"))
    } else {
        Err(ClientError::Unsettled(format!(
            "{name} (id {id}) ended {status}, not {expected}: `warden status {id}` says why and what to do"
        )))
    }
}

/// Polls an integration's status until it is `target` (or, without one, until no operation
/// runs), showing progress. A settled status other than the target is an error, as is the
/// timeout. A deleted integration the server no longer shows counts as `deleted`.
async fn wait_for(
    server: &Server,
    id: u64,
    name: &str,
    target: Option<Status>,
    timeout: Duration,
) -> Result<Status, ClientError> {
    let started = Instant::now();
    let what = if name == id.to_string() { format!("integration {id}") } else { format!("{name} (id {id})") };
    let mut progress = Progress::new(what.clone());
    loop {
        let path = format!("/integrations/{id}/status");
        let answer = server.send(Method::GET, &path, None).await?;
        let (status, message) = if answer.status == StatusCode::NOT_FOUND && target != Some(Status::Enabled) {
            (Status::Deleted, None)
        } else if answer.status.is_success() {
            let text = answer.body["status"].as_str().unwrap_or_default();
            let status = Status::parse(text).ok_or_else(|| ClientError::Unreachable {
                server: server.base().to_owned(),
                message: format!("{path} answered an unknown status {text:?}"),
            })?;
            (status, answer.body["message"].as_str().map(str::to_owned))
        } else {
            return Err(crate::server::refused(format!("GET {path}"), &answer));
        };
        let reached = match target {
            Some(target) => status == target,
            None => !status.is_transitional(),
        };
        if !reached {
            progress.show(status.as_str());
        }
        if reached {
            progress.done(status.as_str());
            return Ok(status);
        }
        if target.is_some() && !status.is_transitional() && status != Status::Enabled {
            progress.done(status.as_str());
            let why = message.map(|m| format!(": {m}")).unwrap_or_default();
            return Err(ClientError::Unsettled(format!(
                "{what} is {status}, not {}{why}",
                target.map_or("", Status::as_str)
            )));
        }
        if started.elapsed() >= timeout {
            progress.done(&format!("still {status}"));
            return Err(ClientError::Unsettled(format!(
                "{what} is still {status} after {} s: wait longer with `warden wait {id} --timeout 30m`",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `warden export`: the server's integrations as documents, each secret replaced by an
/// `${env:VAR}` reference named after the document and the field.
async fn export(
    server: &Server,
    integration_type: Option<&str>,
    output: Option<&Path>,
) -> Result<Finished, ClientError> {
    let path = match integration_type {
        Some(t) => format!("/integrations?type={}", encode(t)),
        None => "/integrations".to_owned(),
    };
    let items = match server.call(Method::GET, &path, None).await? {
        Value::Array(items) => items,
        other => {
            return Err(ClientError::Unreachable {
                server: server.base().to_owned(),
                message: format!("GET {path} answered something that is not a list: {}", short(&other)),
            });
        }
    };
    let mut texts = Vec::new();
    for item in &items {
        let (name, document) = exported(item);
        let yaml = serde_saphyr::to_string(&document)
            .map_err(|e| ClientError::Write { path: name.clone(), message: e.to_string() })?;
        // Editors with the YAML language server check the document against its schema.
        let slug = item["type"].as_str().and_then(|t| IntegrationType::parse(t).ok()).map(IntegrationType::slug);
        let header = slug
            .map(|slug| format!("# yaml-language-server: $schema={}/schemas/{slug}.document.json\n", server.base()))
            .unwrap_or_default();
        texts.push((name, format!("{header}{yaml}")));
    }
    match output {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| ClientError::Write { path: dir.display().to_string(), message: e.to_string() })?;
            for (name, text) in &texts {
                let file = dir.join(format!("{name}.yaml"));
                std::fs::write(&file, text)
                    .map_err(|e| ClientError::Write { path: file.display().to_string(), message: e.to_string() })?;
                note(&format!("wrote {}", file.display()));
            }
        }
        None => {
            let joined: Vec<&str> = texts.iter().map(|(_, text)| text.as_str()).collect();
            out(&joined.join("---\n"));
        }
    }
    Ok(Finished::Done)
}

/// One integration as a document: its name (the label, or `<type>-<id>` with its `id`), and
/// its config with each secret as a reference.
fn exported(item: &Value) -> (String, Value) {
    let id = item["id"].as_u64().unwrap_or_default();
    let integration_type = item["type"].as_str().unwrap_or("unknown");
    let labelled = item["labels"][NAME_LABEL].as_str().filter(|n| documents::check_name(n).is_ok());
    let name = labelled.map_or_else(|| format!("{}-{id}", integration_type.to_ascii_lowercase()), str::to_owned);
    let mut document = Map::new();
    document.insert("name".into(), json!(name));
    if labelled.is_none() {
        document.insert("id".into(), json!(id));
    }
    document.insert("type".into(), json!(integration_type));
    document.insert("autoBootstrap".into(), item["autoBootstrap"].clone());
    if let Some(config) = item.get("config") {
        let mut config = config.clone();
        references(&mut config, &name, "");
        document.insert("config".into(), config);
    }
    let labels: Map<String, Value> = item["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != NAME_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !labels.is_empty() {
        document.insert("labels".into(), Value::Object(labels));
    }
    (name, Value::Object(document))
}

/// Replaces each `[REDACTED]` under `value` with `${env:<NAME>_<FIELD_PATH>}`.
fn references(value: &mut Value, name: &str, path: &str) {
    match value {
        Value::String(text) if text == REDACTED => {
            *text = format!("${{env:{}}}", variable(name, path));
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                references(item, name, &format!("{path}_{key}"));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                references(item, name, &format!("{path}_{i}"));
            }
        }
        _ => {}
    }
}

/// An environment variable name for a document's secret: `ANALYTICS_REDSHIFT_PASSWORD`.
pub(crate) fn variable(name: &str, path: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in format!("{name}{path}").chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::variable;

    #[test]
    fn secret_references_are_named_after_the_document_and_the_field() {
        assert_eq!(variable("analytics", "_password"), "ANALYTICS_PASSWORD");
        assert_eq!(
            variable("sf-prod", "_oAuthClientConfig_clientSecret"),
            "SF_PROD_O_AUTH_CLIENT_CONFIG_CLIENT_SECRET"
        );
        assert_eq!(variable("s3.main", "_list_0"), "S3_MAIN_LIST_0");
    }
}
