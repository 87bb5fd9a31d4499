-- Policy library ("rules as code"): policies with versioned rules, the facts
-- they are judged on (with source and time), and grants of 免申即享 policies
-- with the provenance needed to recompute them exactly.

CREATE TABLE policies (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    title         TEXT NOT NULL,
    issuer        TEXT NOT NULL,                -- 发文机关
    doc_number    TEXT NOT NULL DEFAULT '',     -- 文号
    full_text     TEXT NOT NULL DEFAULT '',
    documents     TEXT NOT NULL DEFAULT '',     -- 申请要件, one per line
    procedure     TEXT NOT NULL DEFAULT '',     -- 办理流程
    budget_fen    BIGINT NOT NULL DEFAULT 0 CHECK (budget_fen >= 0),
    no_application BIGINT NOT NULL DEFAULT 0 CHECK (no_application IN (0, 1)), -- 免申即享
    state         TEXT NOT NULL CHECK (state IN ('draft', 'published', 'withdrawn')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX policies_base ON policies (base_id, state);

-- Each edit of the rules is a new version; an answer is always given by the
-- version in force on its date.
CREATE TABLE policy_versions (
    id             TEXT PRIMARY KEY,
    base_id        TEXT NOT NULL REFERENCES bases (id),
    policy_id      TEXT NOT NULL REFERENCES policies (id),
    version        BIGINT NOT NULL,
    source         TEXT NOT NULL,               -- rules language
    policy_hash    TEXT NOT NULL,               -- SM3 of the normalised source and parameter values
    effective_from TEXT NOT NULL,               -- YYYY-MM-DD
    effective_to   TEXT,                        -- exclusive; NULL = open
    created_at     TEXT NOT NULL,
    UNIQUE (policy_id, version)
);

-- Facts about an enterprise that are not in the registry (revenue, tax paid,
-- credit grade…), each with where it came from and as of when.
CREATE TABLE enterprise_facts (
    base_id       TEXT NOT NULL REFERENCES bases (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    fact          TEXT NOT NULL,                -- canonical fact name
    value_json    TEXT NOT NULL,
    source        TEXT NOT NULL,                -- e.g. 企业填报, 税务数据, 模拟数据
    as_of         TEXT NOT NULL,                -- YYYY-MM-DD
    recorded_at   TEXT NOT NULL,
    PRIMARY KEY (enterprise_id, fact)
);
CREATE INDEX enterprise_facts_base ON enterprise_facts (base_id);

-- Grants decided by a policy (免申即享, or later by an approved application).
CREATE TABLE policy_grants (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    policy_id     TEXT NOT NULL REFERENCES policies (id),
    version_id    TEXT NOT NULL REFERENCES policy_versions (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    amount_fen    BIGINT NOT NULL CHECK (amount_fen >= 0),
    policy_hash   TEXT NOT NULL,
    params_json   TEXT NOT NULL,
    facts_json    TEXT NOT NULL,                -- the snapshot the answer used, with sources
    state         TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'cancelled')),
    created_at    TEXT NOT NULL,
    UNIQUE (version_id, enterprise_id)
);
