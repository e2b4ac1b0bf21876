//! Reads the secrets a config keeps outside Warden (`{"secretRef": ...}`), each time the config
//! is used: an environment variable of the Warden process, a file, or an AWS Secrets Manager
//! secret. Nothing read is kept: a value changed where it is kept takes effect on the next
//! use, without a restart.
//!
//! The operator decides what may be read ([`SecretRefAllowList`], `--secret-ref-allow`):
//! without the list anyone holding an admin key could have Warden send any variable or file
//! it can read to a host of their choosing. The list is checked when a reference is sent and
//! again each time it is read (a file's real path after links too), Warden's own variables
//! (`WARDEN_*`) are never read, and neither is a file under Warden's data directory (its key
//! files).

use std::path::{Path, PathBuf};
use std::time::Duration;

use warden_model::MAX_SECRET_BYTES;
use warden_model::{IntegrationSpec, Problem, Secret, SecretMap, SecretRef, SecretRefAllowList, SecretSource};
use warden_platform::{ErrorKind, PlatformError};

/// How long one read from AWS Secrets Manager may take.
pub const AWS_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a reference could not be read. Never carries what it points to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} is the secret reference {reference}, which {reason}")]
pub struct ResolveError {
    /// The field holding the reference.
    pub path: String,
    /// The reference.
    pub reference: String,
    /// What went wrong and what to do, completing "which ...".
    pub reason: String,
    /// What kind of fault it is (a missing variable is not found; AWS unreachable passes).
    pub kind: ErrorKind,
}

impl From<ResolveError> for PlatformError {
    fn from(error: ResolveError) -> Self {
        Self::new(error.kind, error.to_string())
    }
}

/// Reads secret references under the operator's allow-list.
#[derive(Debug, Default)]
pub struct SecretResolver {
    allow: SecretRefAllowList,
    /// Directories no file reference may read from (Warden's data directory).
    refused_dirs: Vec<PathBuf>,
    aws: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client>,
}

impl SecretResolver {
    /// A resolver accepting the references `allow` lists, never reading a file under one of
    /// `refused_dirs`.
    pub fn new(allow: SecretRefAllowList, refused_dirs: Vec<PathBuf>) -> Self {
        let refused_dirs = refused_dirs.into_iter().map(|d| std::fs::canonicalize(&d).unwrap_or(d)).collect();
        Self { allow, refused_dirs, aws: tokio::sync::OnceCell::new() }
    }

    /// The problems of a request's references this server does not accept: each names its
    /// field and says what is accepted.
    pub fn refusals(&self, spec: &IntegrationSpec) -> Vec<Problem> {
        spec.secret_refs()
            .into_iter()
            .filter_map(|(path, reference)| self.allow.refusal(&reference).map(|message| Problem { path, message }))
            .collect()
    }

    /// `spec` with every reference read, or the first that could not be.
    pub async fn resolve(&self, spec: &IntegrationSpec) -> Result<IntegrationSpec, ResolveError> {
        let refs = spec.secret_refs();
        if refs.is_empty() {
            return Ok(spec.clone());
        }
        let mut values = SecretMap::new();
        for (path, reference) in refs {
            let fail = |kind: ErrorKind, reason: String| ResolveError {
                path: path.clone(),
                reference: reference.to_string(),
                reason,
                kind,
            };
            if self.allow.refusal(&reference).is_some() {
                return Err(fail(
                    ErrorKind::Forbidden,
                    format!(
                        "this server no longer accepts (its --secret-ref-allow list is {}): give the field its value, or a reference the list accepts",
                        if self.allow.is_empty() { "empty".to_owned() } else { self.allow.prefixes().join(", ") }
                    ),
                ));
            }
            let value = self.read(&reference).await.map_err(|(kind, reason)| fail(kind, reason))?;
            values.insert(path, Secret::new(value));
        }
        spec.resolved_with(&values).map_err(|problems| {
            let problem =
                problems.into_iter().next().unwrap_or(Problem { path: String::new(), message: String::new() });
            let message = problem.message.strip_prefix(&format!("{} ", problem.path)).unwrap_or(&problem.message);
            ResolveError {
                reference: spec
                    .secret_refs()
                    .into_iter()
                    .find(|(p, _)| *p == problem.path)
                    .map(|(_, r)| r.to_string())
                    .unwrap_or_default(),
                path: problem.path.clone(),
                reason: format!("points to a value Warden does not accept: it {message}"),
                kind: ErrorKind::Unsupported,
            }
        })
    }

    async fn read(&self, reference: &SecretRef) -> Result<String, (ErrorKind, String)> {
        let value = match reference.source() {
            SecretSource::Env { name } => match std::env::var(name) {
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => {
                    return Err((
                        ErrorKind::NotFound,
                        "names a variable that is not set in Warden's environment: set it where Warden runs (and restart Warden), or give the field its value".into(),
                    ));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err((ErrorKind::Unsupported, "names a variable that is not UTF-8 text".into()));
                }
            },
            SecretSource::File { path } => self.read_file(Path::new(path)).await?,
            SecretSource::AwsSecretsManager { secret_id, key } => self.read_aws(secret_id, key.as_deref()).await?,
        };
        if value.trim().is_empty() {
            return Err((ErrorKind::NotFound, "points to an empty value: put the secret there".into()));
        }
        if value.len() > MAX_SECRET_BYTES {
            return Err((ErrorKind::Unsupported, format!("points to more than {MAX_SECRET_BYTES} bytes")));
        }
        Ok(value)
    }

    async fn read_file(&self, path: &Path) -> Result<String, (ErrorKind, String)> {
        let unreadable = |e: std::io::Error| {
            let kind =
                if e.kind() == std::io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Forbidden };
            (
                kind,
                format!(
                    "names a file Warden cannot read ({}): put the file there, readable by Warden's user",
                    e.kind()
                ),
            )
        };
        let real = tokio::fs::canonicalize(path).await.map_err(unreadable)?;
        let shown = format!("file://{}", real.display());
        if !self.allow.allows(&shown) {
            return Err((
                ErrorKind::Forbidden,
                "leads (through a link) to a file outside the prefixes this server accepts: point it at the file itself".into(),
            ));
        }
        if self.refused_dirs.iter().any(|dir| real.starts_with(dir)) {
            return Err((
                ErrorKind::Forbidden,
                "names a file in Warden's data directory, which Warden never reads as a secret".into(),
            ));
        }
        let meta = tokio::fs::metadata(&real).await.map_err(unreadable)?;
        if !meta.is_file() {
            return Err((ErrorKind::Unsupported, "names something that is not a file".into()));
        }
        if meta.len() > MAX_SECRET_BYTES as u64 {
            return Err((ErrorKind::Unsupported, format!("names a file of more than {MAX_SECRET_BYTES} bytes")));
        }
        let bytes = tokio::fs::read(&real).await.map_err(unreadable)?;
        let mut text = String::from_utf8(bytes)
            .map_err(|_| (ErrorKind::Unsupported, "names a file that is not UTF-8 text".to_owned()))?;
        // Secret files (Docker, Kubernetes) often end in one newline that is not the secret's.
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Ok(text)
    }

    async fn read_aws(&self, secret_id: &str, key: Option<&str>) -> Result<String, (ErrorKind, String)> {
        use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

        let client = self
            .aws
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                let endpoint = warden_platform::reach::aws_endpoint("SECRETS_MANAGER", String::new());
                if !endpoint.is_empty() {
                    loader = loader.endpoint_url(endpoint);
                }
                aws_sdk_secretsmanager::Client::new(&loader.load().await)
            })
            .await;
        let call = client.get_secret_value().secret_id(secret_id).send();
        let answer = match tokio::time::timeout(AWS_TIMEOUT, call).await {
            Err(_) => {
                return Err((
                    ErrorKind::Unreachable,
                    format!(
                        "AWS Secrets Manager did not answer within {} s: Warden tries again at the next use",
                        AWS_TIMEOUT.as_secs()
                    ),
                ));
            }
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                let said = error.message().map(|m| format!(" ({m})")).unwrap_or_default();
                return Err(match error.as_service_error() {
                    Some(GetSecretValueError::ResourceNotFoundException(_)) => {
                        (ErrorKind::NotFound, format!("names a secret AWS Secrets Manager does not have{said}: create it, or correct the name"))
                    }
                    Some(_) if error.code() == Some("AccessDeniedException") => (
                        ErrorKind::Forbidden,
                        format!("Warden's AWS identity may not read{said}: allow it secretsmanager:GetSecretValue on the secret"),
                    ),
                    Some(GetSecretValueError::DecryptionFailure(_)) => (
                        ErrorKind::Forbidden,
                        format!("AWS could not decrypt for Warden{said}: allow Warden's identity kms:Decrypt on the secret's key"),
                    ),
                    Some(_) if error.code() == Some("ThrottlingException") => {
                        (ErrorKind::Throttled { retry_after: None }, format!("AWS Secrets Manager throttled{said}: Warden tries again at the next use"))
                    }
                    Some(_) => (ErrorKind::Other, format!("AWS Secrets Manager refused to give{said}")),
                    None => (
                        ErrorKind::Unreachable,
                        "could not be read: AWS Secrets Manager could not be reached (check Warden's AWS region, credentials and network)".into(),
                    ),
                });
            }
        };
        let Some(text) = answer.secret_string() else {
            return Err((ErrorKind::Unsupported, "names a binary secret: Warden reads a secret's string".into()));
        };
        let Some(key) = key else { return Ok(text.to_owned()) };
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).map_err(|_| {
            (ErrorKind::Unsupported, "names a key, and the secret's string is not a JSON object".to_owned())
        })?;
        match object.get(key) {
            Some(serde_json::Value::String(value)) => Ok(value.clone()),
            Some(_) => Err((ErrorKind::Unsupported, format!("names the key {key:?}, whose value is not a string"))),
            None => Err((ErrorKind::NotFound, format!("names the key {key:?}, which the secret does not have"))),
        }
    }
}
