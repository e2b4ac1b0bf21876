//! Temporary database credentials for `authenticationType: accessKey`: Redshift's
//! `GetClusterCredentials` API (Query protocol, version 2012-12-01), signed with AWS
//! Signature Version 4 by the AWS SDK's signer (through `warden-aws`, which every AWS-facing
//! adapter shares). The endpoint is `https://redshift.<region>.amazonaws.com/` unless `AWS_ENDPOINT_URL_REDSHIFT`,
//! `AWS_ENDPOINT_URL` or `connectArgs` `aws_endpoint_url` names another (a VPC endpoint,
//! or the local AWS emulator of the tests). The cluster and region come from the standard
//! host name `<cluster>.<id>.<region>.redshift.amazonaws.com`, or from `connectArgs`
//! `cluster_identifier` and `region`. No secret is ever logged or put in an error.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use warden_aws::{Keys, Scope, Unsigned, sign_request};
use warden_model::Secret;
use warden_platform::PlatformError;

/// What `GetClusterCredentials` needs besides the keys.
#[derive(Debug, Clone)]
pub(crate) struct ClusterRequest<'a> {
    pub endpoint: String,
    pub region: String,
    pub cluster: String,
    pub db_user: &'a str,
    pub database: &'a str,
}

/// The temporary user and password Redshift issues (valid 15 minutes).
pub(crate) struct Temporary {
    pub db_user: String,
    pub db_password: Secret<String>,
}

/// RFC 3986 percent-encoding of a query value, as SigV4 wants it.
pub(crate) fn encode(value: &str) -> String {
    value.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

/// The text of the first `<tag>...</tag>` in an XML answer, unescaped.
pub(crate) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Calls `GetClusterCredentials`.
pub(crate) async fn cluster_credentials(
    request: &ClusterRequest<'_>,
    keys: &Keys<'_>,
) -> Result<Temporary, PlatformError> {
    let url = reqwest::Url::parse(&request.endpoint)
        .map_err(|e| PlatformError::unsupported(format!("the AWS endpoint {} is not a URL: {e}", request.endpoint)))?;
    if url.host_str().is_none() {
        return Err(PlatformError::unsupported(format!("the AWS endpoint {} has no host", request.endpoint)));
    }
    let body = format!(
        "Action=GetClusterCredentials&AutoCreate=false&ClusterIdentifier={}&DbName={}&DbUser={}&DurationSeconds=900&Version=2012-12-01",
        encode(&request.cluster),
        encode(request.database),
        encode(request.db_user)
    );
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    // The signer signs the host (and port) from the URL, as reqwest will send it.
    let headers = [("content-type", content_type)];
    let unsigned = Unsigned { method: "POST", url: url.as_str(), headers: &headers, body: body.as_bytes() };
    let scope = Scope { region: &request.region, service: "redshift" };
    let signed = sign_request(&unsigned, keys, &scope, SystemTime::now())
        .map_err(|e| PlatformError::unsupported(format!("GetClusterCredentials: {e}")))?;
    let client = http_client()?;
    let mut call = client.post(url).header("content-type", content_type).body(body);
    for (name, value) in &signed {
        call = call.header(name.as_str(), value.as_str());
    }
    let response = call
        .send()
        .await
        .map_err(|e| PlatformError::unreachable(format!("GetClusterCredentials: {}", e.without_url())))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| PlatformError::unreachable(format!("GetClusterCredentials: {e}")))?;
    if !status.is_success() {
        let code = xml_text(&text, "Code").unwrap_or_else(|| status.to_string());
        let message = xml_text(&text, "Message").unwrap_or_default();
        return Err(PlatformError::other(format!("GetClusterCredentials refused: {code} {message}").trim().to_owned()));
    }
    match (xml_text(&text, "DbUser"), xml_text(&text, "DbPassword")) {
        (Some(db_user), Some(password)) => Ok(Temporary { db_user, db_password: Secret::new(password) }),
        _ => Err(PlatformError::other("GetClusterCredentials answered without DbUser and DbPassword")),
    }
}

fn http_client() -> Result<reqwest::Client, PlatformError> {
    // rustls with the ring provider (the one sqlx already uses); installing it twice is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| PlatformError::unreachable(format!("no HTTPS client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn query_values_are_percent_encoded_as_sigv4_wants() {
        assert_eq!(encode("IAM:a b/c~"), "IAM%3Aa%20b%2Fc~");
    }
}
