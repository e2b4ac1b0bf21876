//! Warden's webhooks. Every status change (an audit entry that moved an integration's status,
//! whoever made it) is POSTed as JSON to each configured URL, oldest first, with
//!
//! - `X-Warden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the
//!   shared secret>`, so a receiver can check the sender and refuse a replay;
//! - `X-Warden-Event-Id: <audit entry id>` (the id `GET /events` and `GET /audit` show), the
//!   same on every attempt, so a receiver can drop a repeat;
//! - `X-Warden-Delivery: <delivery id>`.
//!
//! A delivery that is not answered with a 2xx is tried again after a delay that doubles from
//! `first_retry` up to `max_retry`, and given up after `max_attempts`; every attempt is
//! recorded in the store (`GET /webhooks/deliveries`). The feed and the deliveries live in
//! the store, so a restart loses nothing, and several processes on PostgreSQL share them: a
//! delivery is claimed by one process at a time. The dispatcher wakes when an audit entry is
//! written (on PostgreSQL, by a notification), and every [`TICK`] for retries that fall due.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{KeyInit as _, Mac as _};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::watch;
use warden_model::Secret;
use warden_store::{AuditEntry, AuditQuery, DeliveryOutcome, Store, StoreError, WebhookDelivery};

/// How often the dispatcher looks for retries that fell due (and for entries whose
/// notification was lost).
pub const TICK: Duration = Duration::from_secs(1);
/// The shortest shared secret accepted.
pub const MIN_SECRET_LEN: usize = 16;
/// Audit entries read at a time.
const BATCH: u32 = 100;

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    /// A URL that does not parse or is not http(s).
    #[error("--webhook-url {url:?}: {why}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// URLs without a secret, or a secret too short to sign with.
    #[error(
        "webhooks need a shared secret of at least {MIN_SECRET_LEN} characters (WARDEN_WEBHOOK_SECRET or --webhook-secret-file)"
    )]
    WeakSecret,
}

/// How the dispatcher delivers.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// How long one attempt may take.
    pub timeout: Duration,
    /// The delay before the second attempt; it doubles for each next one.
    pub first_retry: Duration,
    /// The longest delay between attempts.
    pub max_retry: Duration,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// How long a claim on a delivery lasts (longer than `timeout`).
    pub lease: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(600),
            max_attempts: 20,
            lease: Duration::from_secs(60),
        }
    }
}

/// The receivers and the secret their deliveries are signed with.
#[derive(Debug, Clone)]
pub struct Webhooks {
    urls: Vec<url::Url>,
    secret: Secret<String>,
    options: WebhookOptions,
}

impl Webhooks {
    /// Checks the configuration: each URL http(s) with a host, and a secret long enough.
    pub fn new(urls: &[String], secret: Option<Secret<String>>, options: WebhookOptions) -> Result<Self, WebhookError> {
        let urls = urls
            .iter()
            .map(|text| {
                let bad = |why: &str| WebhookError::BadUrl { url: text.clone(), why: why.to_owned() };
                let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(bad("a webhook URL is http:// or https:// with a host"));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    // Named without its credentials: the error reaches the log.
                    let mut shown = url.clone();
                    let _ = shown.set_username("");
                    let _ = shown.set_password(None);
                    return Err(WebhookError::BadUrl {
                        url: shown.to_string(),
                        why: "put no credentials in the URL; receivers check the signature instead".into(),
                    });
                }
                Ok(url)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let secret = secret.filter(|s| s.expose().trim().len() >= MIN_SECRET_LEN).ok_or(WebhookError::WeakSecret)?;
        Ok(Self { urls, secret, options })
    }

    /// The receivers.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.urls.iter().map(url::Url::as_str)
    }
}

/// What a receiver gets: one status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusEvent {
    /// Always `status`.
    pub event: &'static str,
    /// The audit entry id (the event id of `GET /events`).
    pub event_id: i64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Which integration.
    pub integration_id: u64,
    /// Its type, when the entry names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_type: Option<String>,
    /// The status it moved to.
    pub status: String,
    /// The status it left (absent for a new integration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<String>,
    /// What the status means and what to do, when it has a message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Who: `warden`, or the API key's name.
    pub actor: String,
    /// What was done (`create`, `update`, `RecurringCheckFailed`, ...).
    pub action: String,
}

impl StatusEvent {
    /// The event of an audit entry, when the entry moved a status.
    pub fn of(entry: &AuditEntry) -> Option<Self> {
        let parse = |text: &Option<String>| text.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok());
        let (before, after) = (parse(&entry.before), parse(&entry.after)?);
        let text = |state: &Value, field: &str| state.get(field).and_then(Value::as_str).map(str::to_owned);
        let status = text(&after, "status")?;
        let previous_status = before.as_ref().and_then(|b| text(b, "status"));
        if previous_status.as_deref() == Some(status.as_str()) {
            return None;
        }
        let actor = entry.actor_name().0.to_owned();
        Some(Self {
            event: "status",
            event_id: entry.id,
            at: warden_model::time::rfc3339(entry.at),
            integration_id: entry.integration_id?.get(),
            integration_type: text(&after, "type"),
            status,
            previous_status,
            message: text(&after, "message"),
            actor,
            action: entry.action.clone(),
        })
    }
}

/// The `X-Warden-Signature` value of `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", warden_model::hex::encode(&mac.finalize().into_bytes()))
}

/// Delivers status changes to the configured receivers until shutdown.
pub struct Dispatcher {
    store: Arc<Store>,
    webhooks: Webhooks,
    client: reqwest::Client,
}

impl Dispatcher {
    /// A dispatcher over `store`.
    pub fn new(store: Arc<Store>, webhooks: Webhooks) -> Result<Self, String> {
        let client = warden_http::https_client(None).map_err(|e| e.to_string())?;
        Ok(Self { store, webhooks, client })
    }

    /// Feeds and delivers until `shutdown` turns true. An attempt under way when it does is
    /// dropped; its claim lapses and the delivery is tried again after a restart.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut appended = self.store.audit_appended();
        loop {
            for url in self.webhooks.urls() {
                if let Err(error) = self.feed(url).await {
                    tracing::warn!(%error, url, "webhooks: could not read the audit log");
                }
                let delivering = self.deliver_due(url);
                tokio::select! {
                    _ = shutdown.changed() => return,
                    result = delivering => if let Err(error) = result {
                        tracing::warn!(%error, url, "webhooks: could not record a delivery");
                    },
                }
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = appended.changed() => {}
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// Queues a delivery to `url` of every status change written since its cursor.
    async fn feed(&self, url: &str) -> Result<(), StoreError> {
        let latest = self.store.latest_audit_id().await?;
        let mut after = self.store.webhook_cursor(url, latest).await?;
        loop {
            let entries = self.store.audit_feed(after, BATCH).await?;
            let Some(last) = entries.last().map(|e| e.id) else { return Ok(()) };
            let changes: Vec<i64> =
                entries.iter().filter(|entry| StatusEvent::of(entry).is_some()).map(|entry| entry.id).collect();
            self.store.queue_webhook_deliveries(url, &changes, last).await?;
            after = last;
            if entries.len() < BATCH as usize {
                return Ok(());
            }
        }
    }

    /// Sends `url`'s due deliveries, oldest first, until one fails or none is due.
    async fn deliver_due(&self, url: &str) -> Result<(), StoreError> {
        while let Some(delivery) = self.store.claim_webhook_delivery(url, self.webhooks.options.lease).await? {
            let outcome = self.attempt(url, &delivery).await;
            let delivered = outcome == DeliveryOutcome::Delivered;
            self.store.finish_webhook_delivery(delivery.id, &outcome).await?;
            if !delivered {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One attempt at `delivery`, and what it came to.
    async fn attempt(&self, url: &str, delivery: &WebhookDelivery) -> DeliveryOutcome {
        let query = AuditQuery { after: Some(delivery.audit_id - 1), limit: 1, ..AuditQuery::default() };
        let event = match self.store.audit_entries(&query).await {
            Ok(entries) => entries.first().filter(|e| e.id == delivery.audit_id).and_then(StatusEvent::of),
            Err(error) => return self.retry(delivery, format!("the audit entry could not be read: {error}")),
        };
        let Some(event) = event else {
            return DeliveryOutcome::Abandoned { error: "the audit entry is gone or moved no status".into() };
        };
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let sent = self
            .client
            .post(url)
            .timeout(self.webhooks.options.timeout)
            .header("content-type", "application/json")
            .header("user-agent", concat!("warden-webhooks/", env!("CARGO_PKG_VERSION")))
            .header("x-warden-event-id", delivery.audit_id.to_string())
            .header("x-warden-delivery", delivery.id.to_string())
            .header("x-warden-signature", signature(self.webhooks.secret.expose(), timestamp, &body))
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                tracing::info!(url, event = delivery.audit_id, attempts = delivery.attempts, "webhook delivered");
                DeliveryOutcome::Delivered
            }
            Ok(response) => self.retry(delivery, format!("the receiver answered HTTP {}", response.status().as_u16())),
            Err(error) => {
                let why = if error.is_timeout() {
                    format!("no answer within {} s", self.webhooks.options.timeout.as_secs_f64())
                } else if error.is_connect() {
                    "could not connect to the receiver".to_owned()
                } else {
                    "the request failed before an answer".to_owned()
                };
                self.retry(delivery, why)
            }
        }
    }

    /// Another try after the backoff, or none when the attempts are used up.
    fn retry(&self, delivery: &WebhookDelivery, error: String) -> DeliveryOutcome {
        let options = &self.webhooks.options;
        tracing::warn!(event = delivery.audit_id, attempts = delivery.attempts, %error, "webhook not delivered");
        if delivery.attempts >= i64::from(options.max_attempts) {
            return DeliveryOutcome::Abandoned { error };
        }
        let exponent = u32::try_from(delivery.attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(30);
        let after = options.first_retry.saturating_mul(1 << exponent).min(options.max_retry);
        DeliveryOutcome::Retry { after, error }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 does not cover this framing; the value was computed independently with
        // `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 0123456789abcdef`.
        assert_eq!(
            signature("0123456789abcdef", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=9eb18f493f8ec135d9eb2dad817c369bb4e9cbfa818657897a7437c1cd8c3a23"
        );
    }

    #[test]
    fn a_configuration_names_what_is_wrong() {
        let secret = || Some(Secret::new("0123456789abcdef".to_owned()));
        let options = WebhookOptions::default;
        assert!(Webhooks::new(&["https://hooks.example.com/warden".into()], secret(), options()).is_ok());
        let bad = Webhooks::new(&["ftp://hooks.example.com".into()], secret(), options()).unwrap_err();
        assert!(bad.to_string().contains("http:// or https://"), "{bad}");
        let creds =
            Webhooks::new(&["https://ops:hunter2-pw@hooks.example.com".into()], secret(), options()).unwrap_err();
        assert!(creds.to_string().contains("no credentials"), "{creds}");
        assert!(!creds.to_string().contains("hunter2") && !creds.to_string().contains("ops"), "{creds}");
        let short = Webhooks::new(&["https://hooks.example.com".into()], Some(Secret::new("short".into())), options());
        assert_eq!(short.unwrap_err(), WebhookError::WeakSecret);
        assert_eq!(
            Webhooks::new(&["https://hooks.example.com".into()], None, options()).unwrap_err(),
            WebhookError::WeakSecret
        );
    }

    fn entry(before: Option<&str>, after: &str) -> AuditEntry {
        AuditEntry {
            id: 7,
            at: 1_700_000_000_123,
            actor: "api-key:3:ops".into(),
            action: "update".into(),
            integration_id: warden_model::IntegrationId::parse("12"),
            before: before.map(str::to_owned),
            after: Some(after.to_owned()),
        }
    }

    #[test]
    fn only_an_entry_that_moved_a_status_is_an_event() {
        let moved =
            entry(Some(r#"{"type":"Redshift","status":"enabled"}"#), r#"{"type":"Redshift","status":"editing"}"#);
        let event = StatusEvent::of(&moved).unwrap();
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({
            "event": "status", "eventId": 7, "at": "2023-11-14T22:13:20.123Z", "integrationId": 12,
            "integrationType": "Redshift", "status": "editing", "previousStatus": "enabled", "actor": "ops", "action": "update"})
        );
        let same = entry(Some(r#"{"status":"enabled"}"#), r#"{"status":"enabled","labels":{"a":"b"}}"#);
        assert_eq!(StatusEvent::of(&same), None);
        let created = entry(None, r#"{"status":"creating"}"#);
        assert_eq!(StatusEvent::of(&created).unwrap().previous_status, None);
    }
}
