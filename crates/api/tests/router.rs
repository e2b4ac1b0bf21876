//! The router without a socket: requests sent with `tower::ServiceExt::oneshot` to
//! `warden_api::router` over a SQLite store in a temporary directory (and only Trino, which
//! needs no adapter). Every error answer the router can give from a request alone has the
//! error body of the API reference §1, in milliseconds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use warden_api::AppState;
use warden_engine::{Engine, EngineOptions, Platforms};
use warden_store::{MasterKey, Permission, Store};

struct App {
    router: axum::Router,
    admin: String,
    s3_only_key: String,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_sqlite(dir.path(), MasterKey::from_hex(&"ab".repeat(32)).unwrap()).await.unwrap());
    let (_, admin) = store.create_api_key("admin", &[Permission::ApplicationAdmin], None).await.unwrap();
    let (_, other) = store.create_api_key("s3 only", &[Permission::CreateS3Datasource], None).await.unwrap();
    let engine = Engine::new(store, Platforms::new().with(Arc::new(warden_trino::Trino)), EngineOptions::default());
    let state = AppState {
        metrics: warden_api::ApiMetrics::new(&engine),
        engine,
        ready: Arc::new(AtomicBool::new(true)),
        public_url: None,
        admin_keys: Arc::default(),
        metrics_access: warden_api::MetricsAccess::default(),
    };
    App {
        router: warden_api::router(state),
        admin: admin.expose().clone(),
        s3_only_key: other.expose().clone(),
        _dir: dir,
    }
}

impl App {
    async fn send(
        &self,
        method: &str,
        uri: &str,
        key: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            request = request.header("Authorization", key);
        }
        let request = match body {
            Some((content_type, text)) => {
                request.header("Content-Type", content_type).body(Body::from(text.to_owned())).unwrap()
            }
            None => request.body(Body::empty()).unwrap(),
        };
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

/// A request (method, uri, key, body with its content type) and the answer expected (status,
/// words of the message).
type Case<'a> = (&'a str, &'a str, Option<&'a str>, Option<(&'a str, &'a str)>, u16, &'a str);

#[tokio::test]
async fn every_error_the_router_answers_has_the_error_body() {
    let app = app().await;
    let admin = Some(app.admin.as_str());
    let json = "application/json";
    let big = "x".repeat(1024 * 1024 + 1);
    let redshift = r#"{"type":"Redshift","autoBootstrap":false,"config":{"host":"a.example.com","database":"d","authenticationType":"userPassword","username":"u","password":"p"}}"#;
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/integrations", None, None, 401, "A valid API key is required"),
        ("GET", "/integrations", Some("wrong-key"), None, 401, "A valid API key is required"),
        ("GET", "/integrations", Some(app.s3_only_key.as_str()), None, 403, "APPLICATION_ADMIN"),
        ("GET", "/integrations/0", admin, None, 400, "id must be a positive integer."),
        ("GET", "/integrations/abc", admin, None, 400, "id must be a positive integer."),
        ("GET", "/integrations/9", admin, None, 404, "No Integration found with ID 9."),
        ("PUT", "/integrations/9", admin, Some((json, r#"{"type":"Trino"}"#)), 404, "No integration found with ID 9."),
        ("GET", "/integrations?includeDeleted=", admin, None, 400, "includeDeleted must be true or false"),
        ("GET", "/integrations?dryrun=true", admin, None, 400, "is not accepted"),
        ("POST", "/integrations", admin, Some((json, "{")), 400, "Unable to read the request body"),
        ("POST", "/integrations", admin, Some((json, r#"{"type":"Trino","type":"Trino"}"#)), 400, "given twice"),
        ("POST", "/integrations", admin, Some((json, r#"{"type":"Nope"}"#)), 400, "problem(s)"),
        ("POST", "/integrations", admin, Some(("text/csv", "a,b")), 415, "text/csv is not accepted"),
        ("POST", "/integrations", admin, Some((json, big.as_str())), 413, "larger than 1 MiB"),
        ("POST", "/integrations", admin, Some((json, redshift)), 501, "The payload itself is valid."),
        // The data-source routes take an S3-only key, and read their body field by field.
        ("POST", "/native-s3/handler", None, Some((json, "{}")), 401, "A valid API key is required"),
        (
            "POST",
            "/native-s3/handler",
            Some(app.s3_only_key.as_str()),
            Some((json, r#"{"type":"Trino","integrationId":0,"dataSources":[],"x":1}"#)),
            400,
            "4 problem(s)",
        ),
        (
            "POST",
            "/native-s3/handler",
            Some(app.s3_only_key.as_str()),
            Some((
                json,
                r#"{"type":"Native S3","integrationId":7,"dataSources":[{"dataSourceName":"a","prefix":"s3://b/a"}]}"#,
            )),
            404,
            "found with ID 7.",
        ),
        ("GET", "/native-s3/handler/7", Some(app.s3_only_key.as_str()), None, 404, "found with ID 7."),
        ("GET", "/native-s3/handler/x", admin, None, 400, "handlerId must be a positive integer."),
        ("DELETE", "/dataSource/5", Some(app.s3_only_key.as_str()), None, 404, "5"),
        ("DELETE", "/dataSource/-1", admin, None, 400, "dataSourceId must be a positive integer."),
        ("DELETE", "/healthz", None, None, 405, "This route does not accept that method."),
        ("GET", "/nowhere", admin, None, 404, "No such route."),
    ];
    for (method, uri, key, body, status, words) in cases {
        let (got, answer) = app.send(method, uri, key, body).await;
        assert_eq!(got.as_u16(), status, "{method} {uri}: {answer}");
        assert_eq!(answer["statusCode"], status, "{method} {uri}: {answer}");
        assert!(answer["error"].is_string(), "{method} {uri}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{method} {uri}: {message}");
    }
    // Trino: one per Warden (409), and PUT names regenerate (400).
    let (status, created) = app.send("POST", "/integrations", admin, Some((json, r#"{"type":"Trino"}"#))).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_u64().unwrap();
    let (status, again) = app.send("POST", "/integrations", admin, Some((json, r#"{"type":"Trino"}"#))).await;
    assert_eq!((status.as_u16(), again["statusCode"].clone()), (409, json!(409)), "{again}");
    let (status, put) =
        app.send("PUT", &format!("/integrations/{id}"), admin, Some((json, r#"{"type":"Trino"}"#))).await;
    assert_eq!(status.as_u16(), 400, "{put}");
    assert!(put["message"].as_str().unwrap().contains("regenerate"), "{put}");
}
