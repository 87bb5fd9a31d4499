-- Voucher batch reports, expiry, related-party review, and 一费一补 (one
-- cost, one subsidy). As everywhere, money lives only in the ledger; these
-- tables keep the business state and the ids of the transfers that moved it.

-- Expiry (过期回收): when a batch's validity ends, what is left in its
-- wallets returns to the batch budget. One row per return; the same wallet
-- may return more than once (a reservation kept for an order delivered in
-- time may be released after the first sweep), each by its own transfer.
CREATE TABLE voucher_wallet_returns (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    batch_id      TEXT NOT NULL REFERENCES voucher_batches (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0),
    transfer_id   TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX voucher_wallet_returns_batch ON voucher_wallet_returns (batch_id, enterprise_id);

-- Voucher reservations released because the batch expired before the
-- provider delivered: the order stays, paid by the enterprise alone.
CREATE TABLE voucher_released_reservations (
    order_id      TEXT PRIMARY KEY REFERENCES service_orders (id),
    base_id       TEXT NOT NULL REFERENCES bases (id),
    batch_id      TEXT NOT NULL REFERENCES voucher_batches (id),
    amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0),
    transfer_id   TEXT NOT NULL,                 -- the voided pending transfer
    created_at    TEXT NOT NULL
);

-- The first sweep of a batch (later sweeps only add returns).
CREATE TABLE voucher_expiries (
    batch_id      TEXT PRIMARY KEY REFERENCES voucher_batches (id),
    base_id       TEXT NOT NULL REFERENCES bases (id),
    expired_at    TEXT NOT NULL
);

-- Facts that reveal related parties (关联关系) of enterprises and providers:
-- shareholders (股东), actual controller (实际控制人), registered address,
-- phone. Compared by a keyed digest of the normalised value, so the phone
-- and identity numbers are not stored in clear; `shown` is what a reviewer
-- sees (masked for phones).
CREATE TABLE party_facts (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    subject_kind  TEXT NOT NULL CHECK (subject_kind IN ('enterprise', 'provider')),
    subject_id    TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('shareholder', 'controller', 'address', 'phone')),
    value_digest  TEXT NOT NULL,
    shown         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (base_id, subject_kind, subject_id, kind, value_digest)
);
CREATE INDEX party_facts_digest ON party_facts (base_id, value_digest);

-- An order between related parties, held for review: its voucher part
-- cannot be redeemed until a base admin clears it.
CREATE TABLE voucher_order_flags (
    order_id      TEXT PRIMARY KEY REFERENCES service_orders (id),
    base_id       TEXT NOT NULL REFERENCES bases (id),
    reasons       TEXT NOT NULL,                 -- JSON array of Chinese sentences
    state         TEXT NOT NULL CHECK (state IN ('flagged', 'cleared')),
    cleared_by    TEXT,
    note          TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    cleared_at    TEXT
);
CREATE INDEX voucher_order_flags_state ON voucher_order_flags (base_id, state);

-- Milestone escrow (分阶段托管) for large orders: the voucher part of an
-- order is split into milestones, each reserved by its own pending transfer
-- (wallet → provider payable) and posted when the enterprise accepts that
-- milestone. A delivered milestone not answered by its dispute deadline
-- (N working days) is accepted automatically; a disputed one waits for a
-- base admin's decision (accept: posted; refund: voided).
CREATE TABLE order_milestones (
    id              TEXT PRIMARY KEY,
    base_id         TEXT NOT NULL REFERENCES bases (id),
    order_id        TEXT NOT NULL REFERENCES service_orders (id),
    seq             BIGINT NOT NULL CHECK (seq >= 1),
    title           TEXT NOT NULL,
    price_fen       BIGINT NOT NULL CHECK (price_fen > 0),   -- this milestone's share of the order price
    escrow_fen      BIGINT NOT NULL CHECK (escrow_fen > 0),  -- its share of the voucher part, held pending
    transfer_id     TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('reserved', 'delivered', 'accepted', 'disputed', 'refunded')),
    evidence        TEXT,
    delivered_on    TEXT,                                    -- YYYY-MM-DD, Beijing date
    dispute_deadline TEXT,                                   -- last working day to accept or dispute
    dispute_reason  TEXT,
    accepted_how    TEXT CHECK (accepted_how IN ('enterprise', 'deadline', 'decision')),
    decision_note   TEXT,
    resolved_at     TEXT,
    UNIQUE (order_id, seq)
);
CREATE INDEX order_milestones_due ON order_milestones (base_id, state, dispute_deadline);

-- One cost, one subsidy (一费一补): a cost item (a service order, an
-- invoice…) records every grant or voucher support paid against it, across
-- programmes and levels (district, city, province), so a cap such as "total
-- support at most x% of the cost" holds. The cap is checked in the same
-- transaction as the payment, with the cost item's row locked.
CREATE TABLE cost_items (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    kind          TEXT NOT NULL CHECK (kind IN ('service_order', 'invoice')),
    ref           TEXT NOT NULL,                 -- the order id, or the invoice number (发票号码)
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    description   TEXT NOT NULL,
    cost_fen      BIGINT NOT NULL CHECK (cost_fen > 0),
    cap_bp        BIGINT NOT NULL CHECK (cap_bp BETWEEN 1 AND 10000),  -- total support ≤ cost × cap_bp / 10000
    created_at    TEXT NOT NULL,
    UNIQUE (base_id, kind, ref)                  -- one cost is recorded once
);

CREATE TABLE cost_supports (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    cost_item_id  TEXT NOT NULL REFERENCES cost_items (id),
    programme     TEXT NOT NULL,                 -- which programme/level paid, e.g. 市级研发费用补助
    request_id    TEXT NOT NULL,                 -- the caller's idempotency key
    amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0),
    source_account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
    transfer_id   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (cost_item_id, request_id)
);

-- Loans and risk pools (金融服务): loan products run with a partner bank
-- (an investor of kind bank): 税融通 (credit line from the policy library's
-- rules: tax paid × multiple by credit grade), 青创资金 (a government fund
-- deposited as a risk pool; the bank must lend at least a set multiple of
-- it; on default the pool compensates the bank by a set ratio, 代偿), and
-- configurable 孵化贷/成长贷. The bank's own money is tracked in the ledger
-- as memorandum accounts (bank funds → loans outstanding → defaulted), the
-- pool's money as a real, floored risk-pool account.
CREATE TABLE loan_products (
    id              TEXT PRIMARY KEY,
    base_id         TEXT NOT NULL REFERENCES bases (id),
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('tax_credit', 'youth_startup', 'incubation', 'growth')),
    bank_id         TEXT NOT NULL REFERENCES investors (id),
    policy_id       TEXT,                          -- rules that give each firm's credit line (税融通)
    min_fen         BIGINT NOT NULL CHECK (min_fen > 0),
    max_fen         BIGINT NOT NULL,
    pool_fen        BIGINT NOT NULL DEFAULT 0 CHECK (pool_fen >= 0),   -- fund deposited in the risk pool
    leverage_min_x100 BIGINT NOT NULL DEFAULT 0 CHECK (leverage_min_x100 >= 0), -- bank must lend ≥ pool × this / 100
    compensation_bp BIGINT NOT NULL DEFAULT 0 CHECK (compensation_bp BETWEEN 0 AND 10000), -- 代偿比例
    pool_account_id TEXT REFERENCES ledger_accounts (id),
    created_at      TEXT NOT NULL,
    UNIQUE (base_id, code),
    CHECK (max_fen >= min_fen)
);

CREATE TABLE loan_applications (
    id              TEXT PRIMARY KEY,
    base_id         TEXT NOT NULL REFERENCES bases (id),
    product_id      TEXT NOT NULL REFERENCES loan_products (id),
    enterprise_id   TEXT NOT NULL REFERENCES enterprises (id),
    bank_id         TEXT NOT NULL REFERENCES investors (id),  -- where it was routed
    amount_fen      BIGINT NOT NULL CHECK (amount_fen > 0),
    term_months     BIGINT NOT NULL CHECK (term_months BETWEEN 1 AND 120),
    credit_line_fen BIGINT,                        -- from the rules, when the product has them
    -- submitted → granted → repaid | defaulted (→ compensated); submitted → rejected
    state           TEXT NOT NULL CHECK (state IN ('submitted', 'rejected', 'granted', 'repaid', 'defaulted')),
    granted_fen     BIGINT,
    defaulted_fen   BIGINT,
    compensation_fen BIGINT,
    note            TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX loan_applications_product ON loan_applications (product_id, state);
CREATE INDEX loan_applications_bank ON loan_applications (base_id, bank_id, state);
