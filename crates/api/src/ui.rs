//! The status web page at `/ui/`: an HTML shell, a stylesheet and a script, all compiled into
//! the binary (`crates/api/ui/`), so the page fetches nothing from the network. The shell is
//! filled with the type and status filters here; the script asks the API for everything else
//! with the key the user gives it, so the page itself holds no data and needs no key. Every
//! answer forbids framing and any script, style or connection from another origin.

use axum::Router;
use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use warden_model::Status;

use crate::AppState;

const INDEX: &str = include_str!("../ui/index.html");
const SCRIPT: &str = include_str!("../ui/app.js");
const STYLE: &str = include_str!("../ui/app.css");

/// Only this origin's script, style and API; no frames, forms elsewhere or plugins.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                      base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's routes: `/` and `/ui` send the browser to `/ui/`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(index))
        .route("/ui/app.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT.to_owned()) }))
        .route("/ui/app.css", get(|| async { asset("text/css; charset=utf-8", STYLE.to_owned()) }))
}

async fn index(State(state): State<AppState>) -> Response {
    let options = |values: Vec<&str>| -> String {
        values.into_iter().map(|value| format!("<option value=\"{value}\">{value}</option>")).collect()
    };
    let types = options(state.engine.integration_types().iter().map(|t| t.wire_name()).collect());
    let statuses = options(Status::ALL.iter().map(|s| s.as_str()).collect());
    let page = INDEX.replace("<!--TYPES-->", &types).replace("<!--STATUSES-->", &statuses);
    asset("text/html; charset=utf-8", page)
}

fn asset(content_type: &'static str, body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
