//! Warden's HTTP API (axum): the routes of the API reference §2, API-key auth, request ids, the
//! JSON error body, the OpenAPI 3.1 document at `/openapi.json` and the docs page at
//! `/docs`, both served from the binary, and the status page at `/ui/`. [`router`] builds the
//! whole application.

mod audit;
mod data_sources;
mod error;
mod events;
mod extract;
mod metrics;
mod routes;
mod schemas;
mod scripts;
mod serve;
mod shown;
mod ui;
mod views;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument as _;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;
use warden_engine::{Actor, Engine};
use warden_model::ErrorCode;
use warden_store::Permission;

pub use error::{ApiError, ErrorBody};
pub use metrics::{ApiMetrics, MetricsAccess};
pub use serve::{MAX_CONNECTION_BUFFER, ServeOptions, serve};
pub use views::{IntegrationView, rfc3339};

use error::REQUEST_ID;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub engine: Arc<Engine>,
    /// Set once recovery after start is done (`/readyz`).
    pub ready: Arc<AtomicBool>,
    /// Where Trino clusters reach this Warden; by default the Host the client used.
    pub public_url: Option<String>,
    /// Recent lookups of administration keys.
    pub admin_keys: Arc<AdminKeyCache>,
    /// What `GET /metrics` encodes.
    pub metrics: Arc<ApiMetrics>,
    /// Who may read `GET /metrics`.
    pub metrics_access: MetricsAccess,
}

/// Remembers, for a few seconds, which presented keys are administration keys, so a busy
/// dashboard does not cost a key lookup per request. Only keys with APPLICATION_ADMIN are
/// remembered, never a key's value (entries are keyed by its SHA-256): a Trino key, which
/// `regenerate` and DELETE revoke, is looked up every time and stops working at once. A key
/// is never answered past its expiry. Everything remembered is forgotten when the store says
/// a key was revoked (`Store::api_keys_generation`: this process's revocations at once, other
/// processes' on PostgreSQL when their notification arrives); a key revoked where no
/// notification reaches this process (by `warden keys revoke` on a SQLite store) works for at
/// most [`AdminKeyCache::TTL`].
#[derive(Debug, Default)]
pub struct AdminKeyCache {
    entries: std::sync::Mutex<RememberedKeys>,
}

/// The remembered keys and the key generation they were remembered under.
#[derive(Debug, Default)]
struct RememberedKeys {
    generation: u64,
    /// Actor, when remembered, and the key's expiry (Unix milliseconds), by key hash.
    by_hash: std::collections::HashMap<String, (Actor, Instant, Option<i64>)>,
}

impl AdminKeyCache {
    /// How long a lookup is remembered.
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);
    const MAX_ENTRIES: usize = 1024;

    /// The remembered keys, forgotten first if `generation` is newer than theirs.
    fn lock(&self, generation: u64) -> std::sync::MutexGuard<'_, RememberedKeys> {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if generation > entries.generation {
            entries.by_hash.clear();
            entries.generation = generation;
        }
        entries
    }

    fn get(&self, hash: &str, generation: u64) -> Option<Actor> {
        let now = warden_model::time::now_millis();
        let entries = self.lock(generation);
        let (actor, at, expires_at) = entries.by_hash.get(hash)?;
        (at.elapsed() < Self::TTL && expires_at.is_none_or(|expiry| expiry > now)).then(|| actor.clone())
    }

    /// Remembers a lookup made under `generation`; one that a later revocation may have made
    /// stale (its generation is older than what is remembered) is not kept.
    fn put(&self, hash: String, actor: Actor, expires_at: Option<i64>, generation: u64) {
        let mut entries = self.lock(generation);
        if generation < entries.generation {
            return;
        }
        if entries.by_hash.len() >= Self::MAX_ENTRIES {
            entries.by_hash.retain(|_, (_, at, _)| at.elapsed() < Self::TTL);
            if entries.by_hash.len() >= Self::MAX_ENTRIES {
                entries.by_hash.clear();
            }
        }
        entries.by_hash.insert(hash, (actor, Instant::now(), expires_at));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Warden", description = "The control plane that wires a data-governance service into data platforms. Section numbers (§2.1) are those of the API reference in Warden's user guide: `docs/book/src/reference/` in its repository, built into `target/book/reference/` by `cargo xtask docs`, with every payload field, validation test and message."),
    modifiers(&ApiKeyAuth),
    tags((name = "integrations", description = "Integrations with data platforms (the API reference §2)."),
         (name = "scripts", description = "SQL scripts for setting platforms up by hand (the API reference §5)."),
         (name = "health", description = "Probes; no API key needed."),
         (name = "audit", description = "Who did what to which integration, and when (a Warden extension)."),
         (name = "schemas", description = "The JSON Schema (2020-12) of each integration type's payload, for editors and `warden apply` documents; no API key needed. `IntegrationPayload.config` follows the schema of its type."))
)]
struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            let scheme = ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "An API key with APPLICATION_ADMIN: `Authorization: <key>` or `Authorization: Bearer <key>`.",
            ));
            components.add_security_scheme("apiKey", SecurityScheme::ApiKey(scheme));
        }
    }
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    build(None).1
}

fn build(state: Option<AppState>) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let protected = OpenApiRouter::new()
        .routes(routes!(routes::list_integrations, routes::create_integration))
        .routes(routes!(routes::get_integration, routes::update_integration, routes::delete_integration))
        .routes(routes!(routes::integration_status))
        .routes(routes!(routes::regenerate_key))
        .routes(routes!(audit::audit_log))
        .routes(routes!(events::events))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(scripts::create_script))
        .routes(routes!(scripts::initial_create_script))
        .routes(routes!(scripts::cleanup_script))
        .routes(routes!(scripts::post_cleanup_script))
        .routes(routes!(scripts::edit_script))
        .routes(routes!(scripts::delete_script))
        .routes(routes!(scripts::stored_cleanup_script))
        .routes(routes!(scripts::stored_post_cleanup_script));
    let data_sources = OpenApiRouter::new()
        .routes(routes!(data_sources::register))
        .routes(routes!(data_sources::list))
        .routes(routes!(data_sources::delete));
    let metrics_routes = OpenApiRouter::new().routes(routes!(metrics::metrics));
    let metrics_routes = match &state {
        Some(state) => metrics_routes.route_layer(middleware::from_fn_with_state(state.clone(), metrics::guard)),
        None => metrics_routes,
    };
    let (protected, data_sources) = match state {
        Some(state) => (
            protected.route_layer(middleware::from_fn_with_state(state.clone(), require_admin)),
            data_sources.route_layer(middleware::from_fn_with_state(state, require_data_source_key)),
        ),
        None => (protected, data_sources),
    };
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::healthz))
        .routes(routes!(routes::readyz))
        .routes(routes!(schemas::payload_schema))
        .merge(metrics_routes)
        .merge(protected)
        .merge(data_sources)
        .split_for_parts()
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let (routes, api) = build(Some(state.clone()));
    routes
        .merge(SwaggerUi::new("/docs").url("/openapi.json", api))
        .merge(ui::routes())
        .fallback(|| async { ApiError::from(ErrorCode::RouteNotFound) })
        .method_not_allowed_fallback(|| async { ApiError::from(ErrorCode::MethodNotAllowed) })
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            ApiError::from(ErrorCode::Internal).into_response()
        }))
        .layer(middleware::from_fn(request_id))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// Authenticates the API key and requires APPLICATION_ADMIN; the key's identity travels on
/// as the [`Actor`] for the audit log.
async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    authenticate(&state, request, next, Permission::ApplicationAdmin).await
}

/// Authenticates the API key and requires APPLICATION_ADMIN or CREATE_S3_DATASOURCE (the
/// data-source routes).
async fn require_data_source_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    authenticate(&state, request, next, Permission::CreateS3Datasource).await
}

/// Authenticates the API key of `request` and requires APPLICATION_ADMIN or `also`.
async fn authenticate(
    state: &AppState,
    mut request: Request,
    next: Next,
    also: Permission,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            let value = value.trim();
            let bearer = value.get(..7).filter(|p| p.eq_ignore_ascii_case("bearer ")).map(|_| &value[7..]);
            bearer.unwrap_or(value).trim()
        })
        .filter(|key| !key.is_empty() && key.len() <= 256)
        .ok_or(ErrorCode::Unauthorized)?;
    let hash = warden_store::key_hash(presented);
    // Read before the lookup: a revocation after it moves the generation past what is kept.
    let generation = state.engine.store().api_keys_generation();
    let actor = match state.admin_keys.get(&hash, generation) {
        Some(actor) => actor,
        None => {
            let key = state.engine.store().find_api_key(presented).await?.ok_or(ErrorCode::Unauthorized)?;
            let actor = Actor::api_key(key.id, &key.name);
            if key.permissions.contains(&Permission::ApplicationAdmin) {
                state.admin_keys.put(hash, actor.clone(), key.expires_at, generation);
            } else if !key.permissions.contains(&also) {
                return Err(ErrorCode::Forbidden { permission: also.as_str() }.into());
            }
            actor
        }
    };
    request.extensions_mut().insert(actor);
    Ok(next.run(request).await)
}

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request an id (the caller's `x-request-id` when it is a plain token, else a
/// new one), runs it inside a span that carries the id, logs its outcome, and returns the
/// id in the `x-request-id` header.
async fn request_id(request: Request, next: Next) -> Response {
    let incoming = request.headers().get(&REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).filter(|v| {
        !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    let id = incoming.map_or_else(new_request_id, str::to_owned);
    let span =
        tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let started = Instant::now();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request).instrument(span.clone())).await;
    span.in_scope(|| {
        tracing::info!(status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis(), "served");
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

fn new_request_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes); // zeros without randomness: ids still log, less unique
    let hex = warden_model::hex::encode(&bytes);
    format!("req-{hex}")
}
