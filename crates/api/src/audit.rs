//! `GET /audit`: who (which API key, by name) did what to which integration and when, with
//! the change's field-by-field difference of the redacted states (secrets shown as
//! `[REDACTED]`, so a difference never reveals one). Oldest first; `integrationId`, `since`
//! (RFC 3339), `after` (an entry id, the cursor of the next page) and `limit` (1 to 1000,
//! default 100).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use warden_model::changes::field_changes;
use warden_model::time::parse_rfc3339_millis;
use warden_model::{ErrorCode, IntegrationId};
use warden_store::{AuditEntry, AuditQuery};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::routes::QueryPairs;
use crate::views::rfc3339;

/// The largest page `GET /audit` answers, and the page it answers without `limit`.
const MAX_ENTRIES: u32 = 1000;
pub(crate) const DEFAULT_ENTRIES: u32 = 100;

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// Its id (increasing; `after=<id>` asks for the entries after it).
    pub id: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who: the API key's name, or `warden` for Warden itself (the worker, recovery).
    pub actor: String,
    /// The API key's id, when an API key did it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<i64>,
    /// What: `create`, `update`, `delete`, `forceDisable`, `regenerate` and their
    /// `.dryRun`s, `dataSources.register`, ...; Warden's own status moves are named after the
    /// lifecycle's event (`Succeeded`, `Failed`, ...).
    pub action: String,
    /// Which integration, when one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<u64>,
    /// What changed, field by field (secrets `[REDACTED]`).
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<warden_model::changes::FieldChange>,
}

impl From<AuditEntry> for AuditView {
    fn from(entry: AuditEntry) -> Self {
        let (actor, api_key_id) = entry.actor_name();
        let actor = actor.to_owned();
        let parse =
            |text: Option<&String>| text.and_then(|t| serde_json::from_str::<Value>(t).ok()).unwrap_or(Value::Null);
        let changes = field_changes(&parse(entry.before.as_ref()), &parse(entry.after.as_ref()), None);
        Self {
            id: entry.id,
            at: rfc3339(entry.at),
            actor,
            api_key_id,
            action: entry.action,
            integration_id: entry.integration_id.map(IntegrationId::get),
            changes,
        }
    }
}

/// A `limit` parameter of the audit routes: 1 to [`MAX_ENTRIES`].
pub(crate) fn limit(value: &str) -> Result<u32, ApiError> {
    value.parse::<u32>().ok().filter(|n| (1..=MAX_ENTRIES).contains(n)).ok_or_else(|| {
        ErrorCode::InvalidQueryValue { parameter: "limit", expected: format!("a whole number from 1 to {MAX_ENTRIES}") }
            .into()
    })
}

fn audit_query(query: &QueryPairs) -> Result<AuditQuery, ApiError> {
    const ACCEPTED: [&str; 4] = ["integrationId", "since", "after", "limit"];
    let mut audit = AuditQuery { limit: DEFAULT_ENTRIES, ..AuditQuery::default() };
    for (name, value) in query.pairs() {
        let invalid = |parameter: &'static str, expected: &str| ErrorCode::InvalidQueryValue {
            parameter,
            expected: expected.to_owned(),
        };
        match name.as_str() {
            "integrationId" => {
                audit.integration_id = Some(
                    IntegrationId::parse(value)
                        .ok_or_else(|| invalid("integrationId", "an integration id (a positive whole number)"))?,
                );
            }
            "since" => {
                audit.since_millis = Some(
                    parse_rfc3339_millis(value)
                        .ok_or_else(|| invalid("since", "an RFC 3339 time such as 2026-12-06T12:00:00Z"))?,
                );
            }
            "after" => {
                audit.after = Some(
                    value
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid("after", "an audit entry id (a positive whole number)"))?,
                );
            }
            "limit" => audit.limit = limit(value)?,
            other => {
                let parameter: String = other.chars().take(100).collect();
                return Err(ErrorCode::UnknownQuery { parameter, accepted: ACCEPTED.join(", ") }.into());
            }
        }
    }
    Ok(audit)
}

/// The audit log, oldest first.
#[utoipa::path(get, path = "/audit", tag = "audit",
    params(
        ("integrationId" = Option<u64>, Query, minimum = 1, description = "Only this integration's entries."),
        ("since" = Option<String>, Query, description = "Only entries at or after this RFC 3339 time."),
        ("after" = Option<i64>, Query, minimum = 1, description = "Only entries after this entry id (the next page)."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (default 100).")),
    responses((status = 200, body = Vec<AuditView>), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("apiKey" = [])))]
pub async fn audit_log(State(state): State<AppState>, query: QueryPairs) -> Result<Json<Vec<AuditView>>, ApiError> {
    let query = audit_query(&query)?;
    let entries = state.engine.store().audit_entries(&query).await.map_err(warden_engine::EngineError::from)?;
    Ok(Json(entries.into_iter().map(AuditView::from).collect()))
}
