//! The jobs aggregate: queue a job, claim it under a lease, renew and complete the lease,
//! and find the integrations a stopped process left in a transitional status.

use super::*;

impl Store {
    /// Queues a job for an integration, carrying `input` (sealed like an integration's
    /// secrets) when given.
    pub async fn enqueue_job(
        &self,
        integration_id: IntegrationId,
        kind: &str,
        input: Option<&IntegrationSpec>,
        owner: JobOwner<'_>,
    ) -> Result<i64, StoreError> {
        let now = now_millis();
        let (state, lease_owner, lease_expires_at, attempts) = match owner {
            JobOwner::Anyone => ("queued", None, None, 0_i64),
            JobOwner::Worker(worker, lease) => ("running", Some(worker), Some(deadline(now, lease)), 1),
        };
        let input_config = input.map(|spec| spec.redacted().to_string());
        let input_secrets = input.map(|spec| self.seal(&spec.secrets())).transpose()?;
        let sql = self.sql(
            "INSERT INTO jobs (integration_id, kind, state, lease_owner, lease_expires_at, attempts, created_at, input_config, input_secrets, input_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        );
        Ok(on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(db_id(integration_id))
                .bind(kind)
                .bind(state)
                .bind(lease_owner)
                .bind(lease_expires_at)
                .bind(attempts)
                .bind(now)
                .bind(input_config)
                .bind(input_secrets)
                .bind(CONFIG_VERSION)
                .fetch_one(pool)
                .await?
                .try_get("id")?
        }))
    }

    /// Extends `worker`'s lease on a running job. Returns whether it still held it.
    pub async fn renew_lease(&self, job_id: i64, worker: &str, lease: Duration) -> Result<bool, StoreError> {
        let sql =
            self.sql("UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'");
        let until = deadline(now_millis(), lease);
        let renewed = on_pool!(self, pool => {
            sqlx::query(sql).bind(until).bind(job_id).bind(worker).execute(pool).await?.rows_affected()
        });
        Ok(renewed == 1)
    }

    /// Expires every running job's lease, so the next claim takes them over. Only for a
    /// store that one process holds (SQLite under the data-directory lock): at its start,
    /// every running job belongs to a process that is gone.
    pub async fn expire_all_leases(&self) -> Result<u64, StoreError> {
        let sql = self.sql("UPDATE jobs SET lease_expires_at = 0 WHERE state = 'running'");
        Ok(on_pool!(self, pool => sqlx::query(sql).execute(pool).await?.rows_affected()))
    }

    /// Integrations in a transitional status that no queued or running job will finish (a
    /// process stopped between changing the status and queueing the job, or a job was
    /// completed without moving its integration on), and whose status is older than
    /// `settle_time`: a request moves the status a moment before it queues the job, and
    /// that moment must not count as stranded.
    pub async fn stranded_integrations(&self, settle_time: Duration) -> Result<Vec<StoredIntegration>, StoreError> {
        let before = now_millis().saturating_sub(i64::try_from(settle_time.as_millis()).unwrap_or(i64::MAX));
        let sql = self.sql(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations i \
             WHERE status IN {TRANSITIONAL} AND updated_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.integration_id = i.id AND j.state <> 'done') ORDER BY id"
        ));
        let raws = on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(before).fetch_all(pool).await?;
            let mut raws = Vec::with_capacity(rows.len());
            for row in rows {
                raws.push(raw_integration!(row));
            }
            raws
        });
        raws.into_iter().map(|r| self.integration(r)).collect()
    }

    /// Claims the oldest queued job, or a running one whose lease expired, for `worker` for
    /// `lease`. On PostgreSQL the row is locked with `FOR UPDATE SKIP LOCKED`, so two
    /// processes never claim the same job; SQLite has a single writer.
    pub async fn claim_job(&self, worker: &str, lease: Duration) -> Result<Option<Job>, StoreError> {
        let now = now_millis();
        let until = deadline(now, lease);
        let lock = match self.backend {
            Backend::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite(_) => "",
        };
        let sql = self.sql(&format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' OR (state = 'running' AND lease_expires_at < $3) \
                         ORDER BY id LIMIT 1 {lock}) \
             RETURNING id, integration_id, kind, attempts, input_config, input_secrets, input_version"
        ));
        type RawJob = (i64, i64, String, i64, Option<String>, Option<Vec<u8>>, i64);
        let raw: Option<RawJob> = on_pool!(self, pool => {
            match sqlx::query(sql).bind(worker).bind(until).bind(now).fetch_optional(pool).await? {
                Some(row) => Some((
                    row.try_get("id")?,
                    row.try_get("integration_id")?,
                    row.try_get("kind")?,
                    row.try_get("attempts")?,
                    row.try_get("input_config")?,
                    row.try_get("input_secrets")?,
                    row.try_get("input_version")?,
                )),
                None => None,
            }
        });
        let Some((id, integration_id, kind, attempts, input_config, input_secrets, input_version)) = raw else {
            return Ok(None);
        };
        let input = match (input_config, input_secrets) {
            (Some(config), Some(sealed)) => {
                Some(self.read_spec(&config, &sealed, input_version, &format!("job {id}"))?)
            }
            _ => None,
        };
        Ok(Some(Job { id, integration_id: id_from(integration_id)?, kind, attempts, input }))
    }

    /// Marks a job done, if `worker` still holds its lease. Returns whether it did.
    pub async fn complete_job(&self, job_id: i64, worker: &str) -> Result<bool, StoreError> {
        let sql = self.sql("UPDATE jobs SET state = 'done', lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2 AND state = 'running'");
        let done =
            on_pool!(self, pool => sqlx::query(sql).bind(job_id).bind(worker).execute(pool).await?.rows_affected());
        Ok(done == 1)
    }
}
