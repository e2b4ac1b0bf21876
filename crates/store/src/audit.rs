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
            "INSERT INTO audit_log (at, actor, action, integration_id, before_state, after_state) VALUES ($1, $2, $3, $4, $5, $6)",
        );
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(now_millis())
                .bind(actor)
                .bind(action)
                .bind(integration_id.map(db_id))
                .bind(before.map(ToString::to_string))
                .bind(after.map(ToString::to_string))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
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
}
