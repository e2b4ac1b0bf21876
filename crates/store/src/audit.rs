//! The audit log: who did what to which integration, with the redacted states before and
//! after.

use super::*;

impl Store {
    /// Appends an audit entry. `before` and `after` must be redacted (`IntegrationSpec::redacted`).
    pub async fn record_audit(
        &self,
        actor: &str,
        action: &str,
        integration_id: Option<IntegrationId>,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let sql = self.sql(
            "INSERT INTO audit_log (at, actor, action, integration_id, before_state, after_state) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        );
        let id: i64 = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(now_millis())
                .bind(actor)
                .bind(action)
                .bind(integration_id.map(db_id))
                .bind(before.map(ToString::to_string))
                .bind(after.map(ToString::to_string))
                .fetch_one(pool)
                .await?
                .try_get("id")?
        });
        note_audit_id(&self.audit_appended, id);
        Ok(())
    }

    /// Follows the audit log: the receiver changes when an entry is written, by this process
    /// or (on PostgreSQL, while its notifications arrive) by another. A reader still reads
    /// the log itself, and now and then without a change, since a notification can be lost
    /// with its connection.
    pub fn audit_appended(&self) -> tokio::sync::watch::Receiver<i64> {
        self.audit_appended.subscribe()
    }

    /// The audit entries of an integration, oldest first: (actor, action, before, after).
    pub async fn audit_of(
        &self,
        integration_id: IntegrationId,
    ) -> Result<Vec<(String, String, Option<String>, Option<String>)>, StoreError> {
        let sql = self.sql(
            "SELECT actor, action, before_state, after_state FROM audit_log WHERE integration_id = $1 ORDER BY id",
        );
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(db_id(integration_id)).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push((row.try_get("actor")?, row.try_get("action")?, row.try_get("before_state")?, row.try_get("after_state")?));
            }
            out
        }))
    }

    /// The id of the latest audit entry (0 when there is none).
    pub async fn latest_audit_id(&self) -> Result<i64, StoreError> {
        let sql = self.sql("SELECT COALESCE(MAX(id), 0) AS latest FROM audit_log");
        Ok(on_pool!(self, pool => {
            let row = sqlx::query(sql).fetch_one(pool).await?;
            row.try_get::<i64, _>("latest")?
        }))
    }

    /// Audit entries, oldest first: of one integration or all, at or after `since`, after
    /// the entry id `after` (a cursor), at most `limit`.
    pub async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let filter = if query.integration_id.is_some() { " AND integration_id = $4" } else { "" };
        let text = format!(
            "SELECT id, at, actor, action, integration_id, before_state, after_state FROM audit_log \
             WHERE at >= $1 AND id > $2{filter} ORDER BY id LIMIT $3"
        );
        let sql = self.sql(&text);
        let since = query.since_millis.unwrap_or(i64::MIN);
        let after = query.after.unwrap_or(0);
        let limit = i64::from(query.limit);
        Ok(on_pool!(self, pool => {
            let mut statement = sqlx::query(sql).bind(since).bind(after).bind(limit);
            if let Some(id) = query.integration_id {
                statement = statement.bind(db_id(id));
            }
            let rows = statement.fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let integration: Option<i64> = row.try_get("integration_id")?;
                out.push(AuditEntry {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    integration_id: integration.map(id_from).transpose()?,
                    before: row.try_get("before_state")?,
                    after: row.try_get("after_state")?,
                });
            }
            out
        }))
    }
}

/// How long a reader of the audit log in id order waits on a gap before it takes the gap as
/// final. On PostgreSQL ids are handed out before commit, so an entry can become visible
/// after a later one; an insert that rolled back leaves a gap for good.
pub const AUDIT_GAP_WAIT: Duration = Duration::from_secs(2);

impl Store {
    /// The entries after `after` in id order, stopping before a gap younger than
    /// [`AUDIT_GAP_WAIT`] (its entry may still commit): what a reader that keeps a cursor
    /// (the event stream, the webhook feed) takes, so it never steps over an entry for good.
    pub async fn audit_feed(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let entries = self.audit_entries(&AuditQuery { after: Some(after), limit, ..AuditQuery::default() }).await?;
        Ok(settled(entries, after, now_millis()))
    }
}

/// `entries` (after `after`, in id order) up to the first gap whose next entry was written
/// less than [`AUDIT_GAP_WAIT`] before `now`.
fn settled(entries: Vec<AuditEntry>, after: i64, now: i64) -> Vec<AuditEntry> {
    let wait = i64::try_from(AUDIT_GAP_WAIT.as_millis()).unwrap_or(i64::MAX);
    let mut expected = after + 1;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.id != expected && now.saturating_sub(entry.at) < wait {
            break;
        }
        expected = entry.id + 1;
        out.push(entry);
    }
    out
}

impl AuditEntry {
    /// Who, as a person reads it: the API key's name and id, or `warden` (no id) for
    /// Warden's own moves.
    pub fn actor_name(&self) -> (&str, Option<i64>) {
        match self.actor.strip_prefix("api-key:").and_then(|rest| rest.split_once(':')) {
            Some((id, name)) => (name, id.parse().ok()),
            None => (&self.actor, None),
        }
    }
}

/// Passes `id` on as the latest audit entry, unless a later one is known already.
pub(crate) fn note_audit_id(latest: &tokio::sync::watch::Sender<i64>, id: i64) {
    latest.send_if_modified(|known| {
        let newer = id > *known;
        *known = (*known).max(id);
        newer
    });
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this integration's.
    pub integration_id: Option<IntegrationId>,
    /// Only those at or after this time (Unix milliseconds).
    pub since_millis: Option<i64>,
    /// Only those after this entry id.
    pub after: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// One audit entry: who did what to which integration, and its redacted states.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Its id (increasing).
    pub id: i64,
    /// When, Unix milliseconds.
    pub at: i64,
    /// Who: `api-key:<id>:<name>` or `warden`.
    pub actor: String,
    /// What (`integration.create`, `integration.update.dryRun`, ...).
    pub action: String,
    /// Which integration, if one.
    pub integration_id: Option<IntegrationId>,
    /// The redacted state before, as JSON text.
    pub before: Option<String>,
    /// The redacted state after (or asked for), as JSON text.
    pub after: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, at: i64) -> AuditEntry {
        AuditEntry {
            id,
            at,
            actor: "warden".into(),
            action: "a".into(),
            integration_id: None,
            before: None,
            after: None,
        }
    }

    fn ids(entries: &[AuditEntry]) -> Vec<i64> {
        entries.iter().map(|e| e.id).collect()
    }

    #[test]
    fn a_reader_waits_on_a_fresh_gap_and_steps_over_an_old_one() {
        let now = 100_000;
        // 3 is not visible yet and 4 was written just now: wait before the gap.
        assert_eq!(ids(&settled(vec![entry(1, now), entry(2, now), entry(4, now - 10)], 0, now)), [1, 2]);
        // Once 3 commits, everything.
        let all = vec![entry(1, now), entry(2, now), entry(3, now), entry(4, now)];
        assert_eq!(ids(&settled(all, 0, now)), [1, 2, 3, 4]);
        // A gap older than the wait is final (an insert that rolled back).
        assert_eq!(ids(&settled(vec![entry(5, now - 3000), entry(7, now - 2500)], 4, now)), [5, 7]);
        // The first entry after the cursor may itself follow a gap.
        assert_eq!(ids(&settled(vec![entry(9, now - 1)], 7, now)), Vec::<i64>::new());
    }
}
