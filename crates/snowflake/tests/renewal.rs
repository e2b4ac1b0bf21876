//! Session renewal against a STAND-IN, not Snowflake (fakesnow never expires a session): a
//! few routes of the connector protocol as Snowflake's connectors document them. The login
//! answers a session token and a master token; a statement sent with an expired session
//! token answers code `390112` ("Session token expired"); `POST /session/token-request`
//! with the master token as `Authorization` and `{"oldSessionToken", "requestType":
//! "RENEW"}` answers `data.sessionToken` (and `masterToken`), the fields of the connectors'
//! `RenewSessionRequest` / `RenewSessionResponseData`.

#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use warden_platform::ErrorKind;
use warden_snowflake::client::{Endpoint, Login, login};

#[derive(Default)]
struct Server {
    /// The session token the server takes now.
    current: String,
    /// Whether the server gives a master token at login.
    gives_master: bool,
    /// What happened, in order.
    log: Vec<String>,
}

type Shared = Arc<Mutex<Server>>;

fn token_of(headers: &HeaderMap) -> String {
    let value = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    value.trim_start_matches("Snowflake Token=\"").trim_end_matches('"').to_owned()
}

async fn login_request(State(server): State<Shared>) -> Json<Value> {
    let mut server = server.lock().unwrap();
    server.log.push("login".into());
    let master = server.gives_master.then_some("master-1");
    Json(json!({"data": {"token": "session-1", "masterToken": master}, "success": true}))
}

async fn query(State(server): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let mut server = server.lock().unwrap();
    let token = token_of(&headers);
    server.log.push(format!("query with {token}"));
    // Every session token but the current one has expired.
    if token != server.current || token == "session-1" {
        return Json(json!({"data": {"errorCode": "390112"}, "code": "390112",
            "message": "Your session has expired. Please login again.", "success": false}));
    }
    Json(json!({"data": {"rowtype": [{"name": "ONE", "type": "fixed"}], "rowset": [["1"]], "total": 1,
        "queryResultFormat": "json"}, "success": true}))
}

async fn renew(State(server): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    let mut server = server.lock().unwrap();
    let master = token_of(&headers);
    server.log.push(format!("renew {} with {master}", body["oldSessionToken"].as_str().unwrap_or_default()));
    if master != "master-1" || body["requestType"] != "RENEW" {
        return Json(json!({"code": "390104", "message": "bad master token", "success": false}));
    }
    server.current = "session-2".into();
    Json(json!({"data": {"sessionToken": "session-2", "validityInSecondsST": 3600, "masterToken": "master-1",
        "validityInSecondsMT": 14400}, "success": true}))
}

async fn start(gives_master: bool) -> (Endpoint, Shared) {
    let server = Shared::new(Mutex::new(Server { gives_master, ..Server::default() }));
    let app = Router::new()
        .route("/session/v1/login-request", post(login_request))
        .route("/queries/v1/query-request", post(query))
        .route("/session/token-request", post(renew))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (Endpoint { base_url, account: "ACME".into() }, server)
}

fn admin() -> Login {
    Login::password("ADMIN", "pw")
}

#[tokio::test]
async fn an_expired_session_is_renewed_with_the_master_token_and_the_statement_sent_again() {
    let (endpoint, server) = start(true).await;
    let session = login(&endpoint, &admin()).await.unwrap();
    let rows = session.query("SELECT 1 AS ONE").await.unwrap();
    assert_eq!(rows.rows, vec![vec![Some("1".to_owned())]]);
    // The renewed token is kept: the next statement goes straight through.
    session.query("SELECT 1 AS ONE").await.unwrap();
    assert_eq!(
        server.lock().unwrap().log,
        [
            "login",
            "query with session-1",
            "renew session-1 with master-1",
            "query with session-2",
            "query with session-2"
        ]
    );
}

#[tokio::test]
async fn without_a_master_token_an_expired_session_is_an_authentication_error() {
    let (endpoint, _server) = start(false).await;
    let session = login(&endpoint, &admin()).await.unwrap();
    let error = session.query("SELECT 1 AS ONE").await.unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::Unauthenticated));
    assert!(error.to_string().contains("no master token"), "{error}");
}
