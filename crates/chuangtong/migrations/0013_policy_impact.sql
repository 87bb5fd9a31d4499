-- Corrections of policy versions and 精准推送 notices.
--
-- When a version under which grants were made is corrected by a later one,
-- every stored grant is recomputed from its own facts snapshot with the
-- correcting version, and the difference is recorded here as a pending
-- adjustment: 补发 (top-up, delta > 0) or 追回 (clawback, delta < 0). Grants
-- are not paid through the ledger yet, so the adjustment is the record that
-- nothing is lost; it names the grant it corrects and the version that
-- corrected it. Unchanged grants get a row too (delta 0): it marks the
-- grant as carried over, so a 免申即享 run under the new version does not
-- grant the same firm a second time. One row per grant and correcting
-- version: recording twice changes nothing.
CREATE TABLE policy_adjustments (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    policy_id     TEXT NOT NULL REFERENCES policies (id),
    grant_id      TEXT NOT NULL REFERENCES policy_grants (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    version_id    TEXT NOT NULL REFERENCES policy_versions (id), -- the correcting version
    entitled_fen  BIGINT NOT NULL CHECK (entitled_fen >= 0),     -- what the corrected rules give
    delta_fen     BIGINT NOT NULL,                               -- entitled − (granted + earlier adjustments)
    kind          TEXT NOT NULL CHECK (kind IN ('top_up', 'clawback', 'unchanged')),
    policy_hash   TEXT NOT NULL,                                 -- of the correcting version and its parameters
    state         TEXT NOT NULL CHECK (state IN ('pending', 'settled', 'cancelled')),
    created_at    TEXT NOT NULL,
    UNIQUE (grant_id, version_id)
);
CREATE INDEX policy_adjustments_policy ON policy_adjustments (base_id, policy_id);
CREATE INDEX policy_adjustments_version ON policy_adjustments (version_id, enterprise_id);

-- 精准推送: which firms were told about which version of a policy, so that
-- pressing "notify" again reaches only firms not told yet.
CREATE TABLE policy_notices (
    base_id       TEXT NOT NULL REFERENCES bases (id),
    policy_id     TEXT NOT NULL REFERENCES policies (id),
    version_id    TEXT NOT NULL REFERENCES policy_versions (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    amount_fen    BIGINT NOT NULL,                -- what the notice announced
    accounts      BIGINT NOT NULL,                -- accounts that received it
    notified_at   TEXT NOT NULL,
    PRIMARY KEY (version_id, enterprise_id)
);
CREATE INDEX policy_notices_policy ON policy_notices (base_id, policy_id);
