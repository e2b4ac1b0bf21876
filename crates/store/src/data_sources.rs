//! The data-sources aggregate (the API reference §7): data sources registered under an
//! integration, each with what its adapter returned. A name is unique within its
//! integration (the table's unique constraint decides a race).

use super::*;

/// A data source as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDataSource {
    /// Its id.
    pub id: i64,
    /// The integration it belongs to.
    pub integration_id: IntegrationId,
    /// Its name.
    pub name: String,
    /// Where its data lives (an S3 prefix).
    pub location: String,
    /// What the adapter returned when it registered it (JSON, never a secret).
    pub state: Option<serde_json::Value>,
    /// Whether it was deleted once (a second DELETE removes it).
    pub deleted: bool,
}

const DATA_SOURCE_COLUMNS: &str = "id, integration_id, name, location, state, deleted_at";

impl Store {
    /// Stores a registered data source. [`StoreError::NameTaken`] when its integration has
    /// one of that name already.
    pub async fn insert_data_source(
        &self,
        integration_id: IntegrationId,
        name: &str,
        location: &str,
        state: Option<&serde_json::Value>,
    ) -> Result<StoredDataSource, StoreError> {
        let sql = self.sql(&format!(
            "INSERT INTO data_sources (integration_id, name, location, state, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {DATA_SOURCE_COLUMNS}"
        ));
        let text = state.map(serde_json::Value::to_string);
        let raw = on_pool!(self, pool => {
            let row = sqlx::query(sql)
                .bind(db_id(integration_id))
                .bind(name)
                .bind(location)
                .bind(text.as_deref())
                .bind(now_millis())
                .fetch_one(pool)
                .await
                .map_err(|error| match error.as_database_error() {
                    Some(db) if db.is_unique_violation() => StoreError::NameTaken { name: name.to_owned() },
                    _ => StoreError::Database(error),
                })?;
            raw_data_source(&row)?
        });
        data_source(raw)
    }

    /// Records what the adapter returned for a data source, and returns it as stored.
    pub async fn set_data_source_state(
        &self,
        id: i64,
        state: &serde_json::Value,
    ) -> Result<StoredDataSource, StoreError> {
        let sql =
            self.sql(&format!("UPDATE data_sources SET state = $1 WHERE id = $2 RETURNING {DATA_SOURCE_COLUMNS}"));
        let text = state.to_string();
        let raw = on_pool!(self, pool => {
            let row = sqlx::query(sql).bind(&text).bind(id).fetch_one(pool).await?;
            raw_data_source(&row)?
        });
        data_source(raw)
    }

    /// One data source, if there is one with this id.
    pub async fn data_source(&self, id: i64) -> Result<Option<StoredDataSource>, StoreError> {
        let sql = self.sql(&format!("SELECT {DATA_SOURCE_COLUMNS} FROM data_sources WHERE id = $1"));
        let raw = on_pool!(self, pool => {
            match sqlx::query(sql).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(raw_data_source(&row)?),
                None => None,
            }
        });
        raw.map(data_source).transpose()
    }

    /// Marks data sources deleted: one (`Some(id)` of `integration`), or every one of
    /// `integration` not deleted yet (`None`). Answers how many it marked.
    pub async fn mark_data_sources_deleted(
        &self,
        integration_id: IntegrationId,
        id: Option<i64>,
    ) -> Result<u64, StoreError> {
        let sql = self.sql(
            "UPDATE data_sources SET deleted_at = $1 \
             WHERE integration_id = $2 AND deleted_at IS NULL AND ($3 IS NULL OR id = $3)",
        );
        let marked = on_pool!(self, pool => {
            sqlx::query(sql).bind(now_millis()).bind(db_id(integration_id)).bind(id).execute(pool).await?.rows_affected()
        });
        Ok(marked)
    }

    /// Forgets a data source (one whose registration on the platform failed).
    pub async fn delete_data_source(&self, id: i64) -> Result<(), StoreError> {
        let sql = self.sql("DELETE FROM data_sources WHERE id = $1");
        on_pool!(self, pool => sqlx::query(sql).bind(id).execute(pool).await.map(drop)?);
        Ok(())
    }

    /// The data sources of one integration, or of every integration of a type, oldest
    /// first.
    pub async fn data_sources(&self, of: DataSourcesOf) -> Result<Vec<StoredDataSource>, StoreError> {
        let filter = match of {
            DataSourcesOf::Integration(_) => "d.integration_id = $1",
            DataSourcesOf::Type(_) => "i.integration_type = $1",
        };
        let sql = self.sql(&format!(
            "SELECT d.id, d.integration_id, d.name, d.location, d.state, d.deleted_at FROM data_sources d \
             JOIN integrations i ON i.id = d.integration_id WHERE {filter} ORDER BY d.id"
        ));
        let raws = on_pool!(self, pool => {
            let query = match of {
                DataSourcesOf::Integration(id) => sqlx::query(sql).bind(db_id(id)),
                DataSourcesOf::Type(integration_type) => sqlx::query(sql).bind(integration_type.wire_name()),
            };
            let rows = query.fetch_all(pool).await?;
            let mut raws = Vec::with_capacity(rows.len());
            for row in &rows {
                raws.push(raw_data_source(row)?);
            }
            raws
        });
        raws.into_iter().map(data_source).collect()
    }
}

/// Whose data sources to read.
#[derive(Debug, Clone, Copy)]
pub enum DataSourcesOf {
    /// One integration's.
    Integration(IntegrationId),
    /// Those of every integration of a type.
    Type(IntegrationType),
}

type RawDataSource = (i64, i64, String, String, Option<String>, Option<i64>);

fn raw_data_source<R>(row: &R) -> Result<RawDataSource, sqlx::Error>
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok((
        row.try_get("id")?,
        row.try_get("integration_id")?,
        row.try_get("name")?,
        row.try_get("location")?,
        row.try_get("state")?,
        row.try_get("deleted_at")?,
    ))
}

fn data_source(raw: RawDataSource) -> Result<StoredDataSource, StoreError> {
    let (id, integration_id, name, location, state, deleted_at) = raw;
    let integration_id = id_from(integration_id)?;
    let state = state
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("data source {id}: state: {e}")))?;
    Ok(StoredDataSource { id, integration_id, name, location, state, deleted: deleted_at.is_some() })
}
