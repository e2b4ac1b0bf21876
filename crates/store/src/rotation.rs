//! Master-key rotation: every secret map sealed with a previous key (the integrations' and
//! the job inputs') sealed again with the current one. Each row is replaced only if it still
//! holds what was read, so a concurrent write (already sealed with the current key) wins, the
//! pass is safe while servers run, and a pass cut short leaves every row readable: running it
//! again finishes the work.

use super::*;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Sealed secret maps read.
    pub examined: u64,
    /// Of those, sealed again with the current key.
    pub resealed: u64,
}

impl Store {
    /// Seals again with the current key every secret map that a previous key sealed. A map
    /// that no key opens stops the pass with [`StoreError::WrongMasterKey`], naming nothing
    /// of its content.
    pub async fn reseal_secrets(&self) -> Result<ResealReport, StoreError> {
        let mut report = ResealReport::default();
        for (table, column, filter) in
            [("integrations", "secrets", ""), ("jobs", "input_secrets", " WHERE input_secrets IS NOT NULL")]
        {
            let select = AssertSqlSafe(format!("SELECT id, {column} AS sealed FROM {table}{filter} ORDER BY id"));
            let rows: Vec<(i64, Vec<u8>)> = on_pool!(self, pool => {
                let rows = sqlx::query(select).fetch_all(pool).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    out.push((row.try_get("id")?, row.try_get("sealed")?));
                }
                out
            });
            for (id, sealed) in rows {
                report.examined += 1;
                let (secrets, current) = self.unseal(&sealed).map_err(|error| match error {
                    StoreError::WrongMasterKey => {
                        StoreError::MasterKey(format!("{table} row {id}: no known master key opens its secrets"))
                    }
                    other => other,
                })?;
                if current {
                    continue;
                }
                let resealed = self.seal(&secrets)?;
                let update = self.sql(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2 AND {column} = $3"));
                let replaced = on_pool!(self, pool => {
                    sqlx::query(update).bind(resealed).bind(id).bind(sealed).execute(pool).await?.rows_affected()
                });
                // Not replaced: written meanwhile, so sealed with the current key already.
                report.resealed += replaced;
            }
        }
        Ok(report)
    }
}
