-- A voucher claim's firm and batch belong to the claim's own base, and the
-- database itself says so (issue 5).
--
-- Until now `voucher_claims` referenced `enterprises (id)`, `voucher_batches
-- (id)` and `bases (id)` separately: a claim could have named a firm of one
-- base and a batch of another, and the claim desk looked every group's firms
-- up before writing (one query of a dozen on the hot path, planned afresh
-- for every group) to refuse a firm of another base. The composite keys
-- below make such a row impossible, so the desk writes first and looks a
-- firm up only when the database refuses it. The base's own existence
-- follows from the firm's (`enterprises.base_id` references `bases`), so the
-- separate reference to `bases`, one more key check per claim against the
-- one row every claim of the base shares, goes.
--
-- A column's references cannot be changed in place on SQLite, so the table
-- is rebuilt (nothing references it); the same statements run on both
-- databases. PostgreSQL keeps the constraint names given at creation
-- (`voucher_claims_keyed_…`).

CREATE UNIQUE INDEX enterprises_id_base ON enterprises (id, base_id);
CREATE UNIQUE INDEX voucher_batches_id_base ON voucher_batches (id, base_id);

CREATE TABLE voucher_claims_keyed (
    id                TEXT PRIMARY KEY,
    base_id           TEXT NOT NULL,
    batch_id          TEXT NOT NULL,
    enterprise_id     TEXT NOT NULL,
    amount_fen        BIGINT NOT NULL CHECK (amount_fen > 0),
    wallet_account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
    transfer_id       TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    UNIQUE (batch_id, enterprise_id),           -- one claim per firm per batch
    FOREIGN KEY (batch_id, base_id) REFERENCES voucher_batches (id, base_id),
    FOREIGN KEY (enterprise_id, base_id) REFERENCES enterprises (id, base_id)
);
INSERT INTO voucher_claims_keyed (id, base_id, batch_id, enterprise_id, amount_fen, wallet_account_id, transfer_id, created_at)
    SELECT id, base_id, batch_id, enterprise_id, amount_fen, wallet_account_id, transfer_id, created_at FROM voucher_claims;
DROP TABLE voucher_claims;
ALTER TABLE voucher_claims_keyed RENAME TO voucher_claims;
CREATE INDEX voucher_claims_base_created ON voucher_claims (base_id, created_at);
