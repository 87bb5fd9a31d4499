-- Programme pay-outs under one cost, one subsidy (一费一补) and under
-- corrections of policy versions (补发与追回).

-- The cost item (成本事项) of the applicant firm that the grant pays for.
-- When set, the pay-out is a support against it (financing/support.rs
-- `pay_in`), so the cap "total support at most x% of the cost" holds across
-- programme money, vouchers and other supports. NULL: the grant pays for no
-- particular cost and is paid straight from the programme budget.
ALTER TABLE applications ADD COLUMN cost_item_id TEXT REFERENCES cost_items (id);

-- The policy engine's answer at submission, one row per policy of the
-- programme, kept as the 免申即享 grants keep theirs: the version and its
-- hash, the parameter values and the facts used (with source and date), so
-- the answer can be recomputed exactly when a version is corrected.
-- Rewritten on resubmission after 补正 (the last answer is the one acted on).
CREATE TABLE application_judgements (
    application_id TEXT NOT NULL REFERENCES applications (id),
    base_id        TEXT NOT NULL REFERENCES bases (id),
    policy_id      TEXT NOT NULL REFERENCES policies (id),
    version_id     TEXT NOT NULL REFERENCES policy_versions (id),
    position       BIGINT NOT NULL CHECK (position >= 0),   -- 0 = 主政策, whose amount is the ceiling
    eligible       TEXT NOT NULL CHECK (eligible IN ('yes', 'no', 'unknown')),
    amount_fen     BIGINT,                                  -- what the rules gave (NULL: no amount)
    policy_hash    TEXT NOT NULL,
    params_json    TEXT NOT NULL,                           -- {parameter: source literal}
    facts_json     TEXT NOT NULL,                           -- {fact: {value, source, as_of}}
    judged_at      TEXT NOT NULL,
    PRIMARY KEY (application_id, policy_id)
);
CREATE INDEX application_judgements_policy ON application_judgements (base_id, policy_id);

-- 补发与追回 of approved and paid applications, the counterpart of
-- policy_adjustments for 免申即享 grants (kept apart so each row names what
-- it corrects with a real foreign key). One row per application and
-- correcting version: recording twice changes nothing.
CREATE TABLE application_adjustments (
    id             TEXT PRIMARY KEY,
    base_id        TEXT NOT NULL REFERENCES bases (id),
    policy_id      TEXT NOT NULL REFERENCES policies (id),
    application_id TEXT NOT NULL REFERENCES applications (id),
    enterprise_id  TEXT NOT NULL REFERENCES enterprises (id),
    version_id     TEXT NOT NULL REFERENCES policy_versions (id), -- the correcting version
    entitled_fen   BIGINT NOT NULL CHECK (entitled_fen >= 0),
    delta_fen      BIGINT NOT NULL,                               -- entitled − (approved + earlier adjustments)
    kind           TEXT NOT NULL CHECK (kind IN ('top_up', 'clawback', 'unchanged')),
    policy_hash    TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'settled', 'cancelled')),
    created_at     TEXT NOT NULL,
    UNIQUE (application_id, version_id)
);
CREATE INDEX application_adjustments_policy ON application_adjustments (base_id, policy_id);
