//! A STAND-IN for Okta, not Okta: nothing here can serve it. It follows two of Okta's
//! documented interfaces as Amazon's Redshift drivers use them:
//!
//! - the Authentication API, `POST /api/v1/authn` with `{"username", "password"}`: `200`
//!   with `{"status": "SUCCESS", "sessionToken", "expiresAt", "_embedded": {"user"}}`; for a
//!   user whose policy asks a second factor `200` with `{"status": "MFA_REQUIRED",
//!   "stateToken", "_embedded": {"factors"}}`; for a wrong user or password `401` with Okta's
//!   error object `{"errorCode": "E0000004", "errorSummary": "Authentication failed",
//!   "errorLink": "E0000004", "errorId", "errorCauses": []}`;
//! - an app's SSO link, `GET /home/amazon_aws_redshift/{appId}?onetimetoken=<sessionToken>`:
//!   for a known app and an unused token, `200` with the auto-posting HTML form Okta serves,
//!   whose hidden input `SAMLResponse` holds the base64 SAML 2.0 response (its `+` and `=`
//!   written `&#x2b;` and `&#x3d;`, as Okta writes them); an unknown app is `404`; a used
//!   or unknown token gets Okta's sign-in page, which holds no `SAMLResponse`.
//!
//! The SAML response carries the attributes AWS reads: `https://aws.amazon.com/SAML/
//! Attributes/Role` (`role ARN,provider ARN` pairs), `.../RoleSessionName` (the user) and
//! Redshift's `https://redshift.amazon.com/SAML/Attributes/DbUser`. It is not signed: moto's
//! `AssumeRoleWithSAML` reads the attributes without checking a signature. Every session
//! token and SAML response it issues is kept, for the tests to look for in logs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

/// A user the stand-in knows.
#[derive(Debug, Clone)]
pub struct User {
    /// The Okta user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// Whether the sign-on policy asks this user for a second factor.
    pub mfa: bool,
}

/// What the stand-in knows and issued.
#[derive(Debug, Default)]
pub struct Org {
    /// The users, by name.
    pub users: HashMap<String, User>,
    /// The Okta AWS app's id.
    pub app_id: String,
    /// The `role ARN,provider ARN` pairs the app's assertion offers.
    pub roles: Vec<String>,
    /// The database user the assertion names (Redshift's `DbUser` attribute).
    pub db_user: String,
    /// Unused session tokens, by token, with the user they belong to.
    pub sessions: HashMap<String, String>,
    /// Every session token and SAML response issued.
    pub issued: Vec<String>,
}

/// A running stand-in.
#[derive(Debug, Clone)]
pub struct Okta {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its state.
    pub org: Arc<Mutex<Org>>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).expect("randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn authn(State(org): State<Arc<Mutex<Org>>>, body: axum::Json<Value>) -> Response {
    let (username, password) = (body["username"].as_str().unwrap_or(""), body["password"].as_str().unwrap_or(""));
    let mut org = org.lock().expect("the stand-in's state");
    let user = org.users.get(username).filter(|u| u.password == password).cloned();
    let Some(user) = user else {
        let error = json!({"errorCode": "E0000004", "errorSummary": "Authentication failed", "errorLink": "E0000004",
            "errorId": format!("oae{}", random_token()), "errorCauses": []});
        return (StatusCode::UNAUTHORIZED, axum::Json(error)).into_response();
    };
    let profile = json!({"id": "00u1", "profile": {"login": user.username, "locale": "en", "timeZone": "UTC"}});
    if user.mfa {
        let state_token = random_token();
        return axum::Json(json!({"stateToken": state_token, "expiresAt": "2099-01-01T00:05:00.000Z",
            "status": "MFA_REQUIRED", "_embedded": {"user": profile,
            "factors": [{"id": "opf1", "factorType": "push", "provider": "OKTA"}]}}))
        .into_response();
    }
    let token = random_token();
    org.sessions.insert(token.clone(), user.username.clone());
    org.issued.push(token.clone());
    axum::Json(json!({"expiresAt": "2099-01-01T00:05:00.000Z", "status": "SUCCESS", "sessionToken": token,
        "_embedded": {"user": profile}}))
    .into_response()
}

fn saml_response(user: &str, roles: &[String], db_user: &str) -> String {
    let attribute = |name: &str, values: &[String]| {
        let values: String = values
            .iter()
            .map(|v| format!("<saml2:AttributeValue xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">{v}</saml2:AttributeValue>"))
            .collect();
        format!(
            "<saml2:Attribute Name=\"{name}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">{values}</saml2:Attribute>"
        )
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><saml2p:Response xmlns:saml2p=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\" Destination=\"https://signin.aws.amazon.com/saml\" ID=\"id{id}\" IssueInstant=\"2026-12-06T00:00:00.000Z\" Version=\"2.0\"><saml2:Issuer>http://www.okta.com/exk1</saml2:Issuer><saml2p:Status><saml2p:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></saml2p:Status><saml2:Assertion ID=\"id{id}a\" IssueInstant=\"2026-12-06T00:00:00.000Z\" Version=\"2.0\"><saml2:Issuer>http://www.okta.com/exk1</saml2:Issuer><saml2:Subject><saml2:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">{user}</saml2:NameID></saml2:Subject><saml2:AttributeStatement>{}{}{}</saml2:AttributeStatement></saml2:Assertion></saml2p:Response>",
        attribute("https://aws.amazon.com/SAML/Attributes/Role", roles),
        attribute("https://aws.amazon.com/SAML/Attributes/RoleSessionName", &[user.to_owned()]),
        attribute("https://redshift.amazon.com/SAML/Attributes/DbUser", &[db_user.to_owned()]),
        id = random_token(),
    );
    base64::engine::general_purpose::STANDARD.encode(xml)
}

async fn app(
    State(org): State<Arc<Mutex<Org>>>,
    Path(app_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut org = org.lock().expect("the stand-in's state");
    if app_id != org.app_id {
        return (StatusCode::NOT_FOUND, Html("<html><body>Not found</body></html>")).into_response();
    }
    let token = query.get("onetimetoken").cloned().unwrap_or_default();
    let Some(user) = org.sessions.remove(&token) else {
        return Html(
            "<html><body><form id=\"form\" action=\"/login/login.htm\"><input name=\"username\"/></form></body></html>",
        )
        .into_response();
    };
    let saml = saml_response(&user, &org.roles, &org.db_user);
    org.issued.push(saml.clone());
    let written = saml.replace('+', "&#x2b;").replace('=', "&#x3d;");
    Html(format!(
        "<html><body><form id=\"appForm\" action=\"https&#x3a;&#x2f;&#x2f;signin.aws.amazon.com&#x2f;saml\" method=\"POST\">\n<input name=\"SAMLResponse\" type=\"hidden\" value=\"{written}\"/>\n<input name=\"RelayState\" type=\"hidden\" value=\"\"/>\n</form></body></html>"
    ))
    .into_response()
}

/// Starts the stand-in on a free 127.0.0.1 port with `org`'s users, app and assertion.
pub async fn start(org: Org) -> Okta {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    let org = Arc::new(Mutex::new(org));
    let router = axum::Router::new()
        .route("/api/v1/authn", axum::routing::post(authn))
        .route("/home/amazon_aws_redshift/{app_id}", axum::routing::get(app))
        .with_state(org.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Okta { port, org }
}

impl Okta {
    /// Every session token and SAML response issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.org.lock().expect("the stand-in's state").issued.clone()
    }
}
