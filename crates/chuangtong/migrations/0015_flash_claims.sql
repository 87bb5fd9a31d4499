-- Flash claims and the lottery mode of voucher batches (issue 5).
--
-- first_come: claims are served in arrival order by the claim desk
-- (group commit, see src/voucher/desk.rs).
-- lottery: during the window firms register interest (登记意向); after it
-- closes the platform draws with a seed whose SM3 digest was published when
-- the batch was issued, and reveals the seed, so anyone can recompute the
-- order from the published list of registrants.
ALTER TABLE voucher_batches ADD COLUMN claim_mode TEXT NOT NULL DEFAULT 'first_come'
    CHECK (claim_mode IN ('first_come', 'lottery'));
ALTER TABLE voucher_batches ADD COLUMN lottery_seed TEXT;       -- 64 hex chars; shown only after the draw
ALTER TABLE voucher_batches ADD COLUMN lottery_seed_sm3 TEXT;   -- commitment, public from issue on
ALTER TABLE voucher_batches ADD COLUMN lottery_drawn_at TEXT;
-- Who may claim: a policy of the base's library, judged at claim time.
ALTER TABLE voucher_batches ADD COLUMN eligibility_policy_id TEXT REFERENCES policies (id);

CREATE TABLE voucher_interests (
    batch_id      TEXT NOT NULL REFERENCES voucher_batches (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    base_id       TEXT NOT NULL REFERENCES bases (id),
    user_id       TEXT,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (batch_id, enterprise_id)
);
