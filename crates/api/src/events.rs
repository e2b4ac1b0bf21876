//! `GET /events`: server-sent events, one per audit entry as it is written — every request
//! that changes or dry-runs something, and every status move of Warden's own (the worker
//! finishing a setup, recovery) — each with its entry id as the event id. The stream reads
//! the audit log, so on PostgreSQL it carries every process's events, and a client that
//! reconnects with `Last-Event-ID` gets every entry after that one, none lost and none twice
//! (the log is read with `Store::audit_feed`, which waits on an id that may still commit).
//! An event whose entry moved a status is named `status`; one whose entry records a
//! validation outcome that changed (`validated`: the run's status or a test's) is named
//! `validation`; the others `audit`. The stream
//! wakes when an entry is written (on PostgreSQL, by the `LISTEN/NOTIFY` notification of any
//! process), and reads the log every [`FALLBACK_POLL`] besides, in case a notification was
//! lost with its connection. A comment every 15 s keeps idle connections open.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use crate::AppState;
use crate::audit::AuditView;
use crate::error::{ApiError, ErrorBody};

/// How often the stream reads the log without having been woken.
const FALLBACK_POLL: Duration = Duration::from_secs(2);
/// Most entries one read takes.
const BATCH: u32 = 100;

/// What the stream holds between reads.
struct Cursor {
    state: AppState,
    appended: tokio::sync::watch::Receiver<i64>,
    after: i64,
    pending: std::collections::VecDeque<AuditView>,
}

/// Every audit entry after `Last-Event-ID` (or, without one, after the latest at connect
/// time), as it is written.
#[utoipa::path(get, path = "/events", tag = "audit",
    params(("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event (an audit entry id).")),
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "`id: <audit entry id>`, `event: status`, `validation` or `audit`, `data: <the audit entry as GET /audit answers it>`."),
        (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::trim);
    let after = match resume {
        Some(text) => {
            text.parse::<i64>().ok().filter(|id| *id >= 0).ok_or(warden_model::ErrorCode::InvalidHeaderValue {
                header: "Last-Event-ID",
                expected: "an event id (a whole number) from this stream".to_owned(),
            })?
        }
        None => state.engine.store().latest_audit_id().await.map_err(warden_engine::EngineError::from)?,
    };
    // Subscribed before the first read, so an entry written after it wakes the stream.
    let appended = state.engine.store().audit_appended();
    let cursor = Cursor { state, appended, after, pending: std::collections::VecDeque::new() };
    let stream = futures_util::stream::unfold(cursor, |mut cursor| async move {
        loop {
            if let Some(view) = cursor.pending.pop_front() {
                let name = if view.action == "validated" {
                    "validation"
                } else if view.changes.iter().any(|c| c.path == "status") {
                    "status"
                } else {
                    "audit"
                };
                let event = Event::default().id(view.id.to_string()).event(name).json_data(&view).unwrap_or_default();
                return Some((Ok(event), cursor));
            }
            match cursor.state.engine.store().audit_feed(cursor.after, BATCH).await {
                Ok(entries) if !entries.is_empty() => {
                    cursor.after = entries.last().map_or(cursor.after, |e| e.id);
                    cursor.pending.extend(entries.into_iter().map(AuditView::from));
                }
                Ok(_) => {
                    // Woken by a new entry, or after the fallback interval.
                    let _ = tokio::time::timeout(FALLBACK_POLL, cursor.appended.changed()).await;
                }
                Err(error) => {
                    tracing::warn!(%error, "the event stream could not read the audit log");
                    tokio::time::sleep(FALLBACK_POLL).await;
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
