-- The latest validation run of an integration (JSON, no secrets), shown in every response
-- as validationResults (API.md section 1). NULL before any run.
ALTER TABLE integrations ADD COLUMN validation_results TEXT;
