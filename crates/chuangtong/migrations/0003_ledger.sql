-- The ledger: every fen that moves is a transfer between two accounts of a
-- base (double entry: the debit of one account is the credit of another, so
-- the postings of every transfer sum to zero).
--
-- The model follows TigerBeetle: accounts keep four running totals
-- (debits/credits × pending/posted); a flag forbids an account's debits to
-- exceed its credits (a budget or a wallet cannot be overdrawn); a transfer
-- is either posted at once or pending (money promised, e.g. an order paid by
-- voucher) and later posted or voided (cancelled, expired). Transfers are
-- immutable except for a pending transfer's state. The idempotency key of a
-- request is unique per base: a retried request finds the first result.

CREATE TABLE ledger_accounts (
    id              TEXT PRIMARY KEY,
    base_id         TEXT NOT NULL REFERENCES bases (id),
    code            TEXT NOT NULL,             -- stable name within the base, e.g. budget:voucher-2026-1
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('funding', 'budget', 'wallet', 'receivable', 'payable',
                                                  'settlement', 'risk_pool', 'expense')),
    debits_must_not_exceed_credits BIGINT NOT NULL DEFAULT 0 CHECK (debits_must_not_exceed_credits IN (0, 1)),
    debits_pending  BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted   BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending BIGINT NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted  BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    created_at      TEXT NOT NULL,
    UNIQUE (base_id, code),
    -- The floor, enforced by the database as a last line of defence; the
    -- ledger checks it first to give a clear error.
    CHECK (debits_must_not_exceed_credits = 0 OR debits_pending + debits_posted <= credits_posted)
);

CREATE TABLE ledger_requests (
    base_id         TEXT NOT NULL REFERENCES bases (id),
    idempotency_key TEXT NOT NULL,
    request_digest  TEXT NOT NULL,             -- SM3 of the canonical request; a reused key with other content is refused
    created_at      TEXT NOT NULL,
    PRIMARY KEY (base_id, idempotency_key)
);

CREATE TABLE ledger_transfers (
    id                TEXT PRIMARY KEY,
    base_id           TEXT NOT NULL REFERENCES bases (id),
    idempotency_key   TEXT NOT NULL,
    position          BIGINT NOT NULL,         -- order within its request (linked transfers)
    debit_account_id  TEXT NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
    amount_fen        BIGINT NOT NULL CHECK (amount_fen > 0),
    -- posted: final at once; pending: reserved until post/void/expiry
    mode              TEXT NOT NULL CHECK (mode IN ('posted', 'pending')),
    state             TEXT NOT NULL CHECK (state IN ('posted', 'pending', 'voided', 'expired')),
    expires_at        TEXT,                    -- pending only
    resolved_at       TEXT,
    memo              TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    CHECK (debit_account_id <> credit_account_id),
    UNIQUE (base_id, idempotency_key, position)
);
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, state);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, state);
CREATE INDEX ledger_transfers_pending ON ledger_transfers (state, expires_at);
