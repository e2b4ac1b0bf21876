//! Integration documents: read from files and directories (YAML, several per file with
//! `---`, or JSON, one object or a list), their `${env:VAR}` and `${file:path}` references
//! resolved, and checked by the model's own payload rules before anything is sent. A secret
//! field must come from a reference: a literal one is refused unless allowed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use warden_model::IntegrationSpec;

use crate::ClientError;

/// The label `apply` keeps a document's name in.
pub const NAME_LABEL: &str = "name";

/// One integration document, resolved and checked.
#[derive(Debug, Clone)]
pub struct Document {
    /// Where it came from: the file, and its position when the file holds several.
    pub source: String,
    /// Its name: what identifies it across runs (the label `name` on the server).
    pub name: String,
    /// The id of the integration it describes, when the document says (an export of an
    /// integration that has no name label).
    pub id: Option<u64>,
    /// The payload to send: `type`, `autoBootstrap`, `config` and `labels` (with the name),
    /// secrets resolved.
    pub payload: Value,
    /// The payload as the model reads it (normalised, secrets inside).
    pub spec: IntegrationSpec,
}

/// How documents are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Accept secrets written in the document itself.
    pub allow_literal_secrets: bool,
}

/// Reads every document of `paths` (files, or directories whose `.yaml`, `.yml` and
/// `.json` files are read in name order). Two documents with one name are refused.
pub fn read_all(paths: &[PathBuf], options: ReadOptions) -> Result<Vec<Document>, ClientError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| doc_error(path, format!("cannot be read: {e}")))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| p.is_file() && matches!(extension(p).as_deref(), Some("yaml" | "yml" | "json")))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut documents: Vec<Document> = Vec::new();
    for file in &files {
        for document in read_file(file, options)? {
            if let Some(other) = documents.iter().find(|d| d.name == document.name) {
                return Err(ClientError::Document {
                    file: document.source,
                    message: format!(
                        "name {} is also the name of {}: names must be unique",
                        document.name, other.source
                    ),
                });
            }
            documents.push(document);
        }
    }
    Ok(documents)
}

fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

fn doc_error(path: &Path, message: String) -> ClientError {
    ClientError::Document { file: path.display().to_string(), message }
}

/// Reads the documents of one file.
pub fn read_file(path: &Path, options: ReadOptions) -> Result<Vec<Document>, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|e| doc_error(path, format!("cannot be read: {e}")))?;
    let values: Vec<Value> = if extension(path).as_deref() == Some("json") {
        match serde_json::from_str(&text).map_err(|e| doc_error(path, format!("is not valid JSON: {e}")))? {
            Value::Array(items) => items,
            one => vec![one],
        }
    } else {
        serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&text)
            .map_err(|e| doc_error(path, format!("is not valid YAML: {}", e.to_string().lines().next().unwrap_or(""))))?
            .into_iter()
            .filter(|v| !v.is_null())
            .collect()
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let several = values.len() > 1;
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let source =
                if several { format!("{} (document {})", path.display(), i + 1) } else { path.display().to_string() };
            read_document(source, value, base, options)
        })
        .collect()
}

/// Reads one document: its name and id, its references resolved, checked by the model.
pub fn read_document(source: String, value: Value, base: &Path, options: ReadOptions) -> Result<Document, ClientError> {
    let fail = |message: String| ClientError::Document { file: source.clone(), message };
    let Value::Object(mut object) = value else {
        return Err(fail("must be an object with name, type, autoBootstrap and config".to_owned()));
    };
    let name = match object.remove("name") {
        Some(Value::String(name)) => check_name(&name).map(|()| name).map_err(&fail)?,
        Some(other) => return Err(fail(format!("name must be a string, not {other}"))),
        None => return Err(fail("name is required: it identifies the document across runs".to_owned())),
    };
    let id = match object.remove("id") {
        None => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => n.as_u64(),
        Some(other) => return Err(fail(format!("id must be a positive integer, not {other}"))),
    };
    let mut payload = Value::Object(object);
    let mut referenced = BTreeSet::new();
    resolve(&mut payload, "", base, &mut referenced).map_err(&fail)?;
    let labels = payload.as_object_mut().map(|o| o.entry("labels").or_insert_with(|| Value::Object(Map::new())));
    match labels {
        Some(Value::Object(labels)) => {
            if labels.get(NAME_LABEL).is_some_and(|v| v.as_str() != Some(name.as_str())) {
                return Err(fail(format!("labels.{NAME_LABEL} must be the document's name ({name}) or absent")));
            }
            labels.insert(NAME_LABEL.to_owned(), Value::String(name.clone()));
        }
        _ => return Err(fail("labels must be an object of strings".to_owned())),
    }
    let spec = IntegrationSpec::from_value(&payload, None).map_err(|problems| {
        fail(problems.iter().map(|p| format!("\n  - {}", p.message)).collect::<String>().trim_start().to_owned())
    })?;
    if !options.allow_literal_secrets {
        let literal: Vec<String> = spec.secrets().into_keys().filter(|path| !referenced.contains(path)).collect();
        if !literal.is_empty() {
            return Err(fail(format!(
                "{} {} a secret written in the document: write it as ${{env:VAR}} or ${{file:path}} (or pass --allow-literal-secrets)",
                literal.join(", "),
                if literal.len() == 1 { "is" } else { "are" }
            )));
        }
    }
    Ok(Document { source, name, id, payload, spec })
}

/// A document's name: 1 to 128 letters, digits, `.`, `_` and `-`, not starting with `.` (it
/// names files on export; the document schema states the same pattern).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!("name {name:?} must be 1 to 128 letters, digits, '.', '_' and '-', not starting with '.'"))
    }
}

/// Resolves every reference in the strings of `value`, recording the paths (as the model
/// names them: `config.password`, `config.list[0]`) of the strings that held one.
fn resolve(value: &mut Value, path: &str, base: &Path, referenced: &mut BTreeSet<String>) -> Result<(), String> {
    match value {
        Value::String(text) if text.contains("${") => {
            let (resolved, any) = resolve_text(text, path, base)?;
            *text = resolved;
            if any {
                referenced.insert(path.to_owned());
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve(item, &format!("{path}[{i}]"), base, referenced)?;
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                resolve(item, &child, base, referenced)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `text` with its references replaced, and whether it held one. `$${` is a literal `${`.
/// A file's content loses one trailing line break.
fn resolve_text(text: &str, path: &str, base: &Path) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut any = false;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            out.push_str(&rest[..start]);
            out.push('{');
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("{path}: a reference is not closed with }}"))?;
        let reference = &after[..end];
        let value = if let Some(variable) = reference.strip_prefix("env:") {
            std::env::var(variable).map_err(|_| {
                format!("{path}: ${{env:{variable}}} is not set: export {variable} before running warden")
            })?
        } else if let Some(file) = reference.strip_prefix("file:") {
            let file = base.join(file);
            let content = std::fs::read_to_string(&file)
                .map_err(|e| format!("{path}: ${{file:{}}} cannot be read: {e}", file.display()))?;
            let trimmed = content.strip_suffix('\n').map(|c| c.strip_suffix('\r').unwrap_or(c));
            trimmed.unwrap_or(&content).to_owned()
        } else {
            return Err(format!("{path}: ${{{reference}}} is not a reference: use ${{env:VAR}} or ${{file:path}}"));
        };
        out.push_str(&value);
        any = true;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((out, any))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use std::path::Path;

    use serde_json::json;

    use super::{ReadOptions, read_document, resolve_text};

    /// References are replaced where they stand, `$${` is a literal `${`, a file loses one
    /// trailing line break, and what is not a reference is refused by name.
    #[test]
    fn references_resolve_in_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "from-file\n").unwrap();
        // The process's own PATH stands for any variable: edition 2024 makes setting one
        // unsafe, and this workspace forbids unsafe code.
        let path = std::env::var("PATH").unwrap();
        let cases = [
            ("plain", Ok(("plain".to_owned(), false))),
            ("${env:PATH}", Ok((path.clone(), true))),
            ("a-${env:PATH}-b", Ok((format!("a-{path}-b"), true))),
            ("${file:pw}", Ok(("from-file".to_owned(), true))),
            ("$${env:X}", Ok(("${env:X}".to_owned(), false))),
            ("${vault:x}", Err("config.p: ${vault:x} is not a reference: use ${env:VAR} or ${file:path}")),
            ("${env:X", Err("config.p: a reference is not closed with }")),
        ];
        for (text, expected) in cases {
            let got = resolve_text(text, "config.p", dir.path());
            assert_eq!(got, expected.map_err(str::to_owned), "{text}");
        }
    }

    /// The name becomes the label `name`; a literal secret is refused and names its field.
    #[test]
    fn a_document_carries_its_name_as_a_label_and_refuses_literal_secrets() {
        let trino = read_document(
            "t.yaml".into(),
            json!({"name": "main", "type": "Trino"}),
            Path::new("."),
            ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(trino.payload["labels"]["name"], "main");
        assert_eq!(trino.spec.labels.get("name").map(String::as_str), Some("main"));
        let redshift = json!({"name": "r", "type": "Redshift", "autoBootstrap": false, "config": {"host": "h.example.com",
            "database": "d", "authenticationType": "userPassword", "username": "u", "password": "literal"}});
        let refused =
            read_document("r.yaml".into(), redshift.clone(), Path::new("."), ReadOptions::default()).unwrap_err();
        assert!(refused.to_string().contains("config.password is a secret written in the document"), "{refused}");
        assert!(!refused.to_string().contains("literal\""), "{refused}");
        let allowed = ReadOptions { allow_literal_secrets: true };
        assert!(read_document("r.yaml".into(), redshift, Path::new("."), allowed).is_ok());
        let unnamed = read_document("u.yaml".into(), json!({"type": "Trino"}), Path::new("."), allowed).unwrap_err();
        assert!(unnamed.to_string().contains("name is required"), "{unnamed}");
    }
}
