-- Registry imports (批量导入企业): one row per uploaded file, written when the
-- upload is accepted and updated by the background job as it validates, so
-- that the page can show progress; at the end it holds the outcome (imported
-- or rejected with its errors) and is the import history (who, when, which
-- file, how many rows). The enterprises themselves are written in one
-- transaction together with the final update of this row.
CREATE TABLE registry_imports (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    kind          TEXT NOT NULL CHECK (kind IN ('enterprises')),
    filename      TEXT NOT NULL,
    format        TEXT NOT NULL CHECK (format IN ('csv', 'xlsx')),
    status        TEXT NOT NULL CHECK (status IN ('queued', 'validating', 'importing', 'imported', 'rejected', 'failed')),
    rows_total    BIGINT NOT NULL DEFAULT 0,
    rows_checked  BIGINT NOT NULL DEFAULT 0,
    rows_imported BIGINT NOT NULL DEFAULT 0,
    error_count   BIGINT NOT NULL DEFAULT 0,
    errors_json   TEXT NOT NULL DEFAULT '[]',    -- the first 1,000 errors: [{row, column, code, message}]
    actor_id      TEXT,
    actor_name    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,                 -- last progress; a running job silent for 15 minutes is shown as interrupted
    finished_at   TEXT
);
CREATE INDEX registry_imports_base ON registry_imports (base_id, created_at);
CREATE INDEX registry_imports_finished ON registry_imports (base_id, status, finished_at);

-- Indexes for the indicators computed from live data (issue 6): each
-- dashboard figure is one range scan by base and time. The enterprise index
-- covers the registered capital, so the stock figures are read from the
-- index alone (100,000 firms: see bench/RESULTS.md).
CREATE INDEX enterprises_base_created_capital ON enterprises (base_id, created_at, registered_capital_fen);
CREATE INDEX voucher_claims_base_created ON voucher_claims (base_id, created_at);
CREATE INDEX application_events_base_state_at ON application_events (base_id, to_state, at);
CREATE INDEX tickets_base_created ON tickets (base_id, created_at);
CREATE INDEX tickets_base_resolved ON tickets (base_id, resolved_at);
CREATE INDEX redemptions_base_resolved ON redemptions (base_id, state, resolved_at);
