//! Validated newtypes for the values a config carries: hostnames, ports, AWS account ids,
//! regions and role ARNs, S3 paths, catalog and dataset names, URLs, regexes and key files.
//! Each `parse` returns the rest of the sentence that follows the field's path on failure
//! ("must be 12 digits"), so the payload reader can name the field.

use std::fmt;
use std::net::IpAddr;

use serde::{Serialize, Serializer};

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        string_newtype!($(#[$doc])* $name, schema: {"type": "string", "minLength": 1});
    };
    ($(#[$doc:meta])* $name:ident, schema: $schema:tt) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}

string_newtype!(
    /// A DNS hostname or an IP address literal, without scheme, port or path.
    Hostname,
    schema: {"type": "string", "maxLength": 253,
        "pattern": "^(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}|\\[?[0-9A-Fa-f]*:[0-9A-Fa-f:.]*\\]?|(?:[A-Za-z0-9_-]{1,63}\\.)*(?!0[xX])[A-Za-z0-9_-]*[A-Za-z_-][A-Za-z0-9_-]*\\.?)$",
        "description": "A hostname or an IP address, without scheme, port or path."}
);

impl Hostname {
    /// Checks a hostname (RFC 1123 labels, with `_` allowed as the reference allows it) or an
    /// IP address, and writes it in one canonical form so that two spellings of one host
    /// compare equal: lower case, no trailing dot, IPv6 in its shortest form, an IPv4-mapped
    /// IPv6 address as the IPv4 address. Numeric, octal and hexadecimal IPv4 spellings
    /// (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`) are refused: resolvers disagree on
    /// what they mean.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.contains("://") {
            return Err("must be a hostname without a scheme (drop the https:// part)".into());
        }
        if s.contains('/') {
            return Err("must be a hostname without a path".into());
        }
        let unbracketed = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Self(canonical_ip(ip)));
        }
        if s.contains(':') {
            return Err("must be a hostname without a port (the port goes in its own field)".into());
        }
        let host = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.len() > 253 || !host.split('.').all(label_ok) {
            return Err(
                "must be a valid hostname (letters, digits, hyphens, underscores and dots, labels of at most 63 characters)"
                    .into(),
            );
        }
        let last = host.rsplit('.').next().unwrap_or_default();
        if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
            return Err("must be a hostname or a dotted-decimal IP address such as 10.0.0.12 (numeric, octal and hexadecimal forms such as 2130706433, 0x7f000001, 0177.0.0.1 or 127.1 are refused)".into());
        }
        Ok(Self(host))
    }

    /// A Databricks workspace URL, given as a host or as `https://host/`: the host.
    pub fn parse_url_host(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        let without_scheme = if lower.starts_with("https://") { &s["https://".len()..] } else { s };
        let host = without_scheme.strip_suffix('/').unwrap_or(without_scheme);
        if host.contains("://") {
            return Err("must be an https URL or a hostname".into());
        }
        Self::parse(host)
    }

    /// What two integrations on one host compare by: the canonical form, with `localhost`
    /// read as the IPv4 loopback address it names for every resolver here.
    pub fn conflict_key(&self) -> &str {
        if self.0 == "localhost" { "127.0.0.1" } else { &self.0 }
    }
}

fn canonical_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or_else(|| v6.to_string(), |v4| v4.to_string()),
    }
}

/// The longest name Redshift holds, in bytes.
pub const REDSHIFT_MAX_NAME_BYTES: usize = 127;

/// Redshift's rule for a name Warden writes into its SQL, the one rule the payload checks
/// and the script builder share: Redshift folds names to lower case, so a name is written
/// folded, and it fits in [`REDSHIFT_MAX_NAME_BYTES`]. Answers what is wrong, completing the
/// sentence after the field's path.
pub fn check_redshift_name(name: &str) -> Result<(), String> {
    if name.to_lowercase() != name {
        return Err(format!(
            "has upper-case letters; Redshift folds names to lower case, so write it as {:?}",
            name.to_lowercase()
        ));
    }
    if name.len() > REDSHIFT_MAX_NAME_BYTES {
        return Err(format!("is longer than the {REDSHIFT_MAX_NAME_BYTES} bytes Redshift allows in a name"));
    }
    Ok(())
}

/// A Redshift name as configured, folded to lower case the way Redshift folds it, and
/// checked by [`check_redshift_name`].
pub fn fold_redshift_name(name: &str) -> Result<String, String> {
    let folded = name.to_lowercase();
    check_redshift_name(&folded).map(|()| folded)
}

/// A TCP port, 1 to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Port(u16);

impl schemars::JsonSchema for Port {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Port".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "integer", "minimum": 1, "maximum": 65535})
    }
}

impl Port {
    /// Wraps a port number; zero is refused.
    pub fn new(port: u16) -> Option<Self> {
        (port != 0).then_some(Self(port))
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

string_newtype!(
    /// A 12-digit AWS account id.
    AwsAccountId,
    schema: {"type": "string", "pattern": "^[0-9]{12}$"}
);

impl AwsAccountId {
    /// Checks for exactly 12 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err("must be 12 digits".into())
        }
    }
}

string_newtype!(
    /// An AWS region code such as `us-east-1`.
    AwsRegion,
    schema: {"type": "string", "pattern": "^[a-z]+(-[a-z]+)*-[0-9]+$"}
);

impl AwsRegion {
    /// Checks the region's shape: lower-case words joined by hyphens, ending in a number.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('-').collect();
        let shape_ok = parts.len() >= 3
            && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts[0].len() == 2
            && parts[parts.len() - 1].len() <= 2
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
            && !parts[parts.len() - 1].is_empty();
        if shape_ok { Ok(Self(s.to_owned())) } else { Err("must be an AWS region code such as us-east-1".into()) }
    }
}

string_newtype!(
    /// An IAM role ARN, `arn:aws:iam::123456789012:role/path/name`.
    IamRoleArn,
    schema: {"type": "string", "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/"}
);

impl IamRoleArn {
    /// Checks partition, empty region, 12-digit account and a role name of IAM's characters.
    pub fn parse(s: &str) -> Result<Self, String> {
        const HINT: &str = "must be an IAM role ARN such as arn:aws:iam::123456789012:role/name";
        let mut parts = s.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HINT.into());
        };
        let name = resource.strip_prefix("role/").unwrap_or("");
        let name_ok = !name.is_empty()
            && name.len() <= 512
            && !name.ends_with('/')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
        if matches!(partition, "aws" | "aws-cn" | "aws-us-gov") && AwsAccountId::parse(account).is_ok() && name_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(HINT.into())
        }
    }
}

/// An S3 location, `s3://bucket` or `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Path {
    bucket: String,
    /// Prefix without leading or trailing slash; empty for the whole bucket.
    prefix: String,
}

impl S3Path {
    /// Checks the scheme, the bucket name rules and the prefix.
    pub fn parse(s: &str) -> Result<Self, String> {
        let rest = s.strip_prefix("s3://").ok_or("must be an S3 path such as s3://bucket/prefix")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
            && !bucket.contains("..");
        if !bucket_ok {
            return Err(
                "must name a valid S3 bucket (3-63 lower-case letters, digits, dots, hyphens) after s3://".into()
            );
        }
        let prefix = prefix.trim_end_matches('/');
        if prefix.split('/').any(str::is_empty) && !prefix.is_empty() {
            return Err("must not contain empty path segments (//)".into());
        }
        Ok(Self { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix within the bucket, without a trailing `/` (empty for the whole bucket).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `other` lies inside this path (or is it), segment by segment: `s3://b/a`
    /// contains `s3://b/a/x`, not `s3://b/ab`.
    pub fn contains(&self, other: &Self) -> bool {
        let (outer, inner) = (&self.prefix, &other.prefix);
        self.bucket == other.bucket
            && (outer.is_empty()
                || inner == outer
                || inner.strip_prefix(outer.as_str()).is_some_and(|r| r.starts_with('/')))
    }

    /// Whether one path lies inside the other (or they are equal), segment by segment.
    pub fn overlaps(&self, other: &Self) -> bool {
        self.contains(other) || other.contains(self)
    }
}

impl schemars::JsonSchema for S3Path {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "S3Path".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
            "description": "An S3 location, s3://bucket or s3://bucket/prefix."})
    }
}

impl fmt::Display for S3Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl Serialize for S3Path {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

string_newtype!(
    /// A Databricks catalog name: letters, digits and underscores, not starting with a digit.
    CatalogName,
    schema: {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
);

impl CatalogName {
    /// Checks the catalog naming rule.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = s.len() <= 255
            && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err("may only contain letters, digits and underscores, and must not start with a digit".into())
        }
    }
}

string_newtype!(
    /// A BigQuery dataset name (letters, digits, underscores), or a suffix that starts with `_`.
    DatasetName,
    schema: {"type": "string", "pattern": "^[A-Za-z0-9_]+$"}
);

impl DatasetName {
    /// Checks a dataset name.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() <= 1024 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            Ok(Self(s.to_owned()))
        } else {
            Err("may only contain letters, digits and underscores".into())
        }
    }

    /// Checks a dataset suffix: a dataset name that starts with `_`.
    pub fn parse_suffix(s: &str) -> Result<Self, String> {
        if !s.starts_with('_') {
            return Err("must start with _".into());
        }
        Self::parse(s)
    }
}

string_newtype!(
    /// The HTTP path of a Databricks SQL warehouse or cluster, `/sql/1.0/warehouses/abc`.
    HttpPath,
    schema: {"type": "string", "minLength": 1, "pattern": "^\\S+$"}
);

impl HttpPath {
    /// Checks that the path has no spaces; a missing leading `/` is added.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.contains(char::is_whitespace) || s.contains("://") || s.trim_start_matches('/').is_empty() {
            return Err("must be an HTTP path such as /sql/1.0/warehouses/abc123".into());
        }
        Ok(Self(if s.starts_with('/') { s.to_owned() } else { format!("/{s}") }))
    }
}

string_newtype!(
    /// An https URL (plain http only to a loopback address literal, 127.0.0.0/8 or ::1, which
    /// local emulators use: the rule `warden_platform::reach` applies to every adapter).
    HttpsUrl,
    schema: {"type": "string", "minLength": 1,
        "description": "An https URL (plain http only to a loopback address, for a local emulator)."}
);

impl HttpsUrl {
    /// Parses the URL and checks its scheme; a URL given without a scheme is read as https.
    pub fn parse(s: &str) -> Result<Self, String> {
        if !s.contains("://") {
            return Self::parse(&format!("https://{s}"));
        }
        let url = url::Url::parse(s).map_err(|e| format!("must be a URL ({e})"))?;
        // A name is never loopback here: it could resolve anywhere.
        let loopback = match url.host() {
            Some(url::Host::Domain(_)) => false,
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" if url.host().is_some() => Ok(Self(s.to_owned())),
            "http" if loopback => Ok(Self(s.to_owned())),
            "http" => {
                Err("must be an https URL (http only to a loopback address such as 127.0.0.1, for a local emulator)"
                    .into())
            }
            _ => Err("must be an https URL".into()),
        }
    }
}

string_newtype!(
    /// A regular expression that compiles (with a size limit against hostile patterns).
    Pattern,
    schema: {"type": "string", "format": "regex", "description": "A regular expression (Java syntax: look-around is accepted)."}
);

impl Pattern {
    /// Compiles the pattern once to prove it is valid. The reference's patterns are Java
    /// regular expressions, so look-around and back-references are accepted (fancy-regex,
    /// with a size limit and a backtracking limit against hostile patterns).
    pub fn parse(s: &str) -> Result<Self, String> {
        let built = fancy_regex::RegexBuilder::new(s).delegate_size_limit(1 << 20).backtrack_limit(100_000).build();
        match built {
            Ok(_) => Ok(Self(s.to_owned())),
            Err(e) => {
                let detail = e.to_string();
                let reason = detail.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("it does not compile");
                let reason: String = reason.trim_start_matches("error: ").chars().take(200).collect();
                Err(format!("must be a valid regular expression ({reason})"))
            }
        }
    }
}

/// The parts of a Google service-account key file that are not secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountKeyInfo {
    /// `project_id` of the key file.
    pub project_id: String,
    /// `client_email` of the key file: the service account.
    pub client_email: String,
}

/// Checks a service-account key file's content without echoing any of it.
pub fn parse_service_account_key(content: &str) -> Result<ServiceAccountKeyInfo, String> {
    let value: serde_json::Value = serde_json::from_str(content)
        .map_err(|_| "must be the content of a service-account JSON key file (it is not JSON)".to_owned())?;
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty());
    if field("type") != Some("service_account") {
        return Err("must be a service-account key file (its \"type\" must be \"service_account\")".into());
    }
    let missing: Vec<&str> =
        ["project_id", "client_email", "private_key"].into_iter().filter(|k| field(k).is_none()).collect();
    if !missing.is_empty() {
        return Err(format!("is a key file without {}", missing.join(", ")));
    }
    let info = ServiceAccountKeyInfo {
        project_id: field("project_id").unwrap_or_default().to_owned(),
        client_email: field("client_email").unwrap_or_default().to_owned(),
    };
    if Hostname::parse(&info.project_id).is_err() || info.client_email.chars().any(char::is_control) {
        return Err("is a key file whose project_id or client_email is malformed".into());
    }
    Ok(info)
}

/// Turns the `\n` escapes that the API accepts in a PEM key into newlines and checks that
/// the result looks like a PEM private key.
pub fn normalise_pem_private_key(text: &str) -> Result<String, String> {
    let pem = text.replace("\\n", "\n");
    let body = pem.trim();
    if body.starts_with("-----BEGIN") && body.contains("PRIVATE KEY-----") && body.ends_with("-----") {
        Ok(pem)
    } else {
        Err("must be a PEM private key (-----BEGIN ... PRIVATE KEY----- ... -----END ... PRIVATE KEY-----)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert!(Hostname::parse("acme.snowflakecomputing.com").is_ok());
        assert!(Hostname::parse("127.0.0.1").is_ok());
        assert!(Hostname::parse("::1").is_ok());
        assert_eq!(Hostname::parse("ACME.example.COM").unwrap().as_str(), "acme.example.com");
        for bad in ["https://a.com", "a.com:443", "a.com/x", "-a.com", "a..com", "a b.com", "x\";drop"] {
            assert!(Hostname::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Hostname::parse("my_org-my_account.snowflakecomputing.com").unwrap().as_str(),
            "my_org-my_account.snowflakecomputing.com"
        );
    }

    #[test]
    fn one_host_has_one_spelling() {
        let key = |s: &str| Hostname::parse(s).map(|h| h.conflict_key().to_owned());
        for same in ["127.0.0.1", "localhost", "LOCALHOST.", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]"] {
            assert_eq!(key(same).as_deref(), Ok("127.0.0.1"), "{same}");
        }
        assert_eq!(key("Cluster.Example.com.").as_deref(), Ok("cluster.example.com"));
        assert_eq!(key("0:0:0:0:0:0:0:1").as_deref(), Ok("::1"));
        for refused in ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "10.0.0.0x1", "1.2.3"] {
            assert!(Hostname::parse(refused).is_err(), "{refused} is refused");
        }
    }

    #[test]
    fn s3_paths_overlap_by_segment() {
        let p = |s| S3Path::parse(s).unwrap();
        assert!(p("s3://bucket").overlaps(&p("s3://bucket/a")));
        assert!(p("s3://bucket/a/").overlaps(&p("s3://bucket/a/b")));
        assert!(!p("s3://bucket/a").overlaps(&p("s3://bucket/ab")));
        assert!(!p("s3://bucket/a").overlaps(&p("s3://other/a")));
        assert_eq!(p("s3://bucket/a/").to_string(), "s3://bucket/a");
        for bad in ["bucket/a", "s3://B", "s3://ab", "s3://a..b", "s3://bucket//x"] {
            assert!(S3Path::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arns_regions_accounts() {
        assert!(IamRoleArn::parse("arn:aws:iam::123456789012:role/path/warden-grants").is_ok());
        assert!(IamRoleArn::parse("arn:aws:iam::12345678901:role/x").is_err());
        assert!(IamRoleArn::parse("arn:aws:s3:::bucket").is_err());
        assert!(IamRoleArn::parse("arn:aws:iam::123456789012:user/x").is_err());
        assert!(AwsRegion::parse("us-gov-west-1").is_ok());
        assert!(AwsRegion::parse("US-EAST-1").is_err());
        assert!(AwsAccountId::parse("12345678901a").is_err());
    }

    #[test]
    fn java_style_look_around_is_accepted() {
        assert!(Pattern::parse("^(?!.*TMP).*$").is_ok());
        assert!(Pattern::parse("(?<=PROD_)\\w+").is_ok());
    }

    #[test]
    fn lenient_urls_and_paths_are_normalised() {
        assert_eq!(
            Hostname::parse_url_host("https://dbc-1.cloud.databricks.com/").unwrap().as_str(),
            "dbc-1.cloud.databricks.com"
        );
        assert_eq!(HttpPath::parse("sql/1.0/warehouses/abc").unwrap().as_str(), "/sql/1.0/warehouses/abc");
        assert_eq!(
            HttpsUrl::parse("login.microsoftonline.com/tenant").unwrap().as_str(),
            "https://login.microsoftonline.com/tenant"
        );
        assert!(HttpsUrl::parse("http://example.com").is_err());
        assert!(HttpsUrl::parse("http://localhost:8080/oidc").is_err(), "a name is not loopback");
        assert!(HttpsUrl::parse("http://127.0.0.1:8080/oidc").is_ok());
        assert!(HttpsUrl::parse("http://[::1]:8080/oidc").is_ok());
    }

    #[test]
    fn regex_errors_are_short() {
        let err = Pattern::parse("(unclosed").unwrap_err();
        assert!(err.starts_with("must be a valid regular expression ("), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn key_file_errors_do_not_echo_content() {
        let err = parse_service_account_key("{\"type\":\"user\",\"private_key\":\"SECRETVALUE\"}").unwrap_err();
        assert!(!err.contains("SECRETVALUE"));
        assert!(parse_service_account_key("SECRETVALUE").unwrap_err().contains("not JSON"));
    }
}
