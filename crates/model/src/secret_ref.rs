//! `SecretRef`: a reference to a secret kept outside Warden (`env://VAR`,
//! `file:///run/secrets/x`, `aws-sm://<name>#<key>`), what a secret field may hold instead of
//! its value, and `SecretRefAllowList`, the operator's list of the reference prefixes a
//! server accepts. Parsing and matching only; reading what a reference points to is IO, and
//! lives in `warden-secrets`.

use std::fmt;

/// The key a secret field's object form carries: `{"secretRef": "env://VAR"}`.
pub const SECRET_REF_KEY: &str = "secretRef";

/// The longest reference accepted, in bytes.
pub const MAX_SECRET_REF_BYTES: usize = 2048;

/// The environment variables no reference may read, whatever the allow-list says: Warden's
/// own (its master key among them).
pub const RESERVED_ENV_PREFIX: &str = "WARDEN_";

/// Where a referenced secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of the Warden process.
    Env {
        /// The variable's name.
        name: String,
    },
    /// A file Warden can read (an absolute path without `.` or `..` segments).
    File {
        /// The absolute path.
        path: String,
    },
    /// An AWS Secrets Manager secret: its `SecretString`, or one key of it when it is a JSON
    /// object.
    AwsSecretsManager {
        /// The secret's name or ARN.
        secret_id: String,
        /// The key of the JSON object the secret string holds, if one is named.
        key: Option<String>,
    },
}

/// A checked reference to a secret kept outside Warden. Its text is not secret: it is stored
/// and shown back as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    text: String,
    source: SecretSource,
}

/// The forms a reference may take, for messages.
pub const SECRET_REF_FORMS: &str = "env://VARIABLE, file:///absolute/path or aws-sm://secret-name#key";

impl SecretRef {
    /// Parses a reference; the error completes the sentence "... is not a secret reference: ".
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_SECRET_REF_BYTES {
            return Err(format!("must be at most {MAX_SECRET_REF_BYTES} bytes"));
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        let source = if let Some(name) = text.strip_prefix("env://") {
            let mut chars = name.chars();
            let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || name.len() > 256 {
                return Err(
                    "env:// must be followed by a variable name: letters, digits and '_', not starting with a digit"
                        .into(),
                );
            }
            SecretSource::Env { name: name.to_owned() }
        } else if let Some(path) = text.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err("file:// must be followed by an absolute path (file:///run/secrets/name)".into());
            }
            if path.ends_with('/') || path.split('/').skip(1).any(|s| s.is_empty() || s == "." || s == "..") {
                return Err("the path must name a file, without empty, '.' or '..' segments".into());
            }
            SecretSource::File { path: path.to_owned() }
        } else if let Some(rest) = text.strip_prefix("aws-sm://") {
            let (secret_id, key) = match rest.split_once('#') {
                Some((id, key)) => (id, Some(key)),
                None => (rest, None),
            };
            // Secrets Manager names: letters, digits and /_+=.@- (the ARN adds ':').
            let id_ok =
                !secret_id.is_empty() && secret_id.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-:".contains(c));
            if !id_ok {
                return Err("aws-sm:// must be followed by a secret's name or ARN (letters, digits and /_+=.@-:), then optionally #key".into());
            }
            if key.is_some_and(str::is_empty) {
                return Err("the key after '#' must not be empty".into());
            }
            SecretSource::AwsSecretsManager { secret_id: secret_id.to_owned(), key: key.map(str::to_owned) }
        } else {
            return Err(format!("use one of {SECRET_REF_FORMS}"));
        };
        if let SecretSource::Env { name } = &source
            && name.to_ascii_uppercase().starts_with(RESERVED_ENV_PREFIX)
        {
            return Err(format!("variables starting with {RESERVED_ENV_PREFIX} are Warden's own and are never read"));
        }
        Ok(Self { text: text.to_owned(), source })
    }

    /// The reference as sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Where the secret is kept.
    pub const fn source(&self) -> &SecretSource {
        &self.source
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The reference prefixes a server accepts (`--secret-ref-allow`), set by its operator. Empty
/// (the default): secret fields take values only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRefAllowList(Vec<String>);

impl SecretRefAllowList {
    /// Checks each prefix: it must start with a reference form's scheme, and a `file://`
    /// prefix must be an absolute directory ending in `/`.
    pub fn new(prefixes: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut out = Vec::new();
        for prefix in prefixes {
            let prefix = prefix.trim().to_owned();
            if prefix.is_empty() {
                continue;
            }
            let ok = if let Some(path) = prefix.strip_prefix("file://") {
                path.starts_with('/') && path.ends_with('/') && !path.split('/').any(|s| s == "." || s == "..")
            } else {
                prefix.starts_with("env://") || prefix.starts_with("aws-sm://")
            };
            if !ok {
                return Err(format!(
                    "secret reference prefix {prefix:?} is not one: use env://PREFIX, aws-sm://PREFIX or file:///directory/ (ending in '/')"
                ));
            }
            out.push(prefix);
        }
        Ok(Self(out))
    }

    /// Whether no reference is accepted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The prefixes.
    pub fn prefixes(&self) -> &[String] {
        &self.0
    }

    /// Why `reference` is refused here, if it is; the text completes "config.x ".
    pub fn refusal(&self, reference: &SecretRef) -> Option<String> {
        if self.is_empty() {
            return Some(format!(
                "is a secret reference ({reference}), and this server accepts none: send the secret itself, or ask its operator to allow the reference's prefix with --secret-ref-allow"
            ));
        }
        (!self.allows(reference.as_str())).then(|| {
            format!(
                "is a secret reference ({reference}) this server does not accept: it accepts references starting with {}",
                self.0.join(", ")
            )
        })
    }

    /// Whether `text` (a reference, or a file reference's resolved path as `file://...`)
    /// starts with an allowed prefix.
    pub fn allows(&self, text: &str) -> bool {
        self.0.iter().any(|prefix| text.starts_with(prefix.as_str()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use super::*;

    #[test]
    fn the_three_forms_parse() {
        assert_eq!(
            SecretRef::parse("env://SNOWFLAKE_PW").unwrap().source(),
            &SecretSource::Env { name: "SNOWFLAKE_PW".into() }
        );
        assert_eq!(
            SecretRef::parse("file:///run/secrets/pw").unwrap().source(),
            &SecretSource::File { path: "/run/secrets/pw".into() }
        );
        assert_eq!(
            SecretRef::parse("aws-sm://prod/warden#password").unwrap().source(),
            &SecretSource::AwsSecretsManager { secret_id: "prod/warden".into(), key: Some("password".into()) }
        );
        assert_eq!(
            SecretRef::parse("aws-sm://arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf")
                .unwrap()
                .source(),
            &SecretSource::AwsSecretsManager {
                secret_id: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf".into(),
                key: None
            }
        );
    }

    #[test]
    fn hostile_or_malformed_references_are_refused_with_a_reason() {
        for (text, says) in [
            ("env://WARDEN_MASTER_KEY", "Warden's own"),
            ("env://warden_master_key", "Warden's own"),
            ("env://1X", "variable name"),
            ("env://A;rm -rf", "variable name"),
            ("file://relative/x", "absolute"),
            ("file:///run/secrets/../../etc/shadow", "'..'"),
            ("file:///run/secrets/", "name a file"),
            ("file:///run//x", "empty"),
            ("aws-sm://", "name or ARN"),
            ("aws-sm://x y", "name or ARN"),
            ("aws-sm://x#", "must not be empty"),
            ("vault://x", "use one of"),
            ("env://A\nB", "control"),
        ] {
            let why = SecretRef::parse(text).unwrap_err();
            assert!(why.contains(says), "{text}: {why}");
        }
        assert!(SecretRef::parse(&format!("env://{}", "A".repeat(3000))).unwrap_err().contains("at most"));
    }

    #[test]
    fn the_allow_list_matches_by_prefix_and_refuses_by_default() {
        let reference = SecretRef::parse("env://SF_PASSWORD").unwrap();
        assert!(SecretRefAllowList::default().refusal(&reference).unwrap().contains("--secret-ref-allow"));
        let allow = SecretRefAllowList::new(["env://SF_".to_owned(), "file:///run/secrets/".to_owned()]).unwrap();
        assert_eq!(allow.refusal(&reference), None);
        let other = SecretRef::parse("env://HOME").unwrap();
        assert!(allow.refusal(&other).unwrap().contains("env://SF_, file:///run/secrets/"));
        assert!(allow.allows("file:///run/secrets/pw"));
        assert!(!allow.allows("file:///run/secretsX/pw"));
        assert!(SecretRefAllowList::new(["file:///run/secrets".to_owned()]).is_err());
        assert!(SecretRefAllowList::new(["https://x".to_owned()]).is_err());
    }
}
