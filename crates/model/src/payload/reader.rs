//! The payload reader: walks a decoded JSON value field by field, records every problem with
//! its path (`config.oAuthClientConfig.clientSecret`), and reports the fields nobody read as
//! unknown. Readers return `None` for a missing or bad value; a bad value always leaves a
//! problem behind, so a caller that finds no problems may rely on every required field.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::secret::{REDACTED, Secret};
use crate::secret_ref::{SECRET_REF_KEY, SecretRef};
use crate::spec::SecretMap;

/// Longest accepted plain text value (names, hosts, patterns), in characters.
pub const MAX_TEXT_CHARS: usize = 1024;
/// Longest accepted secret (PEM keys, service-account key files), in bytes.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
/// Most items accepted in one list.
pub const MAX_LIST_ITEMS: usize = 1000;
/// Most problems listed for one payload; the rest are counted. A body of thousands of
/// unknown keys costs no more than this to check and to answer.
pub const MAX_PROBLEMS: usize = 100;

/// One thing wrong with a payload: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Dotted path of the field, `config.port`; `(body)` for the body as a whole.
    pub path: String,
    /// A sentence that starts with the path and says what is wrong.
    pub message: String,
}

/// Whether a field must be present.
#[derive(Clone, Copy)]
pub(crate) enum Need<'a> {
    Required,
    /// Required because of another field's value; the text completes "is required when …".
    RequiredWhen(&'a str),
    Optional,
}

/// The reading context: the problems found so far and the stored secrets that a
/// `[REDACTED]` or absent secret falls back to.
pub(crate) struct Cx<'s> {
    pub(crate) problems: Vec<Problem>,
    /// Problems found past [`MAX_PROBLEMS`], counted but not listed.
    pub(crate) unlisted: usize,
    stored: Option<&'s SecretMap>,
    /// The values read for the secret references, by path (re-reading a config once its
    /// references are resolved).
    pub(crate) resolved: Option<&'s SecretMap>,
    /// The paths of the secrets that took the stored value (absent or `[REDACTED]`).
    pub(crate) kept: Vec<String>,
    /// Reading what Warden stored (not a request): a field this version no longer knows is
    /// skipped, not refused, so that dropping a field from the schema never makes a stored
    /// integration unreadable.
    pub(crate) stored_read: bool,
}

impl<'s> Cx<'s> {
    pub(crate) fn new(stored: Option<&'s SecretMap>) -> Self {
        Self { problems: Vec::new(), unlisted: 0, stored, resolved: None, kept: Vec::new(), stored_read: false }
    }

    /// Whether the list of problems is full (the rest are only counted).
    fn full(&self) -> bool {
        self.problems.len() >= MAX_PROBLEMS
    }

    /// The problems, with a last line counting those past [`MAX_PROBLEMS`].
    pub(crate) fn into_problems(mut self) -> Vec<Problem> {
        if self.unlisted > 0 {
            self.problems.push(Problem {
                path: "(body)".into(),
                message: format!("... and {} more problems (only the first {MAX_PROBLEMS} are listed)", self.unlisted),
            });
        }
        self.problems
    }

    pub(crate) fn report(&mut self, path: &str, message: impl AsRef<str>) {
        if self.full() {
            self.unlisted += 1;
            return;
        }
        let message = message.as_ref();
        let path_shown = if path.is_empty() { "(body)" } else { path };
        self.problems.push(Problem {
            path: path_shown.to_owned(),
            message: if path.is_empty() { message.to_owned() } else { format!("{path} {message}") },
        });
    }

    fn missing(&mut self, path: &str, need: Need<'_>) {
        match need {
            Need::Required => self.report(path, "is required"),
            Need::RequiredWhen(why) => self.report(path, format!("is required when {why}")),
            Need::Optional => {}
        }
    }
}

/// The name of a JSON value's kind, for "must be a string, not a number".
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Joins a parent path and a field name.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

/// Checks a plain text value: not blank, not too long, no control characters.
pub(crate) fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("must be at most {MAX_TEXT_CHARS} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters (newlines, tabs, NUL)".into());
    }
    Ok(())
}

/// One JSON object being read. Every field read (or declared unused) is remembered, and
/// [`Obj::finish`] reports the rest as unknown.
pub(crate) struct Obj<'v> {
    path: String,
    map: &'v Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'v> Obj<'v> {
    /// Reads `value` as an object at `path`, or reports that it is not one.
    pub(crate) fn from_value(cx: &mut Cx<'_>, path: &str, value: &'v Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self { path: path.to_owned(), map, known: Vec::new() }),
            other => {
                cx.report(path, format!("must be an object, not {}", kind(other)));
                None
            }
        }
    }

    pub(crate) fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw value of a field; `null` counts as absent.
    fn take(&mut self, key: &'static str) -> Option<&'v Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Every field of a free-form object (labels), each then known.
    pub(crate) fn entries(&self) -> &'v Map<String, Value> {
        self.map
    }

    /// Whether the field is present and not null (marks it as known).
    pub(crate) fn has(&mut self, key: &'static str) -> bool {
        self.take(key).is_some()
    }

    /// A plain text field.
    pub(crate) fn text(&mut self, cx: &mut Cx<'_>, key: &'static str, need: Need<'_>) -> Option<String> {
        let path = self.path_of(key);
        match self.take(key) {
            None => {
                cx.missing(&path, need);
                None
            }
            Some(Value::String(s)) => match check_text(s) {
                Ok(()) => Some(s.clone()),
                Err(why) => {
                    cx.report(&path, why);
                    None
                }
            },
            Some(other @ Value::Number(_)) => {
                cx.report(&path, format!("must be a string, not the number {other} (put it in quotes)"));
                None
            }
            Some(other) => {
                cx.report(&path, format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    /// A required field of `width` digits, given as a string or, as unquoted YAML gives it,
    /// as a whole number (written back with its leading zeros).
    pub(crate) fn digits(&mut self, cx: &mut Cx<'_>, key: &'static str, width: usize) -> Option<String> {
        if let Some(Value::Number(n)) = self.map.get(key) {
            self.known.push(key);
            return match n.as_u64() {
                Some(n) => Some(format!("{n:0width$}")),
                None => {
                    cx.report(&self.path_of(key), format!("must be {width} digits, not the number {n}"));
                    None
                }
            };
        }
        self.text(cx, key, Need::Required)
    }

    /// A text field turned into a validated type by `parse`, whose error completes the
    /// sentence after the path ("must be 12 digits").
    pub(crate) fn parsed<T>(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        need: Need<'_>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(cx, key, need)?;
        match parse(&text) {
            Ok(v) => Some(v),
            Err(why) => {
                cx.report(&self.path_of(key), why);
                None
            }
        }
    }

    /// A text field that must be one of `choices`.
    pub(crate) fn choice(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        need: Need<'_>,
        choices: &[&'static str],
    ) -> Option<&'static str> {
        self.parsed(cx, key, need, |s| {
            choices.iter().copied().find(|c| *c == s).ok_or_else(|| format!("must be one of: {}", choices.join(", ")))
        })
    }

    /// An optional boolean field.
    pub(crate) fn boolean(&mut self, cx: &mut Cx<'_>, key: &'static str, need: Need<'_>) -> Option<bool> {
        let path = self.path_of(key);
        match self.take(key) {
            None => {
                cx.missing(&path, need);
                None
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                cx.report(&path, format!("must be true or false, not {}", kind(other)));
                None
            }
        }
    }

    /// An integer field within `min..=max`.
    pub(crate) fn integer(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        need: Need<'_>,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let path = self.path_of(key);
        let value = match self.take(key) {
            None => {
                cx.missing(&path, need);
                return None;
            }
            Some(v) => v,
        };
        let range = if max == u64::MAX {
            format!("an integer of at least {min}")
        } else {
            format!("an integer from {min} to {max}")
        };
        match value.as_u64().filter(|n| (min..=max).contains(n)) {
            Some(n) => Some(n),
            None => {
                let got = if value.is_number() { value.to_string() } else { kind(value).to_owned() };
                cx.report(&path, format!("must be {range}, not {got}"));
                None
            }
        }
    }

    /// A nested object.
    pub(crate) fn object(&mut self, cx: &mut Cx<'_>, key: &'static str, need: Need<'_>) -> Option<Obj<'v>> {
        let path = self.path_of(key);
        match self.take(key) {
            None => {
                cx.missing(&path, need);
                None
            }
            Some(v) => Obj::from_value(cx, &path, v),
        }
    }

    /// A list field: its items with their paths. Absent is an empty list.
    pub(crate) fn list(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        need: Need<'_>,
    ) -> Option<Vec<(String, &'v Value)>> {
        let path = self.path_of(key);
        match self.take(key) {
            None => {
                cx.missing(&path, need);
                match need {
                    Need::Optional => Some(Vec::new()),
                    _ => None,
                }
            }
            Some(Value::Array(items)) if items.len() > MAX_LIST_ITEMS => {
                cx.report(&path, format!("must have at most {MAX_LIST_ITEMS} items, not {}", items.len()));
                None
            }
            Some(Value::Array(items)) => {
                Some(items.iter().enumerate().map(|(i, v)| (format!("{path}[{i}]"), v)).collect())
            }
            Some(other) => {
                cx.report(&path, format!("must be a list, not {}", kind(other)));
                None
            }
        }
    }

    /// A list of text values, each checked by `parse`; duplicates are refused.
    pub(crate) fn text_list<T: PartialEq>(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<Vec<T>> {
        let items = self.list(cx, key, Need::Optional)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (path, item) in items {
            let parsed = match item {
                Value::String(s) => check_text(s).and_then(|()| parse(s)),
                other => Err(format!("must be a string, not {}", kind(other))),
            };
            match parsed {
                Ok(v) if out.contains(&v) => {
                    cx.report(&path, "repeats an earlier item");
                    ok = false;
                }
                Ok(v) => out.push(v),
                Err(why) => {
                    cx.report(&path, why);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// A secret field. Absent or `[REDACTED]` keeps the stored value at the same path, if
    /// there is one; an explicit `null` on an optional secret removes it.
    pub(crate) fn secret(&mut self, cx: &mut Cx<'_>, key: &'static str, need: Need<'_>) -> Option<Secret<String>> {
        let path = self.path_of(key);
        self.known.push(key);
        let stored = cx.stored.and_then(|m| m.get(&path)).cloned();
        match self.map.get(key) {
            Some(Value::Null) if matches!(need, Need::Optional) => None,
            None | Some(Value::Null) => {
                match stored {
                    Some(_) => cx.kept.push(path),
                    None => cx.missing(&path, need),
                }
                stored
            }
            Some(Value::String(s)) if s == REDACTED => {
                match stored {
                    Some(_) => cx.kept.push(path),
                    None => cx.report(
                        &path,
                        format!("is {REDACTED}, which keeps a stored value, but none is stored: send the value itself"),
                    ),
                }
                stored
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                cx.report(&path, "must not be empty");
                None
            }
            Some(Value::String(s)) if s.len() > MAX_SECRET_BYTES => {
                cx.report(&path, format!("must be at most {MAX_SECRET_BYTES} bytes"));
                None
            }
            Some(Value::String(s)) => Some(Secret::new(s.clone())),
            Some(Value::Object(m)) => match (m.len(), m.get(SECRET_REF_KEY)) {
                (1, Some(Value::String(text))) => match SecretRef::parse(text) {
                    Ok(reference) => match cx.resolved.and_then(|r| r.get(&path)) {
                        Some(value) => Some(Secret::resolved(reference, value.expose().clone())),
                        None => Some(Secret::from_reference(reference)),
                    },
                    Err(why) => {
                        cx.report(&join(&path, SECRET_REF_KEY), format!("is not a secret reference: {why}"));
                        None
                    }
                },
                (1, Some(other)) => {
                    cx.report(&join(&path, SECRET_REF_KEY), format!("must be a string, not {}", kind(other)));
                    None
                }
                _ => {
                    cx.report(
                        &path,
                        format!("must be a string, or an object with the one key {SECRET_REF_KEY} (a secret kept outside Warden)"),
                    );
                    None
                }
            },
            Some(other) => {
                cx.report(&path, format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    /// Declares fields that belong to another variant: present ones are reported as not
    /// used `because`, and none of them counts as unknown.
    pub(crate) fn unused(&mut self, cx: &mut Cx<'_>, keys: &[&'static str], because: &str) {
        for key in keys {
            if self.has(key) {
                cx.report(&self.path_of(key), format!("is not used when {because}"));
            }
        }
    }

    /// Marks fields as known without reading them (the fields of a variant that could not be
    /// chosen because its tag is missing or wrong: the tag's problem says enough).
    pub(crate) fn skip(&mut self, keys: &[&'static str]) {
        self.known.extend_from_slice(keys);
    }

    /// A secret whose value `check` validates or normalises; its error completes the
    /// sentence after the path and never quotes the value.
    pub(crate) fn secret_checked(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        need: Need<'_>,
        check: impl FnOnce(&str) -> Result<String, String>,
    ) -> Option<Secret<String>> {
        let secret = self.secret(cx, key, need)?;
        if secret.is_unresolved() {
            // Checked once the reference is read (the config is read again then).
            return Some(secret);
        }
        match check(secret.expose()) {
            Ok(v) => Some(secret.map_value(v)),
            Err(why) => {
                cx.report(&self.path_of(key), why);
                None
            }
        }
    }

    /// An optional boolean with a default.
    pub(crate) fn flag(&mut self, cx: &mut Cx<'_>, key: &'static str, default: bool) -> Option<bool> {
        if self.has(key) { self.boolean(cx, key, Need::Optional) } else { Some(default) }
    }

    /// The optional `port` field with its default.
    pub(crate) fn port(&mut self, cx: &mut Cx<'_>, default: u16) -> Option<crate::names::Port> {
        if !self.has("port") {
            return crate::names::Port::new(default);
        }
        let n = self.integer(cx, "port", Need::Optional, 1, 65535)?;
        crate::names::Port::new(u16::try_from(n).ok()?)
    }

    /// Reports every field that no reader asked for, with a suggestion when one is close.
    pub(crate) fn finish(self, cx: &mut Cx<'_>) {
        for key in self.map.keys() {
            if self.known.contains(&key.as_str()) {
                continue;
            }
            if cx.stored_read {
                continue;
            }
            if cx.full() {
                cx.unlisted += 1;
                continue;
            }
            let shown: String = key.chars().take(64).collect();
            let path = join(&self.path, &shown);
            let hint = self
                .known
                .iter()
                .filter(|k| !self.map.contains_key(**k))
                .map(|k| (edit_distance(key, k), *k))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, k)| format!(" (did you mean {}?)", join(&self.path, k)))
                .unwrap_or_default();
            cx.problems.push(Problem { path: path.clone(), message: format!("{path} is not a known field{hint}") });
        }
    }
}

/// Levenshtein distance, bounded: strings longer than 64 characters are simply "far".
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn edit_distance_counts_swaps_as_two() {
        assert_eq!(edit_distance("warehuose", "warehouse"), 2);
        assert_eq!(edit_distance("host", "host"), 0);
        assert_eq!(edit_distance("port", "ports"), 1);
    }
}
