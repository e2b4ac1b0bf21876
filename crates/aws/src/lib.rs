//! What Warden's AWS-facing adapters share, so that none carries its own copy: AWS
//! credentials as Warden holds them ([`Keys`], secrets never shown), and AWS Signature
//! Version 4 through the AWS SDK's own signer (`aws-sigv4`), for the calls an adapter makes
//! with its own HTTP client (Redshift's `GetClusterCredentials`). Adapters that use the AWS
//! SDK's service clients (S3 Access Grants) sign through those.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use warden_model::Secret;

/// AWS credentials: an access key and, for temporary ones, a session token.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    /// The access key id (not a secret).
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_key: &'a Secret<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<&'a Secret<String>>,
}

/// A request to sign.
#[derive(Debug, Clone, Copy)]
pub struct Unsigned<'a> {
    /// `GET`, `POST`...
    pub method: &'a str,
    /// The full URL, query included.
    pub url: &'a str,
    /// The headers to sign besides those the signer adds (`content-type`, say).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

/// Where the signature applies: the region and the service's signing name (`redshift`).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The region (`us-east-1`).
    pub region: &'a str,
    /// The service's signing name.
    pub service: &'a str,
}

/// Why a request could not be signed (the signer's text; it never holds a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request could not be signed: {0}")]
pub struct SignError(String);

/// Signs `request` with SigV4 at `time`, and returns the headers to add to it
/// (`authorization`, `x-amz-date`, and `x-amz-security-token` for temporary keys).
pub fn sign_request(
    request: &Unsigned<'_>,
    keys: &Keys<'_>,
    scope: &Scope<'_>,
    time: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    let credentials = Credentials::new(
        keys.access_key_id,
        keys.secret_key.expose(),
        keys.session_token.map(|token| token.expose().clone()),
        None,
        "warden",
    );
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().copied(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    Ok(instructions.headers().map(|(name, value)| (name.to_owned(), value.to_owned())).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use std::time::{Duration, UNIX_EPOCH};

    use warden_model::Secret;

    use super::{Keys, Scope, Unsigned, sign_request};

    /// The `get-vanilla` case of AWS's Signature Version 4 test suite (the signature the
    /// hand-written signer this replaced was checked against too).
    #[test]
    fn signs_the_aws_test_suite_request() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned());
        let keys = Keys { access_key_id: "AKIDEXAMPLE", secret_key: &secret, session_token: None };
        let request = Unsigned { method: "GET", url: "https://example.amazonaws.com/", headers: &[], body: b"" };
        let at = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let headers = sign_request(&request, &keys, &Scope { region: "us-east-1", service: "service" }, at).unwrap();
        let authorization = headers.iter().find(|(name, _)| name == "authorization").map(|(_, v)| v.as_str());
        assert_eq!(
            authorization,
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );
        assert!(headers.iter().any(|(name, value)| name == "x-amz-date" && value == "20150830T123600Z"));
        assert!(!headers.iter().any(|(_, value)| value.contains("wJalrXUtnFEMI")), "the secret is never a header");
    }

    #[test]
    fn temporary_keys_send_their_session_token() {
        let (secret, token) = (Secret::new("secret".to_owned()), Secret::new("the-token".to_owned()));
        let keys = Keys { access_key_id: "ASIA", secret_key: &secret, session_token: Some(&token) };
        let request = Unsigned { method: "POST", url: "http://127.0.0.1:5000/", headers: &[], body: b"Action=X" };
        let headers =
            sign_request(&request, &keys, &Scope { region: "us-east-1", service: "redshift" }, UNIX_EPOCH).unwrap();
        assert!(headers.iter().any(|(name, value)| name == "x-amz-security-token" && value == "the-token"));
    }
}
