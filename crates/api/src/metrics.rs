//! `GET /metrics` in Prometheus' text format (OpenMetrics), with `prometheus-client`:
//! requests by method, route and status with their latencies (`track` is the layer that
//! counts them), the engine's jobs and validation tests, and, read when scraped, the
//! integrations by type and status and the store's connection pool. Who may scrape is its
//! own setting ([`MetricsAccess`]): by default a client on the loopback interface without a
//! key, any other with an administration key.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use warden_model::Status;
use warden_store::ListQuery;

use crate::AppState;
use crate::error::ApiError;

/// Who may read `GET /metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsAccess {
    /// A client on the loopback interface without a key; any other with an administration
    /// key.
    #[default]
    Loopback,
    /// Only with an administration key.
    Key,
    /// Anyone who can reach the port.
    Open,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntegrationLabels {
    platform: String,
    status: String,
}

fn latency() -> Histogram {
    // 0.5 ms to about 30 s.
    Histogram::new(exponential_buckets(0.0005, 3.0, 11))
}

/// The registry `GET /metrics` encodes, with the request counters the layer updates.
pub struct ApiMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for ApiMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiMetrics")
    }
}

impl ApiMetrics {
    /// The registry: the request counters and the engine's.
    pub fn new(engine: &warden_engine::Engine) -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        registry.register(
            "warden_http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "warden_http_request_duration_seconds",
            "How long requests took, by method and route",
            latency.clone(),
        );
        engine.metrics().register(&mut registry);
        Arc::new(Self { registry, requests, latency })
    }
}

/// The layer that counts every routed request: the route as a template with its parameters
/// written `:id` (`/integrations/:id`, the form most Prometheus tooling reads without
/// trouble; braces in a label value trip some parsers), `unmatched` for the rest.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().replace('{', ":").replace('}', ""));
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics
        .latency
        .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
        .observe(started.elapsed().as_secs_f64());
    metrics.requests.get_or_create(&RequestLabels { method, route, status: response.status().as_u16() }).inc();
    response
}

/// Lets a scrape through as [`MetricsAccess`] says, else asks for an administration key.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let loopback = request.extensions().get::<ConnectInfo<SocketAddr>>().is_some_and(|peer| peer.0.ip().is_loopback());
    match state.metrics_access {
        MetricsAccess::Open => Ok(next.run(request).await),
        MetricsAccess::Loopback if loopback => Ok(next.run(request).await),
        MetricsAccess::Loopback | MetricsAccess::Key => crate::require_admin(State(state), request, next).await,
    }
}

/// Every metric, in Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, content_type = "application/openmetrics-text", body = String,
        description = "Requests, jobs, validation tests, integrations by type and status, the store's pool."),
        (status = "4XX", body = crate::error::ErrorBody)),
    security((), ("apiKey" = [])))]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut scraped = Registry::default();
    let integrations = Family::<IntegrationLabels, Gauge>::default();
    scraped.register("warden_integrations", "Integrations, by platform and status", integrations.clone());
    let shown = state
        .engine
        .store()
        .list_shown(&ListQuery { include_deleted: true, ..ListQuery::default() })
        .await
        .map_err(warden_engine::EngineError::from)?;
    for integration in &shown {
        let labels = IntegrationLabels {
            platform: integration.summary.integration_type.wire_name().to_owned(),
            status: integration.summary.status.as_str().to_owned(),
        };
        integrations.get_or_create(&labels).inc();
    }
    // Every type and status appears, at zero when there is none, so a query never finds a gap.
    for integration_type in state.engine.integration_types() {
        for status in Status::ALL {
            let labels = IntegrationLabels {
                platform: integration_type.wire_name().to_owned(),
                status: status.as_str().to_owned(),
            };
            integrations.get_or_create(&labels).inc_by(0);
        }
    }
    let (open, idle) = state.engine.store().pool_connections();
    let pool = Family::<PoolLabels, Gauge>::default();
    scraped.register("warden_store_connections", "The store's pooled connections, in use and idle", pool.clone());
    pool.get_or_create(&PoolLabels { state: "idle".into() }).set(i64::try_from(idle).unwrap_or(i64::MAX));
    pool.get_or_create(&PoolLabels { state: "in_use".into() })
        .set(i64::from(open).saturating_sub(i64::try_from(idle).unwrap_or(0)));
    let mut text = String::new();
    let encoded = encode_registry(&mut text, &state.metrics.registry)
        .and_then(|()| encode_registry(&mut text, &scraped))
        .and_then(|()| encode_eof(&mut text));
    encoded.map_err(|_| ApiError::from(warden_model::ErrorCode::Internal))?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}
