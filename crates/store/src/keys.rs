//! The API keys aggregate: create or import a key (stored as its SHA-256), find it (unless
//! revoked or expired), list and revoke keys, revoke an integration's keys, count
//! administration keys. Every revocation is made known at once (`api_keys_changed`): in this
//! process as it happens, in the others on PostgreSQL through `warden_api_keys_changed`.

use super::*;

impl Store {
    /// Creates an API key and returns it; only its hash is stored, so this is the one time
    /// the key can be read.
    pub async fn create_api_key(
        &self,
        name: &str,
        permissions: &[Permission],
        integration_id: Option<IntegrationId>,
    ) -> Result<(ApiKey, Secret<String>), StoreError> {
        self.create_expiring_api_key(name, permissions, integration_id, None).await
    }

    /// Creates an API key that stops working at `expires_at` (Unix milliseconds), when given.
    pub async fn create_expiring_api_key(
        &self,
        name: &str,
        permissions: &[Permission],
        integration_id: Option<IntegrationId>,
        expires_at: Option<i64>,
    ) -> Result<(ApiKey, Secret<String>), StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::MasterKey(format!("no randomness: {e}")))?;
        let key = format!("wdn_{}", warden_model::hex::encode(&bytes));
        let api_key = self.insert_api_key(name, permissions, integration_id, &key, expires_at).await?;
        let api_key = api_key.ok_or_else(|| StoreError::Corrupt("a fresh random API key already exists".into()))?;
        Ok((api_key, Secret::new(key)))
    }

    /// Stores a key chosen by the operator (`WARDEN_ADMIN_API_KEY`). Returns `None` when that
    /// key is already stored (two processes starting at once both import it).
    pub async fn import_api_key(
        &self,
        name: &str,
        permissions: &[Permission],
        key: &Secret<String>,
    ) -> Result<Option<ApiKey>, StoreError> {
        self.insert_api_key(name, permissions, None, key.expose(), None).await
    }

    async fn insert_api_key(
        &self,
        name: &str,
        permissions: &[Permission],
        integration_id: Option<IntegrationId>,
        key: &str,
        expires_at: Option<i64>,
    ) -> Result<Option<ApiKey>, StoreError> {
        let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        let sql = self.sql(
            "INSERT INTO api_keys (name, key_hash, permissions, integration_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (key_hash) DO NOTHING RETURNING id",
        );
        let id: Option<i64> = on_pool!(self, pool => {
            match sqlx::query(sql)
                .bind(name)
                .bind(key_hash(key))
                .bind(names.join(","))
                .bind(integration_id.map(db_id))
                .bind(now_millis())
                .bind(expires_at)
                .fetch_optional(pool)
                .await?
            {
                Some(row) => Some(row.try_get("id")?),
                None => None,
            }
        });
        Ok(id.map(|id| ApiKey {
            id,
            name: name.to_owned(),
            permissions: permissions.to_vec(),
            integration_id,
            expires_at,
        }))
    }

    /// The key whose value is `key`, if it is neither revoked nor expired.
    pub async fn find_api_key(&self, key: &str) -> Result<Option<ApiKey>, StoreError> {
        let sql = self.sql(
            "SELECT id, name, permissions, integration_id, expires_at FROM api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        );
        // Id, name, permissions, integration, expiry.
        type RawKey = (i64, String, String, Option<i64>, Option<i64>);
        let raw: Option<RawKey> = on_pool!(self, pool => {
            match sqlx::query(sql).bind(key_hash(key)).bind(now_millis()).fetch_optional(pool).await? {
                Some(row) => Some((row.try_get("id")?, row.try_get("name")?, row.try_get("permissions")?, row.try_get("integration_id")?, row.try_get("expires_at")?)),
                None => None,
            }
        });
        raw.map(|(id, name, permissions, integration_id, expires_at)| {
            let permissions = permissions.split(',').filter(|p| !p.is_empty()).filter_map(Permission::parse).collect();
            Ok(ApiKey { id, name, permissions, integration_id: integration_id.map(id_from).transpose()?, expires_at })
        })
        .transpose()
    }

    /// Every key but the integrations' own (Trino's), oldest first, without their values
    /// (the store never has them).
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql = "SELECT id, name, permissions, created_at, expires_at, revoked_at FROM api_keys \
                   WHERE integration_id IS NULL ORDER BY id";
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let permissions: String = row.try_get("permissions")?;
                out.push(ApiKeyRecord {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    permissions: permissions.split(',').filter_map(Permission::parse).collect(),
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                });
            }
            out
        }))
    }

    /// Revokes the key `id` (not an integration's own). Returns whether it was in force.
    pub async fn revoke_api_key(&self, id: i64) -> Result<bool, StoreError> {
        let sql = self
            .sql("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND integration_id IS NULL AND revoked_at IS NULL");
        let revoked =
            on_pool!(self, pool => sqlx::query(sql).bind(now_millis()).bind(id).execute(pool).await?.rows_affected());
        self.api_keys_changed.send_modify(|generation| *generation += 1);
        Ok(revoked == 1)
    }

    /// Moves whenever a key is revoked: by this process at once, by another on PostgreSQL
    /// when its notification arrives. Whoever remembers keys forgets them when it moves.
    pub fn api_keys_changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.api_keys_changed.subscribe()
    }

    /// The current generation of [`Store::api_keys_changed`].
    pub fn api_keys_generation(&self) -> u64 {
        *self.api_keys_changed.borrow()
    }

    /// Revokes every key of an integration but `keep` (Trino key rotation creates the new
    /// key first, so a failure in between never leaves the integration without one).
    /// Returns how many were revoked.
    pub async fn revoke_integration_keys(
        &self,
        integration_id: IntegrationId,
        keep: Option<i64>,
    ) -> Result<u64, StoreError> {
        let sql = self
            .sql("UPDATE api_keys SET revoked_at = $1 WHERE integration_id = $2 AND revoked_at IS NULL AND id <> $3");
        let revoked = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(now_millis())
                .bind(db_id(integration_id))
                .bind(keep.unwrap_or(-1))
                .execute(pool)
                .await?
                .rows_affected()
        });
        self.api_keys_changed.send_modify(|generation| *generation += 1);
        Ok(revoked)
    }

    /// How many administration keys are in force (neither revoked nor expired), not counting
    /// the keys of Trino integrations (the server creates the first admin key when there are none).
    pub async fn count_admin_keys(&self) -> Result<i64, StoreError> {
        let sql = self.sql(
            "SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL AND integration_id IS NULL \
             AND (expires_at IS NULL OR expires_at > $1)",
        );
        Ok(on_pool!(self, pool => sqlx::query(sql).bind(now_millis()).fetch_one(pool).await?.try_get("n")?))
    }
}
