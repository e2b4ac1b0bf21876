//! `GET /webhooks/deliveries`: the record of webhook deliveries, newest first — which event
//! went to which receiver, in how many attempts, and why the last one failed.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use warden_model::ErrorCode;
use warden_store::WebhookDeliveryRecord;

use crate::AppState;
use crate::audit::DEFAULT_ENTRIES;
use crate::error::{ApiError, ErrorBody};
use crate::routes::QueryPairs;
use crate::views::rfc3339;

/// One delivery of a status change to a receiver.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// The delivery's id (the `X-Warden-Delivery` header).
    pub id: i64,
    /// The receiver.
    pub url: String,
    /// The event it carries (an audit entry id; the `X-Warden-Event-Id` header).
    pub event_id: i64,
    /// `delivered`, `pending` (to be tried again) or `abandoned` (attempts used up).
    pub state: &'static str,
    /// Attempts so far.
    pub attempts: i64,
    /// When the receiver took it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// When the next attempt is due, while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl From<WebhookDeliveryRecord> for DeliveryView {
    fn from(record: WebhookDeliveryRecord) -> Self {
        let state = match (record.delivered_at, record.abandoned_at) {
            (Some(_), _) => "delivered",
            (None, Some(_)) => "abandoned",
            (None, None) => "pending",
        };
        Self {
            id: record.id,
            url: record.url,
            event_id: record.audit_id,
            state,
            attempts: record.attempts,
            delivered_at: record.delivered_at.map(rfc3339),
            next_attempt_at: (state == "pending").then(|| rfc3339(record.next_attempt_at)),
            last_error: record.last_error,
        }
    }
}

/// The latest webhook deliveries, newest first.
#[utoipa::path(get, path = "/webhooks/deliveries", tag = "audit",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (default 100).")),
    responses((status = 200, body = Vec<DeliveryView>), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn deliveries(State(state): State<AppState>, query: QueryPairs) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let mut limit = DEFAULT_ENTRIES;
    for (name, value) in query.pairs() {
        match name.as_str() {
            "limit" => limit = crate::audit::limit(value)?,
            other => {
                let parameter: String = other.chars().take(100).collect();
                return Err(ErrorCode::UnknownQuery { parameter, accepted: "limit".into() }.into());
            }
        }
    }
    let records = state.engine.store().webhook_deliveries(limit).await.map_err(warden_engine::EngineError::from)?;
    Ok(Json(records.into_iter().map(DeliveryView::from).collect()))
}
