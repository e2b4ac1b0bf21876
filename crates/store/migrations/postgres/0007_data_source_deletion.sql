-- A data source's first DELETE marks it deleted (it still answers, in that state); the
-- second removes it (API.md section 7). Deleting an integration marks its data sources too.
ALTER TABLE data_sources ADD COLUMN deleted_at BIGINT;
