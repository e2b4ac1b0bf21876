//! Temporary database credentials for `authenticationType: accessKey`: Redshift's
//! `GetClusterCredentials` API (Query protocol, version 2012-12-01), signed with AWS
//! Signature Version 4 written here (HMAC-SHA256 from RustCrypto's `hmac` and `sha2`). The
//! endpoint is `https://redshift.<region>.amazonaws.com/` unless `AWS_ENDPOINT_URL_REDSHIFT`,
//! `AWS_ENDPOINT_URL` or `connectArgs` `aws_endpoint_url` names another (a VPC endpoint,
//! or the local AWS emulator of the tests). The cluster and region come from the standard
//! host name `<cluster>.<id>.<region>.redshift.amazonaws.com`, or from `connectArgs`
//! `cluster_identifier` and `region`. No secret is ever logged or put in an error.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use warden_model::Secret;
use warden_model::time::UtcTime;
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

/// AWS credentials.
pub(crate) struct Keys<'a> {
    pub access_key_id: &'a str,
    pub secret_key: &'a Secret<String>,
    pub session_token: Option<&'a Secret<String>>,
}

/// The temporary user and password Redshift issues (valid 15 minutes).
pub(crate) struct Temporary {
    pub db_user: String,
    pub db_password: Secret<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
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

/// `YYYYMMDD'T'HHMMSS'Z'` for a Unix time.
pub(crate) fn amz_date(secs: u64) -> String {
    let t = UtcTime::from_unix(i64::try_from(secs).unwrap_or(0));
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}Z", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

/// A request to sign.
pub(crate) struct Unsigned<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// (lower-case name, value) pairs to sign, `host` and `x-amz-date` among them.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Where and when a signature applies.
pub(crate) struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    pub amz_date: &'a str,
}

/// Signs a request with SigV4 and returns the `Authorization` header value.
pub(crate) fn authorization(request: &Unsigned<'_>, keys: &Keys<'_>, scope: &Scope<'_>) -> String {
    let Unsigned { method, path, query, headers, body } = *request;
    let Scope { region, service, amz_date } = *scope;
    let mut sorted: Vec<(&str, &str)> = headers.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let canonical_headers: String = sorted.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let signed_headers = sorted.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(";");
    let canonical_request =
        format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{}", hex(&Sha256::digest(body)));
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical_request.as_bytes())));
    let k_date = hmac(format!("AWS4{}", keys.secret_key.expose()).as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    let k_signing = hmac(&k_service, "aws4_request");
    let signature = hex(&hmac(&k_signing, &to_sign));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        keys.access_key_id
    )
}

/// The text of the first `<tag>...</tag>` in an XML answer, unescaped.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
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
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => {
            return Err(PlatformError::unsupported(format!("the AWS endpoint {} has no host", request.endpoint)));
        }
    };
    let body = format!(
        "Action=GetClusterCredentials&AutoCreate=false&ClusterIdentifier={}&DbName={}&DbUser={}&DurationSeconds=900&Version=2012-12-01",
        encode(&request.cluster),
        encode(request.database),
        encode(request.db_user)
    );
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let date = amz_date(now);
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let mut headers = vec![("content-type", content_type), ("host", host.as_str()), ("x-amz-date", date.as_str())];
    if let Some(token) = keys.session_token {
        headers.push(("x-amz-security-token", token.expose().as_str()));
    }
    let path = if url.path().is_empty() { "/" } else { url.path() };
    let unsigned = Unsigned { method: "POST", path, query: "", headers: &headers, body: body.as_bytes() };
    let authorization =
        authorization(&unsigned, keys, &Scope { region: &request.region, service: "redshift", amz_date: &date });
    let client = http_client()?;
    let mut call = client.post(url).header("authorization", authorization).body(body);
    for (name, value) in &headers {
        if *name != "host" {
            call = call.header(*name, *value);
        }
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
    use super::{Keys, Scope, Unsigned, amz_date, authorization, encode};
    use warden_model::Secret;

    /// The `get-vanilla` case of AWS's Signature Version 4 test suite.
    #[test]
    fn signs_the_aws_test_suite_request() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned());
        let keys = Keys { access_key_id: "AKIDEXAMPLE", secret_key: &secret, session_token: None };
        let headers = [("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")];
        let request = Unsigned { method: "GET", path: "/", query: "", headers: &headers, body: b"" };
        let scope = Scope { region: "us-east-1", service: "service", amz_date: "20150830T123600Z" };
        let header = authorization(&request, &keys, &scope);
        assert_eq!(
            header,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn dates_and_encoding_follow_sigv4() {
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(encode("IAM:a b/c~"), "IAM%3Aa%20b%2Fc~");
    }
}
