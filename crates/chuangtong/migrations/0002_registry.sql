-- The registry of a base: enterprises, teams, people and talents, carriers,
-- service providers, investors, experts and universities/institutes.
-- Every table carries base_id; synthetic = 1 marks generated demo rows.
-- Personal information (ID numbers, phones) is stored SM4-GCM encrypted
-- (*_enc) with a keyed SM3 digest (*_digest) for equality lookups.

CREATE TABLE enterprises (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    uscc          TEXT NOT NULL,               -- 统一社会信用代码, GB 32100-2015
    name          TEXT NOT NULL,
    region_code   TEXT NOT NULL,               -- GB/T 2260
    industry      TEXT NOT NULL,               -- GB/T 4754 section letter
    founded_on    TEXT NOT NULL,               -- YYYY-MM-DD
    registered_capital_fen BIGINT NOT NULL CHECK (registered_capital_fen >= 0),
    employees     BIGINT NOT NULL CHECK (employees >= 0),
    high_tech     BIGINT NOT NULL DEFAULT 0 CHECK (high_tech IN (0, 1)),
    org_unit_id   TEXT REFERENCES org_units (id),
    carrier_id    TEXT,
    address       TEXT NOT NULL DEFAULT '',
    contact_name  TEXT NOT NULL DEFAULT '',
    contact_phone_enc TEXT,
    synthetic     BIGINT NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (base_id, uscc)
);
CREATE INDEX enterprises_base_name ON enterprises (base_id, name);

CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    base_id     TEXT NOT NULL REFERENCES bases (id),
    name        TEXT NOT NULL,
    project     TEXT NOT NULL,
    leader_name TEXT NOT NULL,
    members     BIGINT NOT NULL CHECK (members > 0),
    carrier_id  TEXT,
    synthetic   BIGINT NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    created_at  TEXT NOT NULL
);
CREATE INDEX teams_base ON teams (base_id);

CREATE TABLE persons (
    id              TEXT PRIMARY KEY,
    base_id         TEXT NOT NULL REFERENCES bases (id),
    name            TEXT NOT NULL,
    id_number_enc   TEXT NOT NULL,             -- 居民身份证号, SM4-GCM
    id_number_digest TEXT NOT NULL,            -- HMAC-SM3, for uniqueness and lookup
    id_number_masked TEXT NOT NULL,            -- e.g. 110***********123X, safe to show
    phone_enc       TEXT,
    phone_masked    TEXT,
    talent_level    TEXT NOT NULL DEFAULT 'none',
    employer        TEXT NOT NULL DEFAULT '',
    synthetic       BIGINT NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    created_at      TEXT NOT NULL,
    UNIQUE (base_id, id_number_digest)
);

-- 众创空间 / 孵化器 / 加速器 / 产业园.
CREATE TABLE carriers (
    id          TEXT PRIMARY KEY,
    base_id     TEXT NOT NULL REFERENCES bases (id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('makerspace', 'incubator', 'accelerator', 'industrial_park')),
    level       TEXT NOT NULL CHECK (level IN ('national', 'provincial', 'municipal', 'none')),
    area_m2     BIGINT NOT NULL CHECK (area_m2 >= 0),
    seats       BIGINT NOT NULL CHECK (seats >= 0),
    occupied_seats BIGINT NOT NULL CHECK (occupied_seats >= 0),
    org_unit_id TEXT REFERENCES org_units (id),
    synthetic   BIGINT NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    created_at  TEXT NOT NULL,
    CHECK (occupied_seats <= seats)
);
CREATE INDEX carriers_base ON carriers (base_id);

CREATE TABLE providers (
    id          TEXT PRIMARY KEY,
    base_id     TEXT NOT NULL REFERENCES bases (id),
    name        TEXT NOT NULL,
    uscc        TEXT NOT NULL,
    categories  TEXT NOT NULL,                 -- comma-separated service categories
    synthetic   BIGINT NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    created_at  TEXT NOT NULL,
    UNIQUE (base_id, uscc)
);

CREATE TABLE investors (
    id          TEXT PRIMARY KEY,
    base_id     TEXT NOT NULL REFERENCES bases (id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('angel', 'vc', 'bank', 'guidance_fund')),
    fund_size_fen BIGINT NOT NULL CHECK (fund_size_fen >= 0),
    focus       TEXT NOT NULL DEFAULT '',      -- industry section letters
    synthetic   BIGINT NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    created_at  TEXT NOT NULL
);

CREATE TABLE experts (
    id           TEXT PRIMARY KEY,
    base_id      TEXT NOT NULL REFERENCES bases (id),
    name         TEXT NOT NULL,
    organisation TEXT NOT NULL,
    title        TEXT NOT NULL DEFAULT '',
    fields       TEXT NOT NULL,                -- comma-separated fields of expertise
    synthetic    BIGINT NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    created_at   TEXT NOT NULL
);

CREATE TABLE institutes (
    id          TEXT PRIMARY KEY,
    base_id     TEXT NOT NULL REFERENCES bases (id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('university', 'institute')),
    synthetic   BIGINT NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    created_at  TEXT NOT NULL
);
