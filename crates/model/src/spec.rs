//! `IntegrationSpec`: a checked payload (`type`, `autoBootstrap`, `config`), how it is read
//! from a decoded body with every problem reported at once, and how it splits into a
//! redacted JSON document and a map of its secrets (and back).

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::config::{self, PlatformConfig};
use crate::integration_type::IntegrationType;
use crate::payload::reader::{Cx, Need, Obj, Problem, check_text, join, kind};
use crate::secret::{REDACTED, Secret, with_secrets_exposed};
use crate::secret_ref::{SECRET_REF_KEY, SecretRef};

/// The secrets of one integration, keyed by field path (`config.password`).
pub type SecretMap = BTreeMap<String, Secret<String>>;

/// A payload that passed every check: what an integration is configured as.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationSpec {
    /// Whether Warden sets the platform up itself with privileged credentials.
    pub auto_bootstrap: bool,
    /// The platform config; its variant decides the integration type.
    pub config: PlatformConfig,
    /// The user's labels (an extension): short names to short texts, never secret. `warden
    /// apply` keeps a document's `name` in the label `name`.
    pub labels: Labels,
}

/// An integration's labels, by key ([`check_label_key`]), in key order.
pub type Labels = BTreeMap<String, String>;

/// Most labels one integration may carry.
pub const MAX_LABELS: usize = 32;
/// Longest label value, in characters.
pub const MAX_LABEL_VALUE_CHARS: usize = 256;

/// The pattern every label key matches (the JSON Schema states it too).
pub const LABEL_KEY_PATTERN: &str = "^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$";

/// Checks a label key: 1 to 63 lower-case letters, digits and `.`, `_`, `/`, `-`, starting
/// and ending with a letter or digit.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let edge = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let inner = |c: char| edge(c) || matches!(c, '.' | '_' | '/' | '-');
    let ok = (1..=63).contains(&key.len())
        && key.chars().next().is_some_and(edge)
        && key.chars().last().is_some_and(edge)
        && key.chars().all(inner);
    if ok {
        Ok(())
    } else {
        Err("is not a label key: use 1 to 63 lower-case letters, digits, '.', '_', '/' and '-', starting and ending with a letter or digit".to_owned())
    }
}

/// The schema version of the configs this Warden writes. A change to the stored shape, or a
/// rule tightened so that configs written before may break it, bumps it and adds the step that
/// brings older configs forward to [`CONFIG_UPGRADES`].
pub const CONFIG_VERSION: i64 = 1;

/// The steps that bring a stored config forward: `(version it produces, step)`, in order. A
/// config stored at version `v` gets every step whose version is above `v`. Version 1 is the
/// first; it has no step.
pub const CONFIG_UPGRADES: &[ConfigUpgrade] = &[];

/// One step of [`CONFIG_UPGRADES`]: the version it produces, and the rewrite of the stored
/// JSON.
pub type ConfigUpgrade = (i64, fn(&mut Value));

/// `value`, stored at `version`, with every step of `steps` above that version applied in
/// order.
fn brought_forward(value: &Value, version: i64, steps: &[ConfigUpgrade]) -> Value {
    let mut value = value.clone();
    for (to, step) in steps {
        if *to > version {
            step(&mut value);
        }
    }
    value
}

impl IntegrationSpec {
    /// Reads and checks a decoded payload. `stored` holds the secrets of the stored
    /// integration on update (and when re-reading a stored one): a secret that is absent or
    /// `[REDACTED]` takes the stored value at the same path.
    ///
    /// Returns every problem found, in reading order.
    pub fn from_value(value: &Value, stored: Option<&SecretMap>) -> Result<Self, Vec<Problem>> {
        let mut cx = Cx::new(stored);
        let spec = read(&mut cx, value);
        match spec {
            Some(spec) if cx.problems.is_empty() => Ok(spec),
            _ if !cx.problems.is_empty() => Err(cx.into_problems()),
            _ => Err(vec![Problem { path: "(body)".into(), message: "the payload could not be read".into() }]),
        }
    }

    /// Reads a config Warden stored, written at schema version `version`: the stored JSON is
    /// first brought to [`CONFIG_VERSION`] by the [`CONFIG_UPGRADES`] it has not had, then read
    /// leniently (a field this version no longer knows is skipped). A config written by a
    /// newer Warden is refused with a message that says so, rather than misread.
    pub fn from_stored(value: &Value, secrets: &SecretMap, version: i64) -> Result<Self, Vec<Problem>> {
        if version > CONFIG_VERSION {
            return Err(vec![Problem {
                path: "(stored config)".into(),
                message: format!(
                    "was written by a newer Warden (config version {version}; this one reads up to {CONFIG_VERSION}): run that version or a later one"
                ),
            }]);
        }
        let value = brought_forward(value, version, CONFIG_UPGRADES);
        let mut cx = Cx::new(Some(secrets));
        cx.stored_read = true;
        let spec = read(&mut cx, &value);
        match spec {
            Some(spec) if cx.problems.is_empty() => Ok(spec),
            _ if !cx.problems.is_empty() => Err(cx.into_problems()),
            _ => Err(vec![Problem { path: "(stored config)".into(), message: "could not be read".into() }]),
        }
    }

    /// The merge of an update: reads `payload` as the new config of this stored integration.
    /// A secret field that is absent or `[REDACTED]` in `payload` keeps this one's value; a
    /// new value replaces it; `null` removes an optional one.
    ///
    /// A stored secret is only ever sent to the target it was stored for: when the update
    /// changes a field that decides where or how a secret travels (host, port, connection
    /// arguments, endpoints, proxy), every secret must be given again, and keeping one is a
    /// problem naming it and the fields that changed.
    pub fn updated_from(&self, payload: &Value) -> Result<Self, Vec<Problem>> {
        let mut secrets = self.secrets();
        secrets
            .extend(self.secret_refs().into_iter().map(|(path, reference)| (path, Secret::from_reference(reference))));
        let mut cx = Cx::new(Some(&secrets));
        let updated = read(&mut cx, payload);
        let updated = match updated {
            Some(updated) if cx.problems.is_empty() => updated,
            _ if !cx.problems.is_empty() => return Err(cx.into_problems()),
            _ => return Err(vec![Problem { path: "(body)".into(), message: "the payload could not be read".into() }]),
        };
        let moved = self.secret_destination_changes(&updated);
        if moved.is_empty() || cx.kept.is_empty() {
            return Ok(updated);
        }
        let because = moved.join(", ");
        Err(cx
            .kept
            .into_iter()
            .map(|path| Problem {
                message: format!(
                    "{path} must be given again: {because} changed, and Warden never sends a stored secret to a target other than the one it was stored for"
                ),
                path,
            })
            .collect())
    }

    /// The config fields (by payload path) that `new` changes among those deciding where or
    /// how this integration's secrets are sent.
    pub fn secret_destination_changes(&self, new: &Self) -> Vec<String> {
        if self.integration_type() != new.integration_type() {
            return Vec::new();
        }
        let fields: &[&str] = match self.integration_type() {
            IntegrationType::Redshift => &["host", "port", "connectArgs", "okta"],
            IntegrationType::Snowflake => {
                &["host", "port", "connectArgs", "privilegedConnectArgs", "oAuthClientConfig"]
            }
            IntegrationType::AzureSynapseAnalytics => &["host", "port", "connectArgs"],
            IntegrationType::Databricks => &[
                "workspaceUrl",
                "port",
                "httpPath",
                "oAuthClientConfig",
                "proxyOptions",
                "additionalWorkspaceConnections",
            ],
            IntegrationType::GoogleBigQuery => &["port"],
            IntegrationType::NativeS3 => &["port", "awsRegion", "awsAccountId", "awsRoleToAssume"],
            IntegrationType::Trino => &[],
        };
        let (old, new) = (self.redacted(), new.redacted());
        fields
            .iter()
            .filter(|field| old["config"].get(**field) != new["config"].get(**field))
            .map(|field| format!("config.{field}"))
            .collect()
    }

    /// The integration type.
    pub fn integration_type(&self) -> IntegrationType {
        match &self.config {
            PlatformConfig::NativeS3(_) => IntegrationType::NativeS3,
            PlatformConfig::AzureSynapse(_) => IntegrationType::AzureSynapseAnalytics,
            PlatformConfig::Databricks(_) => IntegrationType::Databricks,
            PlatformConfig::BigQuery(_) => IntegrationType::GoogleBigQuery,
            PlatformConfig::Redshift(_) => IntegrationType::Redshift,
            PlatformConfig::Snowflake(_) => IntegrationType::Snowflake,
            PlatformConfig::Trino => IntegrationType::Trino,
        }
    }

    /// What two integrations of one type must not share (the API reference §2.2): the host for
    /// Snowflake, Redshift and Synapse, the workspace URL for Databricks, the key file's
    /// project for BigQuery, the name for S3. Trino has one integration per Warden, so its
    /// "host" is `warden`. Hosts compare in their canonical form ([`crate::names::Hostname::conflict_key`]).
    pub fn host(&self) -> String {
        match &self.config {
            PlatformConfig::NativeS3(c) => c.name.clone(),
            PlatformConfig::AzureSynapse(c) => c.host.conflict_key().to_owned(),
            PlatformConfig::Databricks(c) => c.workspace_url.conflict_key().to_owned(),
            PlatformConfig::BigQuery(c) => c.key_info.project_id.clone(),
            PlatformConfig::Redshift(c) => c.host.conflict_key().to_owned(),
            PlatformConfig::Snowflake(c) => c.host.conflict_key().to_owned(),
            PlatformConfig::Trino => "warden".to_owned(),
        }
    }

    /// Whether `other` (of the same type) conflicts with this one beyond sharing its
    /// [`Self::host`]: for S3, a location path that overlaps (`s3://b/a` and `s3://b/a/x`),
    /// which no comparison of keys can tell.
    pub fn overlaps(&self, other: &Self) -> bool {
        match (&self.config, &other.config) {
            (PlatformConfig::NativeS3(a), PlatformConfig::NativeS3(b)) => {
                a.aws_location_path.overlaps(&b.aws_location_path)
            }
            _ => false,
        }
    }

    /// Whether conflicts of this type go beyond the host ([`Self::overlaps`]).
    pub const fn has_overlaps(&self) -> bool {
        matches!(self.config, PlatformConfig::NativeS3(_))
    }

    /// The attributes (by payload path) that `new` changes although the API reference §2.3 says they
    /// cannot be edited. An integration whose creation failed (`creation_failed`) may change
    /// anything but its type.
    pub fn non_editable_changes(&self, new: &Self, creation_failed: bool) -> Vec<String> {
        if self.integration_type() != new.integration_type() {
            return vec!["type".to_owned()];
        }
        if creation_failed {
            return Vec::new();
        }
        let config_fields: &[&str] = match self.integration_type() {
            IntegrationType::Snowflake | IntegrationType::Redshift => &["host", "database"],
            IntegrationType::AzureSynapseAnalytics => &["host", "database", "schema", "metadataDelimiters"],
            IntegrationType::Databricks => &["workspaceUrl", "catalog"],
            IntegrationType::GoogleBigQuery => &["dataset", "datasetSuffix", "location"],
            IntegrationType::NativeS3 => &["awsAccountId", "awsRegion", "awsLocationPath"],
            IntegrationType::Trino => &[],
        };
        let (old, new_value) = (self.redacted(), new.redacted());
        let mut changed = Vec::new();
        if self.auto_bootstrap != new.auto_bootstrap {
            changed.push("autoBootstrap".to_owned());
        }
        for field in config_fields {
            if old["config"].get(field) != new_value["config"].get(field) {
                changed.push(format!("config.{field}"));
            }
        }
        changed
    }

    /// The payload as JSON with every secret shown as `[REDACTED]`: what responses show and
    /// what the store may keep in clear.
    pub fn redacted(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The secret references (secrets kept outside Warden), keyed by the path of their field.
    pub fn secret_refs(&self) -> Vec<(String, SecretRef)> {
        let mut out = Vec::new();
        collect_refs(&self.redacted(), "", &mut out);
        out
    }

    /// This config with each secret reference's value taken from `values` (by path): read
    /// again, so that every check a value gets runs on the values read. A reference without a
    /// value stays unresolved.
    pub fn resolved_with(&self, values: &SecretMap) -> Result<Self, Vec<Problem>> {
        let secrets = self.secrets();
        let mut cx = Cx::new(Some(&secrets));
        cx.resolved = Some(values);
        cx.stored_read = true;
        let spec = read(&mut cx, &self.redacted());
        match spec {
            Some(spec) if cx.problems.is_empty() => Ok(spec),
            _ if !cx.problems.is_empty() => Err(cx.into_problems()),
            _ => Err(vec![Problem { path: "config".into(), message: "could not be read".into() }]),
        }
    }

    /// The secrets held by value, keyed by the path `from_value` reads them from: what the
    /// store seals. A secret kept outside Warden is not among them.
    pub fn secrets(&self) -> SecretMap {
        let exposed = with_secrets_exposed(|| serde_json::to_value(self)).unwrap_or(Value::Null);
        let mut out = SecretMap::new();
        collect_secrets(&self.redacted(), &exposed, "", &mut out);
        out
    }
}

fn collect_refs(value: &Value, path: &str, out: &mut Vec<(String, SecretRef)>) {
    match value {
        Value::Object(m) => {
            if let (1, Some(Value::String(text))) = (m.len(), m.get(SECRET_REF_KEY))
                && let Ok(reference) = SecretRef::parse(text)
            {
                out.push((path.to_owned(), reference));
                return;
            }
            for (key, v) in m {
                collect_refs(v, &join(path, key), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_refs(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn collect_secrets(redacted: &Value, exposed: &Value, path: &str, out: &mut SecretMap) {
    match (redacted, exposed) {
        (Value::String(r), Value::String(e)) if r == REDACTED && e != REDACTED => {
            out.insert(path.to_owned(), Secret::new(e.clone()));
        }
        (Value::Object(r), Value::Object(e)) => {
            for (key, rv) in r {
                if let Some(ev) = e.get(key) {
                    collect_secrets(rv, ev, &join(path, key), out);
                }
            }
        }
        (Value::Array(r), Value::Array(e)) => {
            for (i, (rv, ev)) in r.iter().zip(e).enumerate() {
                collect_secrets(rv, ev, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

impl Serialize for IntegrationSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("type", &self.integration_type())?;
        m.serialize_entry("autoBootstrap", &self.auto_bootstrap)?;
        if !matches!(self.config, PlatformConfig::Trino) {
            m.serialize_entry("config", &self.config)?;
        }
        if !self.labels.is_empty() {
            m.serialize_entry("labels", &self.labels)?;
        }
        m.end()
    }
}

fn read(cx: &mut Cx<'_>, value: &Value) -> Option<IntegrationSpec> {
    match value {
        Value::Object(_) => {}
        Value::Null => {
            cx.report("", "the body is empty: send an object with type, autoBootstrap and config");
            return None;
        }
        other => {
            cx.report(
                "",
                format!("the body must be an object with type, autoBootstrap and config, not {}", kind(other)),
            );
            return None;
        }
    }
    let mut root = Obj::from_value(cx, "", value)?;
    let ty = root.parsed(cx, "type", Need::Required, IntegrationType::parse);
    let labels = read_labels(cx, &mut root);
    let Some(ty) = ty else {
        root.skip(&["autoBootstrap", "config"]);
        root.finish(cx);
        return None;
    };
    let auto_bootstrap = match ty {
        IntegrationType::Trino => root.boolean(cx, "autoBootstrap", Need::Optional).or(Some(false)),
        _ => root.boolean(cx, "autoBootstrap", Need::Required),
    };
    if auto_bootstrap == Some(true) && !ty.supports_auto_bootstrap() {
        cx.report("autoBootstrap", format!("must be false for {ty}"));
    }
    let config = if ty == IntegrationType::Trino {
        root.unused(cx, &["config"], "type is Trino (Trino takes no config)");
        Some(PlatformConfig::Trino)
    } else {
        root.object(cx, "config", Need::Required).and_then(|mut c| {
            let auto = auto_bootstrap.unwrap_or(false);
            let config = match ty {
                IntegrationType::NativeS3 => config::read_s3(cx, &mut c).map(PlatformConfig::NativeS3),
                IntegrationType::AzureSynapseAnalytics => {
                    config::read_synapse(cx, &mut c).map(PlatformConfig::AzureSynapse)
                }
                IntegrationType::Databricks => config::read_databricks(cx, &mut c).map(PlatformConfig::Databricks),
                IntegrationType::GoogleBigQuery => config::read_bigquery(cx, &mut c).map(PlatformConfig::BigQuery),
                IntegrationType::Redshift => config::read_redshift(cx, &mut c, auto).map(PlatformConfig::Redshift),
                IntegrationType::Snowflake => config::read_snowflake(cx, &mut c, auto).map(PlatformConfig::Snowflake),
                IntegrationType::Trino => Some(PlatformConfig::Trino),
            };
            c.finish(cx);
            config
        })
    };
    root.finish(cx);
    Some(IntegrationSpec { auto_bootstrap: auto_bootstrap?, config: config?, labels: labels? })
}

/// Reads the optional `labels` object: string values under valid keys, at most
/// [`MAX_LABELS`].
fn read_labels(cx: &mut Cx<'_>, root: &mut Obj<'_>) -> Option<Labels> {
    let seen = cx.problems.len() + cx.unlisted;
    let Some(object) = root.object(cx, "labels", Need::Optional) else {
        // Absent (or null) is no labels; anything else not an object is a problem reported.
        return (cx.problems.len() + cx.unlisted == seen).then(Labels::new);
    };
    let mut labels = Labels::new();
    let entries = object.entries();
    if entries.len() > MAX_LABELS {
        cx.report("labels", format!("has {} entries: at most {MAX_LABELS} are accepted", entries.len()));
        return None;
    }
    let mut good = true;
    for (key, value) in entries {
        let shown: String = key.chars().take(64).collect();
        let path = format!("labels.{shown}");
        if let Err(why) = check_label_key(key) {
            cx.report(&path, why);
            good = false;
            continue;
        }
        let checked = match value {
            Value::String(text) if text.chars().count() > MAX_LABEL_VALUE_CHARS => {
                Err(format!("must be at most {MAX_LABEL_VALUE_CHARS} characters"))
            }
            Value::String(text) => check_text(text).map(|()| text.clone()),
            other => Err(format!("must be a string, not {}", kind(other))),
        };
        match checked {
            Ok(text) => {
                labels.insert(key.clone(), text);
            }
            Err(why) => {
                cx.report(&path, why);
                good = false;
            }
        }
    }
    good.then_some(labels)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use serde_json::{Value, json};

    use super::{CONFIG_VERSION, IntegrationSpec, brought_forward};

    fn redshift() -> Value {
        json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": "acme.example.com",
            "database": "warden", "authenticationType": "userPassword", "username": "warden_system",
            "password": "[REDACTED]"}})
    }

    fn rename_port(value: &mut Value) {
        if let Some(config) = value.get_mut("config").and_then(Value::as_object_mut)
            && let Some(port) = config.remove("dbPort")
        {
            config.insert("port".into(), port);
        }
    }

    /// A stored config gets the steps above its version, in order, and no other.
    #[test]
    fn stored_configs_are_brought_forward_by_the_steps_they_missed() {
        let steps: &[super::ConfigUpgrade] = &[(2, rename_port), (3, |v| v["config"]["port"] = json!(5440))];
        let mut old = redshift();
        old["config"]["dbPort"] = json!(5439);
        let from_one = brought_forward(&old, 1, steps);
        assert_eq!(from_one["config"]["port"], 5440);
        assert!(from_one["config"].get("dbPort").is_none());
        let from_two = brought_forward(&old, 2, steps);
        assert_eq!(from_two["config"]["dbPort"], 5439, "step 2 is not run again on a version-2 config");
        assert_eq!(from_two["config"]["port"], 5440);
    }

    /// A field this version does not know is refused in a request but skipped in a stored
    /// config; a config from a newer Warden is refused with a message that says so.
    #[test]
    fn stored_reads_are_lenient_about_unknown_fields_and_refuse_newer_versions() {
        let secrets = [("config.password".to_owned(), crate::Secret::new("pw".to_owned()))].into_iter().collect();
        let mut payload = redshift();
        payload["config"]["retiredField"] = json!("from an older Warden");
        let request = IntegrationSpec::from_value(&payload, Some(&secrets)).unwrap_err();
        assert_eq!(request[0].path, "config.retiredField");
        let stored = IntegrationSpec::from_stored(&payload, &secrets, 1).unwrap();
        assert_eq!(stored.redacted()["config"]["database"], "warden");
        let newer = IntegrationSpec::from_stored(&payload, &secrets, CONFIG_VERSION + 1).unwrap_err();
        assert!(newer[0].message.contains("written by a newer Warden"), "{newer:?}");
    }
}
