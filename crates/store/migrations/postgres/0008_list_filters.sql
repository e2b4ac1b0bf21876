-- GET /integrations filters by type and status and pages by id: one index serves both.
CREATE INDEX integrations_by_type_status ON integrations (integration_type, status, id);
