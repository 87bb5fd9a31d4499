-- Platform kernel: tenants (bases), their organisation trees, accounts,
-- sessions, the audit chain and the working-day calendar.
--
-- Portable SQL for SQLite and PostgreSQL: TEXT and BIGINT only; booleans are
-- BIGINT 0/1 with a CHECK; instants are ISO-8601 UTC text ('...Z', fixed
-- width, so they sort as text); ids are UUIDv7 text (time-ordered, made by
-- the application so no backend-specific sequence is needed).

-- A 双创 demonstration base: a tenant. Every row that belongs to a base
-- carries base_id, and every query on such a table is scoped by it.
CREATE TABLE bases (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,          -- short stable code used in URLs, e.g. R01
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('region', 'university', 'enterprise')),
    province    TEXT,
    city        TEXT,
    region_code TEXT,                          -- GB/T 2260
    seed_lines  TEXT,                          -- "from-to" lines of the seed report it comes from
    synthetic   BIGINT NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    created_at  TEXT NOT NULL
);

-- Organisation tree of a base: province → city → district → park → station.
-- Cases (tickets, applications) route along it in later modules.
CREATE TABLE org_units (
    id          TEXT PRIMARY KEY,
    base_id     TEXT NOT NULL REFERENCES bases (id),
    parent_id   TEXT REFERENCES org_units (id),
    level       TEXT NOT NULL CHECK (level IN ('province', 'city', 'district', 'park', 'station')),
    name        TEXT NOT NULL,
    region_code TEXT,
    position    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX org_units_base ON org_units (base_id, parent_id);

-- Figures a base reports, each traceable to the line of the seed it came from.
CREATE TABLE base_indicators (
    id        TEXT PRIMARY KEY,
    base_id   TEXT NOT NULL REFERENCES bases (id),
    key       TEXT NOT NULL,
    name      TEXT NOT NULL,
    value     TEXT NOT NULL,                   -- decimal as written; never a float
    unit      TEXT NOT NULL,
    period    TEXT NOT NULL,
    source_line BIGINT,
    quote     TEXT,
    position  BIGINT NOT NULL
);
CREATE INDEX base_indicators_base ON base_indicators (base_id, position);

-- Accounts. A person logs in once and may belong to several bases with a role
-- in each (memberships). Platform administrators are not tied to a base.
CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    username         TEXT NOT NULL UNIQUE,
    display_name     TEXT NOT NULL,
    password_hash    TEXT NOT NULL,            -- argon2id PHC string
    platform_admin   BIGINT NOT NULL DEFAULT 0 CHECK (platform_admin IN (0, 1)),
    phone_enc        TEXT,                     -- SM4-GCM ciphertext (PIPL)
    failed_logins    BIGINT NOT NULL DEFAULT 0,
    locked_until     TEXT,
    password_changed_at TEXT NOT NULL,
    disabled         BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at       TEXT NOT NULL
);

CREATE TABLE memberships (
    user_id   TEXT NOT NULL REFERENCES users (id),
    base_id   TEXT NOT NULL REFERENCES bases (id),
    role      TEXT NOT NULL CHECK (role IN ('enterprise', 'team', 'provider', 'steward',
                                            'expert', 'investor', 'base_admin')),
    -- the registry record this account acts for (an enterprise, a provider…)
    subject_id TEXT,
    org_unit_id TEXT REFERENCES org_units (id),
    PRIMARY KEY (user_id, base_id)
);
CREATE INDEX memberships_base ON memberships (base_id);

-- Server-side sessions. The cookie holds a random token; only its SM3 digest
-- is stored, so a copy of the database cannot be replayed as a login.
CREATE TABLE sessions (
    token_digest TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Bearer tokens for API clients, stored as digests like sessions.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    token_digest TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked      BIGINT NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);

-- Login throttling per client address, kept in the database so that every
-- process behind a load balancer sees the same counts.
CREATE TABLE login_throttle (
    client       TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    attempts     BIGINT NOT NULL
);

-- Audit chain. One chain per base (chain = base id) plus the platform chain
-- (chain = 'platform'). Each entry's hash is HMAC-SM3 over the previous hash
-- and the entry's content; audit_heads holds the last seq and hash of each
-- chain and is the row every appender locks, which serialises appends across
-- processes and lets `audit verify` notice a deleted tail.
CREATE TABLE audit_heads (
    chain     TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL
);

CREATE TABLE audit_log (
    chain       TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          TEXT NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT,
    before_json TEXT,
    after_json  TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);

-- Holiday arrangements added by an administrator after release (the shipped
-- years live in data/holidays and are compiled in).
CREATE TABLE calendar_years (
    year        BIGINT PRIMARY KEY,
    schedule    TEXT NOT NULL,                 -- JSON, validated on the way in
    created_at  TEXT NOT NULL
);
