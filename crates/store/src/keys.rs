//! The API keys aggregate: create or import a key (stored as its SHA-256), find it,
//! revoke an integration's keys, count administration keys.

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
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::MasterKey(format!("no randomness: {e}")))?;
        let key = format!("wdn_{}", warden_model::hex::encode(&bytes));
        let api_key = self.insert_api_key(name, permissions, integration_id, &key).await?;
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
        self.insert_api_key(name, permissions, None, key.expose()).await
    }

    async fn insert_api_key(
        &self,
        name: &str,
        permissions: &[Permission],
        integration_id: Option<IntegrationId>,
        key: &str,
    ) -> Result<Option<ApiKey>, StoreError> {
        let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        let sql = self.sql(
            "INSERT INTO api_keys (name, key_hash, permissions, integration_id, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (key_hash) DO NOTHING RETURNING id",
        );
        let id: Option<i64> = on_pool!(self, pool => {
            match sqlx::query(sql)
                .bind(name)
                .bind(key_hash(key))
                .bind(names.join(","))
                .bind(integration_id.map(db_id))
                .bind(now_millis())
                .fetch_optional(pool)
                .await?
            {
                Some(row) => Some(row.try_get("id")?),
                None => None,
            }
        });
        Ok(id.map(|id| ApiKey { id, name: name.to_owned(), permissions: permissions.to_vec(), integration_id }))
    }

    /// The unrevoked key whose value is `key`, if any.
    pub async fn find_api_key(&self, key: &str) -> Result<Option<ApiKey>, StoreError> {
        let sql = self.sql(
            "SELECT id, name, permissions, integration_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        );
        let raw: Option<(i64, String, String, Option<i64>)> = on_pool!(self, pool => {
            match sqlx::query(sql).bind(key_hash(key)).fetch_optional(pool).await? {
                Some(row) => Some((row.try_get("id")?, row.try_get("name")?, row.try_get("permissions")?, row.try_get("integration_id")?)),
                None => None,
            }
        });
        raw.map(|(id, name, permissions, integration_id)| {
            let permissions = permissions.split(',').filter(|p| !p.is_empty()).filter_map(Permission::parse).collect();
            Ok(ApiKey { id, name, permissions, integration_id: integration_id.map(id_from).transpose()? })
        })
        .transpose()
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
        Ok(on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(now_millis())
                .bind(db_id(integration_id))
                .bind(keep.unwrap_or(-1))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// How many unrevoked administration keys exist, not counting the keys of Trino
    /// integrations (the server creates the first admin key when there are none).
    pub async fn count_admin_keys(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL AND integration_id IS NULL";
        Ok(on_pool!(self, pool => sqlx::query(sql).fetch_one(pool).await?.try_get("n")?))
    }
}
