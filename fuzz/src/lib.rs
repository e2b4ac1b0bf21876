//! Fuzzing of Warden's input surfaces with what the stable toolchain allows: each target is
//! run over the committed corpus (`fuzz/corpus/<target>/`) and over inputs mutated from it,
//! by a seeded generator (the same seed gives the same inputs, so a failure reproduces).
//! Payloads are mutated both as bytes and as JSON values (a leaf replaced by a hostile
//! value: quotes, SQL comment and statement separators, control characters, huge and deeply
//! nested values), so the reader is reached past the decoder. This is mutation fuzzing,
//! not coverage-guided: no nightly toolchain or compiler instrumentation is needed.
//!
//! Each target checks more than "no panic":
//! - `payload`: a body decodes (JSON or YAML) and reads, or is refused with problems; an
//!   accepted spec's redacted form holds none of its secret values, and every script built
//!   from it renders.
//! - `host`: a host that parses parses again to itself (one canonical form).
//! - `connect_args`: the Redshift and Snowflake adapters check any `connectArgs` text
//!   without panicking, and never echo a password given beside it.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use serde_json::Value;
use warden_model::payload::{BodyFormat, decode};
use warden_model::{IntegrationSpec, names::Hostname};
use warden_scripts::ScriptKind;

/// The targets, by name.
pub const TARGETS: [&str; 3] = ["payload", "host", "connect_args"];

/// A small deterministic generator (xorshift64*): the same seed, the same inputs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is moved off the fixed point).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(u64::MAX)).unwrap_or(0)
    }
}

/// Pieces that break parsers and quoting.
const TOKENS: &[&str] = &[
    "'",
    "\"",
    "\\",
    "`",
    ";",
    "--",
    "/*",
    "*/",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "=",
    "\n",
    "\r\n",
    "\t",
    "\0",
    "%",
    "$$",
    "$1",
    "DROP TABLE x",
    "' OR '1'='1",
    "${env:HOME}",
    "[REDACTED]",
    "..",
    "/",
    "://",
    "@",
    "#",
    "\u{202e}",
    "\u{feff}",
    "é",
    "😀",
    "\u{7f}",
    "0x7f000001",
    "::ffff:",
    "-1",
    "1e309",
    "null",
    "true",
    "<<: *a",
    "!!binary",
    "&a",
    "*a",
    "---",
    "...",
    "?",
    "|",
    ">",
];

fn token(rng: &mut Rng) -> &'static str {
    TOKENS[rng.below(TOKENS.len())]
}

/// A byte-level mutation of `input`: flips, insertions of tokens, deletions, repeats, and a
/// splice with `other`.
pub fn mutate_bytes(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(8) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let piece = token(rng).as_bytes().to_vec();
                out.splice(at..at, piece);
            }
            2 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 if !out.is_empty() => {
                let end = (at + rng.below(32)).min(out.len());
                let piece = out[at.min(end)..end].repeat(1 + rng.below(64));
                out.splice(at..at, piece);
            }
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + rng.below(64)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => out.push(u8::try_from(rng.below(256)).unwrap_or(0)),
        }
    }
    out
}

fn hostile_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(9) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => serde_json::json!(i64::MAX - i64::try_from(rng.below(3)).unwrap_or(0)),
        3 => serde_json::json!(-1.5e300),
        4 => Value::String(token(rng).repeat(1 + rng.below(4))),
        5 => Value::String("x".repeat(rng.below(70_000))),
        6 if depth < 64 => Value::Array(vec![hostile_value(rng, depth + 8)]),
        7 if depth < 64 => serde_json::json!({ token(rng): hostile_value(rng, depth + 8) }),
        _ => {
            let mut text = String::new();
            for _ in 0..=rng.below(6) {
                text.push_str(token(rng));
                text.push_str("abc");
            }
            Value::String(text)
        }
    }
}

/// A value-level mutation of a JSON payload: a leaf (or a field) replaced, added or removed.
pub fn mutate_value(rng: &mut Rng, value: &Value) -> Value {
    fn walk(rng: &mut Rng, value: &mut Value, depth: usize) {
        match value {
            Value::Object(map) if !map.is_empty() && rng.below(4) != 0 => {
                let keys: Vec<String> = map.keys().cloned().collect();
                let key = &keys[rng.below(keys.len())];
                match rng.below(5) {
                    0 => {
                        map.remove(key);
                    }
                    1 => {
                        map.insert(format!("{key}{}", token(rng)), hostile_value(rng, depth));
                    }
                    _ => {
                        if let Some(inner) = map.get_mut(key) {
                            walk(rng, inner, depth + 1);
                        }
                    }
                }
            }
            other => *other = hostile_value(rng, depth),
        }
    }
    let mut out = value.clone();
    for _ in 0..=rng.below(3) {
        walk(rng, &mut out, 0);
    }
    out
}

/// The committed seeds of `target`, sorted by name.
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|entries| entries.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    paths.sort();
    paths.iter().filter_map(|path| std::fs::read(path).ok()).collect()
}

/// Runs `target` on one input; a failed invariant panics with what failed.
pub fn run(target: &str, input: &[u8]) {
    match target {
        "payload" => payload(input),
        "host" => host(input),
        "connect_args" => connect_args(input),
        other => panic!("no fuzz target {other}"),
    }
}

fn payload(input: &[u8]) {
    let Ok(value) = decode(input, BodyFormat::Unknown) else { return };
    let Ok(spec) = IntegrationSpec::from_value(&value, None) else { return };
    let redacted = spec.redacted().to_string();
    for (path, secret) in spec.secrets() {
        let text = secret.expose();
        if text.len() >= 4 && text != "[REDACTED]" {
            assert!(!redacted.contains(text.as_str()), "the secret at {path} shows in the redacted form");
        }
    }
    for kind in [
        ScriptKind::Create,
        ScriptKind::InitialCreate,
        ScriptKind::Edit,
        ScriptKind::Cleanup,
        ScriptKind::PostCleanup,
        ScriptKind::Delete,
    ] {
        if let Ok(script) = warden_scripts::build(kind, &spec, Some(&spec)) {
            let _ = script.render();
        }
    }
}

fn host(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else { return };
    if let Ok(host) = Hostname::parse(text) {
        let again = Hostname::parse(host.as_str());
        assert_eq!(again.as_ref().map(Hostname::as_str), Ok(host.as_str()), "{text:?} is not canonical once parsed");
    }
}

fn connect_args(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else { return };
    let password = "S3CRET-fuzz-password";
    let redshift = serde_json::json!({"type": "Redshift", "autoBootstrap": false, "config": {
        "host": "acme.example.com", "database": "warden", "authenticationType": "userPassword",
        "username": "warden_system", "password": password, "connectArgs": text}});
    let snowflake = serde_json::json!({"type": "Snowflake", "autoBootstrap": false, "config": {
        "host": "acme.snowflakecomputing.com", "warehouse": "w", "authenticationType": "userPassword",
        "username": "warden_system", "password": password, "connectArgs": text}});
    let adapters: [(Value, &dyn warden_platform::Platform); 2] =
        [(redshift, &warden_redshift::Redshift::new()), (snowflake, &warden_snowflake::Snowflake)];
    for (payload, adapter) in adapters {
        let problems = match IntegrationSpec::from_value(&payload, None) {
            Ok(spec) => adapter.check_config(&spec),
            Err(problems) => problems,
        };
        for problem in problems {
            let said = format!("{} {}", problem.path, problem.message);
            assert!(!said.contains(password), "a problem echoes the password: {said}");
        }
    }
}

/// What a campaign did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Campaign {
    /// Inputs run.
    pub executions: u64,
}

/// Runs `target` over its corpus and `cases` mutated inputs from `seed`. A failing input is
/// written to `failures/` (beside the corpus, not committed) and the panic names its file.
pub fn campaign(target: &str, seed: u64, cases: u64) -> Campaign {
    let seeds = corpus(target);
    assert!(!seeds.is_empty(), "no corpus for {target}");
    let mut rng = Rng::new(seed ^ target.len() as u64);
    let mut executions = 0;
    let mut try_one = |input: &[u8]| {
        executions += 1;
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| run(target, input))) {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("failures");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{target}-{seed}-{executions}.bin"));
            let _ = std::fs::write(&file, input);
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{target}: input {} failed: {why}", file.display());
        }
    };
    for input in &seeds {
        try_one(input);
    }
    for _ in 0..cases {
        let base = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = match serde_json::from_slice::<Value>(base) {
            Ok(value) if rng.below(2) == 0 => serde_json::to_vec(&mutate_value(&mut rng, &value)).unwrap_or_default(),
            _ => mutate_bytes(&mut rng, base, other),
        };
        try_one(&input);
    }
    Campaign { executions }
}
