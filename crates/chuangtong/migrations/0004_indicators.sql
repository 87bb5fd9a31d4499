-- Indicators (指标): the catalogue of what a base measures, the values per
-- period, targets with responsible units, import history and the 双创指数.
--
-- Definitions are versioned: editing an indicator inserts a new version and
-- clears `is_current` on the old one; every stored value names the version it
-- was entered or computed with, so an old figure keeps its meaning.

CREATE TABLE indicator_definitions (
    id          TEXT PRIMARY KEY,
    base_id     TEXT NOT NULL REFERENCES bases (id),
    key         TEXT NOT NULL,                 -- stable key, shared with the seed's figures (e.g. new_enterprises)
    version     BIGINT NOT NULL CHECK (version >= 1),
    name        TEXT NOT NULL,
    unit        TEXT NOT NULL,
    period_kind TEXT NOT NULL CHECK (period_kind IN ('month', 'quarter', 'year')),
    kind        TEXT NOT NULL CHECK (kind IN ('computed', 'manual')),
    formula     TEXT,                          -- named formula of a computed indicator
    value_type  TEXT NOT NULL CHECK (value_type IN ('count', 'fen')),
    source      TEXT NOT NULL DEFAULT '',
    is_current  BIGINT NOT NULL DEFAULT 1 CHECK (is_current IN (0, 1)),
    position    BIGINT NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    UNIQUE (base_id, key, version),
    CHECK ((kind = 'computed') = (formula IS NOT NULL))
);
CREATE INDEX indicator_definitions_current ON indicator_definitions (base_id, is_current, position);

-- One value per base, key and period: 2026-05 (month), 2026-Q2 (quarter), 2026 (year).
-- `value` is a decimal string for counts and an integer of fen for money.
CREATE TABLE indicator_values (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    key           TEXT NOT NULL,
    period        TEXT NOT NULL,
    definition_id TEXT NOT NULL REFERENCES indicator_definitions (id),
    value         TEXT NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('manual', 'import', 'computed')),
    import_id     TEXT,
    updated_by    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (base_id, key, period)
);

CREATE TABLE indicator_targets (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    key           TEXT NOT NULL,
    period        TEXT NOT NULL,
    target        TEXT NOT NULL,               -- same encoding as indicator_values.value
    org_unit_id   TEXT REFERENCES org_units (id),
    responsible_person TEXT NOT NULL DEFAULT '',
    deadline      TEXT NOT NULL,               -- YYYY-MM-DD, Asia/Shanghai
    updated_at    TEXT NOT NULL,
    UNIQUE (base_id, key, period)
);

-- Every import attempt, accepted or rejected, with its errors (JSON).
CREATE TABLE indicator_imports (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    filename      TEXT NOT NULL,
    format        TEXT NOT NULL CHECK (format IN ('csv', 'xlsx')),
    status        TEXT NOT NULL CHECK (status IN ('imported', 'rejected')),
    rows_total    BIGINT NOT NULL,
    rows_imported BIGINT NOT NULL,
    errors_json   TEXT NOT NULL,
    actor_name    TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX indicator_imports_base ON indicator_imports (base_id, created_at);

-- 双创指数 per base and period, in basis points of 100 (0..10000), with the
-- inputs and normalised components it was computed from (JSON) so anyone can
-- recompute it by hand.
CREATE TABLE indicator_index_history (
    id             TEXT PRIMARY KEY,
    base_id        TEXT NOT NULL REFERENCES bases (id),
    period         TEXT NOT NULL,
    method_version BIGINT NOT NULL,
    score_bp       BIGINT NOT NULL CHECK (score_bp BETWEEN 0 AND 10000),
    components_json TEXT NOT NULL,
    computed_at    TEXT NOT NULL,
    UNIQUE (base_id, period, method_version)
);

-- New enterprises per period are counted by registration time.
CREATE INDEX enterprises_base_created ON enterprises (base_id, created_at);
