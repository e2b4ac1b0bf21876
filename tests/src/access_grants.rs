//! A STAND-IN for Amazon S3 Access Grants, not AWS: moto has no Access Grants (its S3 Control
//! answers them 404), and nothing else here serves them. It follows the S3 Control API
//! reference for the calls Warden makes: REST-XML under `/v20180820/accessgrantsinstance`
//! with the account in `x-amz-account-id` (GetAccessGrantsInstance,
//! CreateAccessGrantsLocation, ListAccessGrantsLocations with `locationscope`,
//! ListAccessGrants, DeleteAccessGrant, DeleteAccessGrantsLocation), the documented error
//! codes (`AccessDenied`, `NoSuchAccessGrantsInstanceError`,
//! `AccessGrantsLocationAlreadyExistsError`, `NoSuchAccessGrantsLocationError`) in S3
//! Control's `<ErrorResponse><Error>` wrapping, and it checks each request's SigV4
//! signature by signing the same request again (the SDK's own signer, through `warden-aws`)
//! with the key [`KEY_ID`] / [`SECRET`]; a request whose signature does not match is
//! answered `403 SignatureDoesNotMatch`. Every request whose signature held is recorded.
//! Used by `crates/s3/tests/access_grants.rs` (which includes this file) and the end-to-end
//! test `tests/tests/s3.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use warden_model::Secret;

/// The account the stand-in serves.
pub const ACCOUNT: &str = "123456789012";
/// The access key id requests must be signed with.
pub const KEY_ID: &str = "AKIAWARDENSTANDIN01";
/// Its secret.
pub const SECRET: &str = "stand-in/Secret+Key0123456789abcdefghij";

/// What the stand-in's account holds, and what it was asked.
#[derive(Debug, Default)]
pub struct Grants {
    /// Whether the account has an Access Grants instance.
    pub instance: bool,
    /// Locations: (id, scope, role).
    pub locations: Vec<(String, String, String)>,
    /// Grants: (grant id, location id).
    pub grants: Vec<(String, String)>,
    /// (method, path) of every request whose signature held.
    pub requests: Vec<(String, String)>,
    /// The number of the last location registered.
    pub next: u32,
    /// Whether every DELETE is answered `403 AccessDenied` (a key whose policy does not
    /// allow removals).
    pub deny_deletes: bool,
    /// The access key id and secret requests must be signed with ([`KEY_ID`] and
    /// [`SECRET`] when left empty).
    pub key: Option<(String, String)>,
}

/// The stand-in's state, shared with the test.
pub type Shared = Arc<Mutex<Grants>>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ErrorResponse><Error><Code>{code}</Code><Message>{message}</Message></Error><RequestId>standin-req-1</RequestId></ErrorResponse>"
    );
    (status, [("content-type", "application/xml"), ("x-amz-request-id", "standin-req-1")], body).into_response()
}

fn xml(body: String) -> Response {
    (StatusCode::OK, [("content-type", "application/xml"), ("x-amz-request-id", "standin-req-2")], body).into_response()
}

/// Whether the request's SigV4 signature is the one the configured key gives.
fn signed_by_the_key(key: (&str, &str), method: &Method, uri: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let (key_id, secret) = key;
    let Some(authorization) = headers.get("authorization").and_then(|v| v.to_str().ok()) else { return false };
    let field =
        |name: &str| authorization.split(", ").find_map(|part| part.split_once(&format!("{name}="))).map(|(_, v)| v);
    let (Some(signed_headers), Some(signature), Some(date)) =
        (field("SignedHeaders"), field("Signature"), headers.get("x-amz-date").and_then(|v| v.to_str().ok()))
    else {
        return false;
    };
    if !authorization.contains(&format!("Credential={key_id}/")) {
        return false;
    }
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let again: Vec<(String, String)> = signed_headers
        .split(';')
        .filter(|name| !matches!(*name, "host" | "x-amz-date"))
        .filter_map(|name| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| (name.to_owned(), v.to_owned())))
        .collect();
    let again: Vec<(&str, &str)> = again.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let time = amz_date_time(date);
    let secret = Secret::new(secret.to_owned());
    let keys = warden_aws::Keys { access_key_id: key_id, secret_key: &secret, session_token: None };
    let url = format!("http://{host}{uri}");
    let request = warden_aws::Unsigned { method: method.as_str(), url: &url, headers: &again, body };
    let Ok(resigned) =
        warden_aws::sign_request(&request, &keys, &warden_aws::Scope { region: "us-east-1", service: "s3" }, time)
    else {
        return false;
    };
    resigned.iter().any(|(name, value)| name == "authorization" && value.ends_with(&format!("Signature={signature}")))
}

/// `20261128T120000Z` as a time.
fn amz_date_time(stamp: &str) -> std::time::SystemTime {
    let n = |range: std::ops::Range<usize>| stamp.get(range).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let (year, month, day, hour, minute, second) = (n(0..4), n(4..6), n(6..8), n(9..11), n(11..13), n(13..15));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

fn element<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.split(&format!("<{name}>")).nth(1)?.split(&format!("</{name}>")).next()
}

async fn handle(State(grants): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let uri = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let key = grants.lock().unwrap_or_else(std::sync::PoisonError::into_inner).key.clone();
    let key = key.unwrap_or_else(|| (KEY_ID.to_owned(), SECRET.to_owned()));
    if !signed_by_the_key((&key.0, &key.1), &parts.method, &uri, &parts.headers, &body) {
        return error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    if parts.headers.get("x-amz-account-id").and_then(|v| v.to_str().ok()) != Some(ACCOUNT) {
        return error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    }
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let path = parts.uri.path().trim_start_matches("/v20180820/accessgrantsinstance").to_owned();
    let mut g = grants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    g.requests.push((parts.method.to_string(), parts.uri.path().to_owned()));
    if !g.instance {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchAccessGrantsInstanceError",
            "The specified access grants instance does not exist.",
        );
    }
    if g.deny_deletes && parts.method == Method::DELETE {
        return error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    }
    let arn = |id: &str| format!("arn:aws:s3:us-east-1:{ACCOUNT}:access-grants/default/location/{id}");
    match (parts.method.as_str(), path.as_str()) {
        ("GET", "") => xml(format!(
            "<GetAccessGrantsInstanceResult><AccessGrantsInstanceArn>arn:aws:s3:us-east-1:{ACCOUNT}:access-grants/default</AccessGrantsInstanceArn><AccessGrantsInstanceId>default</AccessGrantsInstanceId><CreatedAt>2026-11-01T00:00:00Z</CreatedAt></GetAccessGrantsInstanceResult>"
        )),
        ("POST", "/location") => {
            let body = String::from_utf8_lossy(&body);
            let (Some(scope), Some(role)) = (element(&body, "LocationScope"), element(&body, "IAMRoleArn")) else {
                return error(StatusCode::BAD_REQUEST, "InvalidRequest", "LocationScope and IAMRoleArn are required.");
            };
            if g.locations.iter().any(|(_, s, _)| s == scope) {
                return error(
                    StatusCode::CONFLICT,
                    "AccessGrantsLocationAlreadyExistsError",
                    "The location already exists.",
                );
            }
            g.next += 1;
            let id = format!("loc{:04}", g.next);
            g.locations.push((id.clone(), scope.to_owned(), role.to_owned()));
            xml(format!(
                "<CreateAccessGrantsLocationResult><CreatedAt>2026-11-28T00:00:00Z</CreatedAt><AccessGrantsLocationId>{id}</AccessGrantsLocationId><AccessGrantsLocationArn>{}</AccessGrantsLocationArn><LocationScope>{scope}</LocationScope><IAMRoleArn>{role}</IAMRoleArn></CreateAccessGrantsLocationResult>",
                arn(&id)
            ))
        }
        ("GET", "/locations") => {
            let wanted = query.get("locationscope");
            let entries: String = g
                .locations
                .iter()
                .filter(|(_, scope, _)| wanted.is_none_or(|w| w == scope))
                .map(|(id, scope, role)| format!("<AccessGrantsLocation><AccessGrantsLocationId>{id}</AccessGrantsLocationId><AccessGrantsLocationArn>{}</AccessGrantsLocationArn><LocationScope>{scope}</LocationScope><IAMRoleArn>{role}</IAMRoleArn></AccessGrantsLocation>", arn(id)))
                .collect();
            xml(format!(
                "<ListAccessGrantsLocationsResult><AccessGrantsLocationsList>{entries}</AccessGrantsLocationsList></ListAccessGrantsLocationsResult>"
            ))
        }
        ("GET", "/grants") => {
            let entries: String = g
                .grants
                .iter()
                .map(|(id, location)| format!("<AccessGrant><AccessGrantId>{id}</AccessGrantId><AccessGrantsLocationId>{location}</AccessGrantsLocationId><Permission>READ</Permission></AccessGrant>"))
                .collect();
            xml(format!(
                "<ListAccessGrantsResult><AccessGrantsList>{entries}</AccessGrantsList></ListAccessGrantsResult>"
            ))
        }
        ("DELETE", p) if p.starts_with("/grant/") => {
            let id = p.trim_start_matches("/grant/").to_owned();
            g.grants.retain(|(grant, _)| *grant != id);
            StatusCode::NO_CONTENT.into_response()
        }
        ("DELETE", p) if p.starts_with("/location/") => {
            let id = p.trim_start_matches("/location/").to_owned();
            if g.grants.iter().any(|(_, location)| *location == id) {
                return error(StatusCode::CONFLICT, "AccessGrantsLocationNotEmptyError", "The location has grants.");
            }
            let before = g.locations.len();
            g.locations.retain(|(location, _, _)| *location != id);
            if g.locations.len() == before {
                return error(StatusCode::NOT_FOUND, "NoSuchAccessGrantsLocationError", "The location does not exist.");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "NotImplemented", "The stand-in does not serve this call."),
    }
}

/// Starts the stand-in on a free 127.0.0.1 port with `grants`; answers its URL and state.
pub async fn start(grants: Grants) -> (String, Shared) {
    let shared = Shared::new(Mutex::new(grants));
    let app = axum::Router::new().fallback(handle).with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, shared)
}
