//! Webhook deliveries: for each configured URL, how far it has been fed from the audit log
//! (its cursor) and one row per status change to deliver, with its attempts and outcome. A
//! URL's deliveries go out one at a time, oldest first; a claim holds one for a lease, so two
//! processes on PostgreSQL never send the same delivery at once.

use super::*;

/// A delivery claimed for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Its id.
    pub id: i64,
    /// The audit entry it carries.
    pub audit_id: i64,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver took it (a 2xx).
    Delivered,
    /// It failed; try again after this long.
    Retry {
        /// When to try again.
        after: Duration,
        /// Why it failed (status code or connection error; never the body sent).
        error: String,
    },
    /// It failed too often; no more attempts.
    Abandoned {
        /// Why the last attempt failed.
        error: String,
    },
}

/// A delivery as `GET /webhooks/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDeliveryRecord {
    /// Its id.
    pub id: i64,
    /// The receiver.
    pub url: String,
    /// The audit entry (event id) it carries.
    pub audit_id: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// When the receiver took it (Unix milliseconds).
    pub delivered_at: Option<i64>,
    /// When Warden gave up on it.
    pub abandoned_at: Option<i64>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl Store {
    /// How far `url` has been fed: the audit entry id its deliveries are queued through. The
    /// first time a URL is seen its feed starts at `start` (the latest entry then), so a new
    /// receiver gets what happens from now on, not the whole history.
    pub async fn webhook_cursor(&self, url: &str, start: i64) -> Result<i64, StoreError> {
        let insert =
            self.sql("INSERT INTO webhook_cursors (url, after_audit_id) VALUES ($1, $2) ON CONFLICT (url) DO NOTHING");
        let select = self.sql("SELECT after_audit_id FROM webhook_cursors WHERE url = $1");
        Ok(on_pool!(self, pool => {
            sqlx::query(insert).bind(url).bind(start).execute(pool).await?;
            sqlx::query(select).bind(url).fetch_one(pool).await?.try_get("after_audit_id")?
        }))
    }

    /// Queues a delivery of each of `audit_ids` to `url` (once: a second process queueing the
    /// same changes nothing) and moves its cursor forward to `through`, in one transaction.
    pub async fn queue_webhook_deliveries(&self, url: &str, audit_ids: &[i64], through: i64) -> Result<(), StoreError> {
        let insert = || {
            self.sql(
                "INSERT INTO webhook_deliveries (url, audit_id, next_attempt_at) VALUES ($1, $2, $3) ON CONFLICT (url, audit_id) DO NOTHING",
            )
        };
        let advance = self.sql("UPDATE webhook_cursors SET after_audit_id = $2 WHERE url = $1 AND after_audit_id < $2");
        let now = now_millis();
        on_pool!(self, pool => {
            let mut transaction = pool.begin().await?;
            for audit_id in audit_ids {
                sqlx::query(insert()).bind(url).bind(audit_id).bind(now).execute(&mut *transaction).await?;
            }
            sqlx::query(advance).bind(url).bind(through).execute(&mut *transaction).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Claims `url`'s oldest pending delivery for `lease`, if it is due and nobody holds it.
    /// Later ones wait behind it, so a receiver gets its events in order.
    pub async fn claim_webhook_delivery(
        &self,
        url: &str,
        lease: Duration,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        let now = now_millis();
        // The subquery picks the oldest pending row; the conditions on the row itself are
        // checked again by PostgreSQL after a concurrent claim commits, so only one wins.
        let sql = self.sql(
            "UPDATE webhook_deliveries SET claimed_until = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM webhook_deliveries WHERE url = $1 AND delivered_at IS NULL AND abandoned_at IS NULL ORDER BY id LIMIT 1) \
             AND next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until < $3) \
             RETURNING id, audit_id, attempts",
        );
        Ok(on_pool!(self, pool => {
            match sqlx::query(sql).bind(url).bind(deadline(now, lease)).bind(now).fetch_optional(pool).await? {
                Some(row) => Some(WebhookDelivery {
                    id: row.try_get("id")?,
                    audit_id: row.try_get("audit_id")?,
                    attempts: row.try_get("attempts")?,
                }),
                None => None,
            }
        }))
    }

    /// Records what an attempt at delivery `id` came to, and releases its claim.
    pub async fn finish_webhook_delivery(&self, id: i64, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        let now = now_millis();
        let (sql, error, at) = match outcome {
            DeliveryOutcome::Delivered => (
                "UPDATE webhook_deliveries SET delivered_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $1",
                None,
                now,
            ),
            DeliveryOutcome::Retry { after, error } => (
                "UPDATE webhook_deliveries SET next_attempt_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $1",
                Some(error.as_str()),
                deadline(now, *after),
            ),
            DeliveryOutcome::Abandoned { error } => (
                "UPDATE webhook_deliveries SET abandoned_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $1",
                Some(error.as_str()),
                now,
            ),
        };
        let sql = self.sql(sql);
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(at).bind(error).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// The latest `limit` deliveries, newest first.
    pub async fn webhook_deliveries(&self, limit: u32) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        let sql = self.sql(
            "SELECT id, url, audit_id, attempts, delivered_at, abandoned_at, next_attempt_at, last_error \
             FROM webhook_deliveries ORDER BY id DESC LIMIT $1",
        );
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(i64::from(limit)).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(WebhookDeliveryRecord {
                    id: row.try_get("id")?,
                    url: row.try_get("url")?,
                    audit_id: row.try_get("audit_id")?,
                    attempts: row.try_get("attempts")?,
                    delivered_at: row.try_get("delivered_at")?,
                    abandoned_at: row.try_get("abandoned_at")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    last_error: row.try_get("last_error")?,
                });
            }
            out
        }))
    }
}
