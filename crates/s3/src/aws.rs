//! The AWS SDK clients of one S3 config: region from `awsRegion`; credentials from the stored
//! access key (`accessKey`) or the process's default chain (`auto`), then, when
//! `awsRoleToAssume` is given, that role assumed through STS (the SDK's provider refreshes
//! the credentials before they expire). An endpoint override (`reach::aws_endpoint`:
//! `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL`; for tests, a local emulator) is
//! honoured by every client: S3 then addresses buckets by path, and S3 Control gets a fixed
//! endpoint, since its endpoint rules would otherwise put the account id into the host name.
//!
//! An SDK error becomes the contract's kind and the reference's text: `AWS responded with
//! code [403], name [AccessDenied] and message [...] for request ID [...]`.

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use warden_model::config::{S3Authentication, S3Config};
use warden_platform::{ErrorKind, PlatformError, reach};

/// The three clients an S3 integration uses.
#[derive(Debug, Clone)]
pub struct Clients {
    /// STS (the caller's identity).
    pub sts: aws_sdk_sts::Client,
    /// S3 (listing the location's prefixes).
    pub s3: aws_sdk_s3::Client,
    /// S3 Control (Access Grants).
    pub s3control: aws_sdk_s3control::Client,
}

/// S3 Control's endpoint when it is overridden: the URL as given, whatever the account.
#[derive(Debug)]
struct Fixed(String);

impl ResolveEndpoint for Fixed {
    fn resolve_endpoint<'a>(&'a self, _params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}

/// The clients for `config`.
pub async fn clients(config: &S3Config) -> Result<Clients, PlatformError> {
    let region = aws_config::Region::new(config.aws_region.as_str().to_owned());
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    let role = match &config.authentication {
        S3Authentication::AccessKey { aws_access_key_id, aws_secret_access_key, aws_role_to_assume } => {
            let key = Credentials::new(aws_access_key_id, aws_secret_access_key.expose(), None, None, "warden-config");
            loader = loader.credentials_provider(key);
            aws_role_to_assume.as_ref()
        }
        S3Authentication::Auto { aws_role_to_assume } => aws_role_to_assume.as_ref(),
    };
    let mut shared = loader.load().await;
    let endpoint = |service: &str| Some(reach::aws_endpoint(service, String::new())).filter(|url| !url.is_empty());
    if let Some(role) = role {
        // The role is assumed through STS where the other STS calls go.
        let mut through = shared.to_builder();
        if let Some(url) = endpoint("STS") {
            through = through.endpoint_url(url);
        }
        let provider = aws_config::sts::AssumeRoleProvider::builder(role.as_str())
            .session_name("warden")
            .configure(&through.build())
            .build()
            .await;
        shared = shared.into_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build();
    }
    let mut sts = aws_sdk_sts::config::Builder::from(&shared);
    if let Some(url) = endpoint("STS") {
        sts = sts.endpoint_url(url);
    }
    let mut s3 = aws_sdk_s3::config::Builder::from(&shared);
    if let Some(url) = endpoint("S3") {
        s3 = s3.endpoint_url(url).force_path_style(true);
    }
    let mut s3control = aws_sdk_s3control::config::Builder::from(&shared);
    if let Some(url) = endpoint("S3_CONTROL") {
        s3control = s3control.endpoint_resolver(Fixed(url));
    }
    Ok(Clients {
        sts: aws_sdk_sts::Client::from_conf(sts.build()),
        s3: aws_sdk_s3::Client::from_conf(s3.build()),
        s3control: aws_sdk_s3control::Client::from_conf(s3control.build()),
    })
}

/// An SDK error as the contract's kind and the reference's text (`AWS responded with code
/// [403], name [AccessDenied] and message [...] for request ID [...]`, or, when no answer
/// came, why).
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(
    error: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> (ErrorKind, String) {
    let Some(status) = error.raw_response().map(|r| r.status().as_u16()) else {
        // No answer: the request never reached AWS (DNS, connection, timeout, no credentials).
        let kind = match error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ErrorKind::Unreachable,
            _ => ErrorKind::Unauthenticated,
        };
        return (kind, aws_smithy_types::error::display::DisplayErrorContext(error).to_string());
    };
    let meta = error.as_service_error().map(ProvideErrorMetadata::meta);
    // An answer the SDK could not read as the service's error keeps its body: its XML
    // `<Code>` and `<Message>` say the same.
    let body = error.raw_response().and_then(|r| r.body().bytes()).map(String::from_utf8_lossy).unwrap_or_default();
    let element = |name: &str| {
        let open = format!("<{name}>");
        body.split(&open).nth(1).and_then(|rest| rest.split(&format!("</{name}>")).next()).map(str::to_owned)
    };
    let code =
        meta.and_then(|m| m.code()).map(str::to_owned).or_else(|| element("Code")).unwrap_or_else(|| "unknown".into());
    let message = meta
        .and_then(|m| m.message())
        .map(str::to_owned)
        .or_else(|| element("Message"))
        .unwrap_or_else(|| "no message".into());
    let code = code.as_str();
    let request_id = error
        .raw_response()
        .and_then(|r| r.headers().get("x-amz-request-id").or_else(|| r.headers().get("x-amzn-requestid")))
        .unwrap_or("unknown");
    let kind = match (status, code) {
        (_, "InvalidClientTokenId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidAccessKeyId") => {
            ErrorKind::Unauthenticated
        }
        (403, _) | (_, "AccessDenied") => ErrorKind::Forbidden,
        (404, _) | (_, "NoSuchBucket" | "NoSuchAccessGrantsInstanceError" | "NoSuchAccessGrantsLocationError") => {
            ErrorKind::NotFound
        }
        (409, _) | (_, "AccessGrantsLocationAlreadyExistsError") => ErrorKind::AlreadyExists,
        (429 | 503, _) | (_, "SlowDown" | "Throttling" | "ThrottlingException") => {
            ErrorKind::Throttled { retry_after: None }
        }
        _ => ErrorKind::Other,
    };
    (
        kind,
        format!(
            "AWS responded with code [{status}], name [{code}] and message [{message}] for request ID [{request_id}]"
        ),
    )
}

/// An SDK error of `doing` as a platform error.
pub fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    doing: &str,
    error: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> PlatformError {
    let (kind, text) = describe(error);
    PlatformError::new(kind, format!("{doing}: {text}"))
}
