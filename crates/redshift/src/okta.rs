//! `authenticationType: okta`, the flow Amazon's Redshift JDBC and ODBC drivers run in
//! their Okta credentials provider, in four steps, each of whose failures names the step and
//! the provider's own error code:
//!
//! 1. Okta's authentication API, `POST https://{idpHost}/api/v1/authn` with the user name
//!    and password, answers a one-time session token (`status: SUCCESS`). An account that
//!    needs a second factor answers `MFA_REQUIRED` (or `MFA_ENROLL`): Warden cannot answer a
//!    push, so that is a failed connection test that says so.
//! 2. The Okta AWS app's SSO endpoint, `GET https://{idpHost}/home/amazon_aws_redshift/{appId}
//!    ?onetimetoken=...`, answers an HTML form whose `SAMLResponse` input holds the base64
//!    SAML response.
//! 3. STS `AssumeRoleWithSAML` (unsigned, as AWS takes it) with `role` and the SAML provider
//!    the assertion pairs with it in its `https://aws.amazon.com/SAML/Attributes/Role`
//!    attribute answers temporary AWS credentials.
//! 4. Redshift `GetClusterCredentials` with them ([`crate::aws`], the `accessKey` path) for the
//!    database user the assertion names (`https://redshift.amazon.com/SAML/Attributes/DbUser`,
//!    else its `RoleSessionName`), as the drivers read it.
//!
//! The Okta host is spoken to over HTTPS (the system's roots and the operator's CA file), on
//! port 443 or `connectArgs` `idp_port`; a loopback address literal, which only a local
//! stand-in can be, is spoken to in plain HTTP. The password, the session token, the SAML
//! response and the AWS credentials are `Secret`s, never logged and never in a message.

use base64::Engine as _;
use serde_json::{Value, json};
use warden_model::Secret;
use warden_model::config::OktaConfig;
use warden_platform::{ErrorKind, PlatformError, reach};

use crate::aws::{encode, xml_text};

/// The Okta application name of Amazon Redshift's AWS app, in its SSO path.
const APP_NAME: &str = "amazon_aws_redshift";
/// The SAML attribute that lists `role ARN,provider ARN` pairs.
const ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
/// The SAML attribute naming the database user, and the fallback the drivers read.
const DB_USER_ATTRIBUTES: [&str; 2] =
    ["https://redshift.amazon.com/SAML/Attributes/DbUser", "https://aws.amazon.com/SAML/Attributes/RoleSessionName"];

/// What the four steps' first three give: temporary AWS credentials and the database user.
pub(crate) struct Federated {
    pub access_key_id: String,
    pub secret_access_key: Secret<String>,
    pub session_token: Secret<String>,
    pub db_user: String,
}

/// Where Okta and STS are.
pub(crate) struct Endpoints<'a> {
    /// `connectArgs` `idp_port`.
    pub idp_port: Option<u16>,
    /// The STS endpoint.
    pub sts: &'a str,
}

fn step_failed(step: &str, kind: ErrorKind, detail: impl std::fmt::Display) -> PlatformError {
    PlatformError::new(kind, format!("Okta sign-in, {step}: {detail}"))
}

/// Runs steps 1 to 3.
pub(crate) async fn federate(okta: &OktaConfig, endpoints: &Endpoints<'_>) -> Result<Federated, PlatformError> {
    let host = okta.idp_host.as_str();
    let scheme = if reach::plaintext_allowed(host) { "http" } else { "https" };
    let authority = match endpoints.idp_port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let base = format!("{scheme}://{authority}");
    let client = warden_http::https_client(None)?;
    let session = authenticate(&client, &base, okta).await?;
    let saml = saml_response(&client, &base, &okta.app_id, &session).await?;
    let assertion = read_assertion(&saml, &okta.role)?;
    let keys = assume_role_with_saml(&client, endpoints.sts, &okta.role, &assertion.provider, &saml).await?;
    Ok(Federated { db_user: assertion.db_user, ..keys })
}

/// Step 1: the session token.
async fn authenticate(
    client: &reqwest::Client,
    base: &str,
    okta: &OktaConfig,
) -> Result<Secret<String>, PlatformError> {
    const STEP: &str = "step 1 (Okta authentication, POST /api/v1/authn)";
    let body = json!({"username": okta.username, "password": okta.password.expose()});
    let response = client
        .post(format!("{base}/api/v1/authn"))
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await
        .map_err(|e| step_failed(STEP, ErrorKind::Unreachable, e.without_url()))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let code = answer["errorCode"].as_str().unwrap_or("no errorCode");
        let summary = answer["errorSummary"].as_str().unwrap_or("");
        let kind = if code == "E0000004" { ErrorKind::Unauthenticated } else { ErrorKind::Other };
        let advice = if code == "E0000004" { ": check okta.username and okta.password" } else { "" };
        return Err(step_failed(STEP, kind, format!("HTTP {}, {code} {summary}{advice}", status.as_u16())));
    }
    match answer["status"].as_str() {
        Some("SUCCESS") => answer["sessionToken"]
            .as_str()
            .map(|token| Secret::new(token.to_owned()))
            .ok_or_else(|| step_failed(STEP, ErrorKind::Other, "status SUCCESS without a sessionToken")),
        Some(mfa @ ("MFA_REQUIRED" | "MFA_ENROLL" | "MFA_CHALLENGE")) => Err(step_failed(
            STEP,
            ErrorKind::Unauthenticated,
            format!(
                "status {mfa}: the account needs multi-factor authentication, which Warden cannot answer; give Warden an Okta service account that Okta's sign-on policy exempts from MFA"
            ),
        )),
        Some(other) => Err(step_failed(
            STEP,
            ErrorKind::Unauthenticated,
            format!("status {other}: the account cannot sign in (Okta answers SUCCESS for one that can)"),
        )),
        None => Err(step_failed(STEP, ErrorKind::Other, "the answer has no status")),
    }
}

/// Step 2: the base64 SAML response, from the app's SSO form.
async fn saml_response(
    client: &reqwest::Client,
    base: &str,
    app_id: &str,
    session: &Secret<String>,
) -> Result<Secret<String>, PlatformError> {
    const STEP: &str = "step 2 (the Okta AWS app's SAML response, GET /home/amazon_aws_redshift/{appId})";
    let url = format!("{base}/home/{APP_NAME}/{}?onetimetoken={}", encode(app_id), encode(session.expose()));
    let response =
        client.get(url).send().await.map_err(|e| step_failed(STEP, ErrorKind::Unreachable, e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        let advice = if status.as_u16() == 404 { ": check okta.appId" } else { "" };
        return Err(step_failed(STEP, ErrorKind::Other, format!("HTTP {}{advice}", status.as_u16())));
    }
    let html = response.text().await.map_err(|e| step_failed(STEP, ErrorKind::Unreachable, e.without_url()))?;
    form_input(&html, "SAMLResponse").map(Secret::new).ok_or_else(|| {
        step_failed(
            STEP,
            ErrorKind::Other,
            "the page holds no SAMLResponse: check that the user is assigned to the app and okta.appId names it",
        )
    })
}

/// The value of the form input named `name` in an HTML page, its entities decoded.
fn form_input(html: &str, name: &str) -> Option<String> {
    let mut rest = html;
    while let Some(start) = rest.find("<input") {
        let tag_end = rest[start..].find('>')? + start;
        let tag = &rest[start..tag_end];
        if attribute(tag, "name").is_some_and(|n| n.eq_ignore_ascii_case(name)) {
            return attribute(tag, "value").map(|v| unescape_html(&v));
        }
        rest = &rest[tag_end..];
    }
    None
}

/// A double-quoted attribute of an HTML tag.
fn attribute(tag: &str, key: &str) -> Option<String> {
    let needle = format!("{key}=\"");
    let at = tag.find(&needle)? + needle.len();
    let end = tag[at..].find('"')? + at;
    Some(tag[at..end].to_owned())
}

fn unescape_html(text: &str) -> String {
    text.replace("&#x2b;", "+")
        .replace("&#x3d;", "=")
        .replace("&#x2f;", "/")
        .replace("&#43;", "+")
        .replace("&#61;", "=")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// What step 3 reads of the assertion.
struct Assertion {
    /// The SAML provider paired with the chosen role.
    provider: String,
    db_user: String,
}

/// Reads the role pairs and the database user from the (base64) SAML response. Role ARNs
/// and the user are not secret; the assertion itself is never shown.
fn read_assertion(saml: &Secret<String>, role: &str) -> Result<Assertion, PlatformError> {
    const STEP: &str = "step 3 (reading the SAML assertion)";
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(saml.expose().trim())
        .map_err(|_| step_failed(STEP, ErrorKind::Other, "the SAMLResponse is not base64"))?;
    let text =
        String::from_utf8(decoded).map_err(|_| step_failed(STEP, ErrorKind::Other, "the SAMLResponse is not UTF-8"))?;
    // roxmltree refuses a DTD by default: no entity expansion, nothing fetched.
    let document = roxmltree::Document::parse(&text)
        .map_err(|e| step_failed(STEP, ErrorKind::Other, format!("the SAMLResponse is not XML ({e})")))?;
    let values = |name: &str| -> Vec<String> {
        document
            .descendants()
            .filter(|n| n.tag_name().name() == "Attribute" && n.attribute("Name") == Some(name))
            .flat_map(|n| n.children().filter(|c| c.tag_name().name() == "AttributeValue"))
            .filter_map(|v| v.text().map(|t| t.trim().to_owned()))
            .collect()
    };
    let mut offered = Vec::new();
    let mut provider = None;
    for pair in values(ROLE_ATTRIBUTE) {
        let arns: Vec<&str> = pair.split(',').map(str::trim).collect();
        let role_arn = arns.iter().find(|a| a.contains(":role/"));
        let provider_arn = arns.iter().find(|a| a.contains(":saml-provider/"));
        if let (Some(r), Some(p)) = (role_arn, provider_arn) {
            offered.push((*r).to_owned());
            if *r == role {
                provider = Some((*p).to_owned());
            }
        }
    }
    let Some(provider) = provider else {
        let offered = if offered.is_empty() { "none".to_owned() } else { offered.join(", ") };
        return Err(step_failed(
            STEP,
            ErrorKind::Forbidden,
            format!(
                "the assertion does not offer okta.role {role} (it offers: {offered}): assign that role in the Okta AWS app"
            ),
        ));
    };
    let db_user = DB_USER_ATTRIBUTES.iter().find_map(|name| values(name).into_iter().next()).ok_or_else(|| {
        step_failed(STEP, ErrorKind::Other, format!("the assertion names no database user ({})", DB_USER_ATTRIBUTES[0]))
    })?;
    Ok(Assertion { provider, db_user })
}

/// Step 3: temporary AWS credentials for the role.
async fn assume_role_with_saml(
    client: &reqwest::Client,
    sts: &str,
    role: &str,
    provider: &str,
    saml: &Secret<String>,
) -> Result<Federated, PlatformError> {
    const STEP: &str = "step 3 (STS AssumeRoleWithSAML)";
    reach::check_url("the STS endpoint", sts)
        .map_err(|problem| step_failed(STEP, ErrorKind::Unsupported, problem.message))?;
    let body = format!(
        "Action=AssumeRoleWithSAML&Version=2011-06-15&DurationSeconds=900&RoleArn={}&PrincipalArn={}&SAMLAssertion={}",
        encode(role),
        encode(provider),
        encode(saml.expose().trim())
    );
    let response = client
        .post(sts)
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(body)
        .send()
        .await
        .map_err(|e| step_failed(STEP, ErrorKind::Unreachable, e.without_url()))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| step_failed(STEP, ErrorKind::Unreachable, e.without_url()))?;
    if !status.is_success() {
        let code = xml_text(&text, "Code").unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        let message = xml_text(&text, "Message").unwrap_or_default();
        return Err(step_failed(STEP, ErrorKind::Forbidden, format!("{code} {message}").trim()));
    }
    match (xml_text(&text, "AccessKeyId"), xml_text(&text, "SecretAccessKey"), xml_text(&text, "SessionToken")) {
        (Some(access_key_id), Some(secret), Some(token)) => Ok(Federated {
            access_key_id,
            secret_access_key: Secret::new(secret),
            session_token: Secret::new(token),
            db_user: String::new(),
        }),
        _ => Err(step_failed(STEP, ErrorKind::Other, "the answer holds no credentials")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use base64::Engine as _;
    use warden_model::Secret;

    use super::{form_input, read_assertion};

    fn assertion(roles: &[&str], db_user: Option<&str>) -> Secret<String> {
        let values: String =
            roles.iter().map(|r| format!("<saml2:AttributeValue>{r}</saml2:AttributeValue>")).collect();
        let user = db_user.map_or(String::new(), |u| {
            format!("<saml2:Attribute Name=\"https://redshift.amazon.com/SAML/Attributes/DbUser\"><saml2:AttributeValue>{u}</saml2:AttributeValue></saml2:Attribute>")
        });
        let xml = format!(
            "<saml2p:Response xmlns:saml2p=\"urn:oasis:names:tc:SAML:2.0:protocol\"><saml2:Assertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"><saml2:AttributeStatement><saml2:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/Role\">{values}</saml2:Attribute>{user}</saml2:AttributeStatement></saml2:Assertion></saml2p:Response>"
        );
        Secret::new(base64::engine::general_purpose::STANDARD.encode(xml))
    }

    #[test]
    fn the_role_is_paired_with_its_provider_in_either_order() {
        let role = "arn:aws:iam::123456789012:role/redshift";
        let provider = "arn:aws:iam::123456789012:saml-provider/Okta";
        for pair in [format!("{role},{provider}"), format!("{provider},{role}")] {
            let read = read_assertion(
                &assertion(&["arn:aws:iam::123456789012:role/other,x:saml-provider/y", &pair], Some("svc")),
                role,
            )
            .unwrap();
            assert_eq!((read.provider.as_str(), read.db_user.as_str()), (provider, "svc"));
        }
        let missing = read_assertion(
            &assertion(&["arn:aws:iam::1:role/other,arn:aws:iam::1:saml-provider/O"], Some("svc")),
            role,
        );
        let message = missing.err().unwrap().to_string();
        assert!(message.contains("does not offer okta.role") && message.contains("role/other"), "{message}");
        let no_user =
            read_assertion(&assertion(&[&format!("{role},{provider}")], None), role).err().unwrap().to_string();
        assert!(no_user.contains("names no database user"), "{no_user}");
    }

    #[test]
    fn a_document_type_declaration_is_refused() {
        let xml = "<!DOCTYPE r [<!ENTITY x \"boom\">]><r>&x;</r>";
        let saml = Secret::new(base64::engine::general_purpose::STANDARD.encode(xml));
        let message = read_assertion(&saml, "r").err().unwrap().to_string();
        assert!(message.contains("is not XML"), "{message}");
    }

    #[test]
    fn the_saml_response_is_read_from_the_form() {
        let html = "<form method=\"post\" action=\"https://signin.aws.amazon.com/saml\"><input type=\"hidden\" name=\"RelayState\" value=\"\"/>\n<input name=\"SAMLResponse\" type=\"hidden\" value=\"PD94&#x2b;bWw&#x3d;\"/></form>";
        assert_eq!(form_input(html, "SAMLResponse").as_deref(), Some("PD94+bWw="));
        assert_eq!(form_input("<html></html>", "SAMLResponse"), None);
    }
}
