//! The integrations aggregate: insert, read (whole, or as shown without decrypting), list,
//! find by host, update under an optimistic version, and the latest validation results.

use super::*;
use read_cache::Refresh;

impl Store {
    /// Stores a new integration in `status` and returns it.
    /// Fails with [`StoreError::HostTaken`] when another integration of the type is in use
    /// on the spec's [host](IntegrationSpec::host).
    pub async fn insert_integration(
        &self,
        spec: &IntegrationSpec,
        status: Status,
    ) -> Result<StoredIntegration, StoreError> {
        let host = spec.host();
        let config = spec.redacted().to_string();
        let sealed = self.seal(&spec.secrets())?;
        let now = now_millis();
        let sql = self.sql(&format!(
            "INSERT INTO integrations (integration_type, host, status, status_message, config, secrets, version, created_at, updated_at, config_version) \
             VALUES ($1, $2, $3, NULL, $4, $5, 1, $6, $6, $7) RETURNING {INTEGRATION_COLUMNS}"
        ));
        let raw = on_pool!(self, pool => {
            let row = sqlx::query(sql)
                .bind(spec.integration_type().wire_name())
                .bind(&host)
                .bind(status.as_str())
                .bind(&config)
                .bind(&sealed)
                .bind(now)
                .bind(CONFIG_VERSION)
                .fetch_one(pool)
                .await
                .map_err(host_taken_or)?;
            raw_integration!(row)
        });
        if let Ok(id) = u64::try_from(raw.id) {
            self.cache.changed(id);
        }
        self.integration(raw)
    }

    /// One integration, whatever its status.
    pub async fn get_integration(&self, id: IntegrationId) -> Result<Option<StoredIntegration>, StoreError> {
        let sql = self.sql(&format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = $1"));
        let raw = on_pool!(self, pool => {
            match sqlx::query(sql).bind(db_id(id)).fetch_optional(pool).await? {
                Some(row) => Some(raw_integration!(row)),
                None => None,
            }
        });
        raw.map(|r| self.integration(r)).transpose()
    }

    /// Every integration, oldest first; `deleted` ones only when asked for.
    pub async fn list_integrations(&self, include_deleted: bool) -> Result<Vec<StoredIntegration>, StoreError> {
        let filter = if include_deleted { "" } else { "WHERE status <> 'deleted'" };
        let sql = self.sql(&format!("SELECT {INTEGRATION_COLUMNS} FROM integrations {filter} ORDER BY id"));
        self.fetch_integrations(sql, &[]).await
    }

    /// The integrations `query` asks for as shown, oldest first, from the read cache when it
    /// is on. No secret is decrypted.
    pub async fn list_shown(&self, query: &ListQuery) -> Result<Vec<Arc<Shown>>, StoreError> {
        match self.snapshot().await? {
            Some(snapshot) => Ok(read_cache::select(&snapshot, query)),
            None => Ok(self.read_summaries(query).await?.into_iter().map(Shown::new).collect()),
        }
    }

    /// One integration as shown, whatever its status, from the read cache when it is on. No
    /// secret is decrypted.
    pub async fn shown(&self, id: IntegrationId) -> Result<Option<Arc<Shown>>, StoreError> {
        match self.snapshot().await? {
            Some(snapshot) => Ok(snapshot.get(&id.get()).cloned()),
            None => Ok(self.read_summary(id).await?.map(Shown::new)),
        }
    }

    /// Whether reads are answered from the read cache now (on SQLite always; on PostgreSQL
    /// while its change notifications arrive).
    pub fn read_cache_on(&self) -> bool {
        self.cache.enabled()
    }

    /// The read cache's snapshot brought up to date (one refresh at a time), or `None` when
    /// reads must go to the database (the cache is off, or was reset during the refresh).
    async fn snapshot(&self) -> Result<Option<Arc<read_cache::Snapshot>>, StoreError> {
        if let Some(current) = self.cache.current() {
            return Ok(Some(current));
        }
        if !self.cache.enabled() {
            return Ok(None);
        }
        let _turn = self.cache.refresh_turn().await;
        match self.cache.plan() {
            None => Ok(None),
            Some(Refresh::Current(snapshot)) => Ok(Some(snapshot)),
            Some(Refresh::Everything { generation }) => {
                let every = ListQuery { include_deleted: true, ..ListQuery::default() };
                let rows = self.read_summaries(&every).await?;
                Ok(self.cache.install(generation, rows.into_iter().map(Shown::new).collect()))
            }
            Some(Refresh::Rows { generation, ids }) => {
                let mut rows = Vec::with_capacity(ids.len());
                for &id in &ids {
                    let Some(id) = IntegrationId::new(id) else { continue };
                    match self.read_summary(id).await {
                        Ok(row) => rows.extend(row.map(Shown::new)),
                        Err(error) => {
                            self.cache.refresh_failed(&ids);
                            return Err(error);
                        }
                    }
                }
                Ok(self.cache.patch(generation, &ids, rows))
            }
        }
    }

    /// The integrations `query` asks for as shown, read from the database.
    async fn read_summaries(&self, query: &ListQuery) -> Result<Vec<IntegrationSummary>, StoreError> {
        // Every value is bound as text (the id cast back), so one loop binds them all.
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        let mut bind = |condition: &str, value: String| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("${}", values.len())));
        };
        if let Some(integration_type) = query.integration_type {
            bind("integration_type = ?", integration_type.wire_name().to_owned());
        }
        match query.status {
            Some(status) => bind("status = ?", status.as_str().to_owned()),
            None if !query.include_deleted => bind("status <> ?", Status::Deleted.as_str().to_owned()),
            None => {}
        }
        if let Some(after) = query.after {
            bind("id > CAST(? AS BIGINT)", after.get().to_string());
        }
        let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let limit = query.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let sql = self.sql(&format!("SELECT {SUMMARY_COLUMNS} FROM integrations {filter} ORDER BY id{limit}"));
        let raws = on_pool!(self, pool => {
            let mut select = sqlx::query(sql);
            for value in &values {
                select = select.bind(value.as_str());
            }
            let rows = select.fetch_all(pool).await?;
            let mut raws = Vec::with_capacity(rows.len());
            for row in rows {
                raws.push(raw_summary!(row));
            }
            raws
        });
        raws.into_iter().map(summary).collect()
    }

    /// One integration as shown, read from the database.
    async fn read_summary(&self, id: IntegrationId) -> Result<Option<IntegrationSummary>, StoreError> {
        let sql = self.sql(&format!("SELECT {SUMMARY_COLUMNS} FROM integrations WHERE id = $1"));
        let raw = on_pool!(self, pool => {
            match sqlx::query(sql).bind(db_id(id)).fetch_optional(pool).await? {
                Some(row) => Some(raw_summary!(row)),
                None => None,
            }
        });
        raw.map(summary).transpose()
    }

    /// Runs a query that selects [`INTEGRATION_COLUMNS`] with text parameters, and reads
    /// every row back.
    async fn fetch_integrations(
        &self,
        sql: AssertSqlSafe<String>,
        params: &[&str],
    ) -> Result<Vec<StoredIntegration>, StoreError> {
        let raws = on_pool!(self, pool => {
            let mut query = sqlx::query(sql);
            for param in params {
                query = query.bind(*param);
            }
            let rows = query.fetch_all(pool).await?;
            let mut raws = Vec::with_capacity(rows.len());
            for row in rows {
                raws.push(raw_integration!(row));
            }
            raws
        });
        raws.into_iter().map(|r| self.integration(r)).collect()
    }

    /// The integrations of `integration_type` on `host` still in use, by id and status (what
    /// the host guard reads before a create or an edit), from the read cache when it is on.
    /// Nothing is decrypted. The database's unique index has the last word on a race.
    pub async fn in_use_on_host(
        &self,
        integration_type: IntegrationType,
        host: &str,
    ) -> Result<Vec<(IntegrationId, Status)>, StoreError> {
        if let Some(snapshot) = self.snapshot().await? {
            return Ok(snapshot
                .values()
                .map(|shown| &shown.summary)
                .filter(|s| s.integration_type == integration_type && s.host == host && !s.status.is_not_in_use())
                .map(|s| (s.id, s.status))
                .collect());
        }
        let sql = self.sql(&format!(
            "SELECT id, status FROM integrations \
             WHERE integration_type = $1 AND host = $2 AND status NOT IN {NOT_IN_USE} ORDER BY id"
        ));
        let raws: Vec<(i64, String)> = on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(integration_type.wire_name()).bind(host).fetch_all(pool).await?;
            let mut raws = Vec::with_capacity(rows.len());
            for row in rows {
                raws.push((row.try_get("id")?, row.try_get("status")?));
            }
            raws
        });
        raws.into_iter()
            .map(|(id, status)| {
                let id = id_from(id)?;
                let status = Status::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("integration {id}: status {status}")))?;
                Ok((id, status))
            })
            .collect()
    }

    /// Integrations of `integration_type` still in use, oldest first (what the adapters'
    /// registry shows).
    pub async fn integrations_in_use(
        &self,
        integration_type: IntegrationType,
    ) -> Result<Vec<StoredIntegration>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations \
             WHERE integration_type = $1 AND status NOT IN {NOT_IN_USE} ORDER BY id"
        ));
        self.fetch_integrations(sql, &[integration_type.wire_name()]).await
    }

    /// Integrations of `integration_type` in use whose platform objects are older than
    /// `version` (what a newer adapter migrates), oldest first. Every other row is left
    /// unread, so a start with nothing to migrate decrypts nothing.
    pub async fn integrations_with_objects_below(
        &self,
        integration_type: IntegrationType,
        version: u32,
    ) -> Result<Vec<StoredIntegration>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations \
             WHERE integration_type = $1 AND objects_version < $2 AND status NOT IN {NOT_IN_USE} ORDER BY id"
        ));
        let raws = on_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .bind(integration_type.wire_name())
                .bind(i64::from(version))
                .fetch_all(pool)
                .await?;
            let mut raws = Vec::with_capacity(rows.len());
            for row in rows {
                raws.push(raw_integration!(row));
            }
            raws
        });
        raws.into_iter().map(|r| self.integration(r)).collect()
    }

    /// Records what the adapter's last change returned about the platform (`None` clears
    /// it). Like the validation results it does not bump the version: it is written by the
    /// job that owns the integration's transitional status, and no one else writes it.
    pub async fn set_platform_state(
        &self,
        id: IntegrationId,
        state: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let sql = self.sql("UPDATE integrations SET platform_state = $1 WHERE id = $2");
        let text = state.map(serde_json::Value::to_string);
        on_pool!(self, pool => sqlx::query(sql).bind(text.as_deref()).bind(db_id(id)).execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Records the version of what the adapter created on the platform for it (after a
    /// setup, an edit or a migration). Not a change to the integration: no version bump.
    pub async fn set_objects_version(&self, id: IntegrationId, version: u32) -> Result<(), StoreError> {
        let sql = self.sql("UPDATE integrations SET objects_version = $1 WHERE id = $2");
        on_pool!(self, pool => sqlx::query(sql).bind(i64::from(version)).bind(db_id(id)).execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Changes an integration's status (and, with `spec`, its config) if it is still at
    /// `expected_version`; otherwise [`StoreError::VersionConflict`] ([`StoreError::HostTaken`]
    /// when the new config or status would put two integrations in use on one host). Two concurrent writers
    /// that read the same version cannot both win.
    pub async fn update_integration(
        &self,
        id: IntegrationId,
        expected_version: i64,
        status: Status,
        status_message: Option<&str>,
        spec: Option<&IntegrationSpec>,
    ) -> Result<StoredIntegration, StoreError> {
        let now = now_millis();
        let (config, sealed, host) = match spec {
            Some(spec) => (Some(spec.redacted().to_string()), Some(self.seal(&spec.secrets())?), Some(spec.host())),
            None => (None, None, None),
        };
        let sql = self.sql(&format!(
            "UPDATE integrations SET status = $1, status_message = $2, config = COALESCE($3, config), \
             secrets = COALESCE($4, secrets), host = COALESCE($8, host), version = version + 1, updated_at = $5, \
             config_version = CASE WHEN $3 IS NULL THEN config_version ELSE $9 END \
             WHERE id = $6 AND version = $7 RETURNING {INTEGRATION_COLUMNS}"
        ));
        let raw = on_pool!(self, pool => {
            match sqlx::query(sql)
                .bind(status.as_str())
                .bind(status_message)
                .bind(config.as_deref())
                .bind(sealed.as_deref())
                .bind(now)
                .bind(db_id(id))
                .bind(expected_version)
                .bind(host.as_deref())
                .bind(CONFIG_VERSION)
                .fetch_optional(pool)
                .await
                .map_err(host_taken_or)?
            {
                Some(row) => Some(raw_integration!(row)),
                None => None,
            }
        });
        // Marked once the write is done, won or not (a mark only makes the next read re-read).
        self.cache.changed(id.get());
        match raw {
            Some(raw) => self.integration(raw),
            None if self.integration_exists(id).await? => Err(StoreError::VersionConflict { id }),
            None => Err(StoreError::NotFound { id }),
        }
    }

    /// Records the latest validation run of an integration (shown as `validationResults`).
    /// It does not bump the version: it is a report on the integration, not a change to it.
    pub async fn record_validation(&self, id: IntegrationId, results: &serde_json::Value) -> Result<(), StoreError> {
        let sql = self.sql("UPDATE integrations SET validation_results = $1 WHERE id = $2");
        let text = results.to_string();
        on_pool!(self, pool => sqlx::query(sql).bind(&text).bind(db_id(id)).execute(pool).await.map(drop)?);
        self.cache.changed(id.get());
        Ok(())
    }

    /// Whether a row with this id exists, without reading (or decrypting) it.
    async fn integration_exists(&self, id: IntegrationId) -> Result<bool, StoreError> {
        let sql = self.sql("SELECT COUNT(*) AS n FROM integrations WHERE id = $1");
        let n: i64 = on_pool!(self, pool => sqlx::query(sql).bind(db_id(id)).fetch_one(pool).await?.try_get("n")?);
        Ok(n > 0)
    }
}
