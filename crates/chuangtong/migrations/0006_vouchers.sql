-- Innovation vouchers (创新券/合创券/创业代金券) and the service supermarket
-- (服务超市). Money never lives in these tables: every amount moves through
-- the ledger (budget → wallet on claim, wallet → provider payable as a
-- pending transfer on order, posted on confirmed delivery, payable →
-- settlement on redemption). These tables hold the business state and the
-- ledger transfer ids that carry the money.

CREATE TABLE voucher_batches (
    id                TEXT PRIMARY KEY,
    base_id           TEXT NOT NULL REFERENCES bases (id),
    code              TEXT NOT NULL,
    name              TEXT NOT NULL,
    total_fen         BIGINT NOT NULL CHECK (total_fen > 0),
    per_firm_cap_fen  BIGINT NOT NULL CHECK (per_firm_cap_fen > 0),
    copay_max_bp      BIGINT NOT NULL CHECK (copay_max_bp BETWEEN 1 AND 10000), -- voucher pays at most this share of an order
    categories        TEXT NOT NULL,             -- comma-separated service categories it may pay for
    claim_opens_at    TEXT NOT NULL,
    claim_closes_at   TEXT NOT NULL,
    valid_until       TEXT NOT NULL,             -- YYYY-MM-DD, Beijing date
    budget_account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
    created_at        TEXT NOT NULL,
    UNIQUE (base_id, code),
    CHECK (per_firm_cap_fen <= total_fen)
);

CREATE TABLE voucher_claims (
    id                TEXT PRIMARY KEY,
    base_id           TEXT NOT NULL REFERENCES bases (id),
    batch_id          TEXT NOT NULL REFERENCES voucher_batches (id),
    enterprise_id     TEXT NOT NULL REFERENCES enterprises (id),
    amount_fen        BIGINT NOT NULL CHECK (amount_fen > 0),
    wallet_account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
    transfer_id       TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    UNIQUE (batch_id, enterprise_id)            -- one claim per firm per batch
);

-- What a provider sells in the service supermarket.
CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    base_id     TEXT NOT NULL REFERENCES bases (id),
    provider_id TEXT NOT NULL REFERENCES providers (id),
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_fen   BIGINT NOT NULL CHECK (price_fen > 0),
    description TEXT NOT NULL DEFAULT '',
    active      BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  TEXT NOT NULL
);
CREATE INDEX services_base ON services (base_id, category);

CREATE TABLE service_orders (
    id                  TEXT PRIMARY KEY,
    base_id             TEXT NOT NULL REFERENCES bases (id),
    enterprise_id       TEXT NOT NULL REFERENCES enterprises (id),
    provider_id         TEXT NOT NULL REFERENCES providers (id),
    service_id          TEXT NOT NULL REFERENCES services (id),
    batch_id            TEXT REFERENCES voucher_batches (id),
    price_fen           BIGINT NOT NULL CHECK (price_fen > 0),
    voucher_fen         BIGINT NOT NULL CHECK (voucher_fen >= 0),
    -- placed → delivered → confirmed → redeemed; placed/delivered → cancelled
    state               TEXT NOT NULL CHECK (state IN ('placed', 'delivered', 'confirmed', 'cancelled', 'redeemed')),
    voucher_transfer_id TEXT,                    -- pending until the enterprise confirms delivery
    evidence            TEXT,                    -- JSON, structured per category
    rating              BIGINT CHECK (rating BETWEEN 1 AND 5),
    redemption_id       TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CHECK (voucher_fen <= price_fen)
);
CREATE INDEX service_orders_provider ON service_orders (base_id, provider_id, state);
CREATE INDEX service_orders_enterprise ON service_orders (base_id, enterprise_id);

-- A provider's request to be paid for confirmed voucher orders (兑现).
CREATE TABLE redemptions (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    provider_id   TEXT NOT NULL REFERENCES providers (id),
    amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0),
    state         TEXT NOT NULL CHECK (state IN ('requested', 'settled', 'rejected')),
    transfer_id   TEXT,
    note          TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    resolved_at   TEXT
);
