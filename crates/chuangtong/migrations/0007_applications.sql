-- Applications and review (申报 → 受理/预审 → 补正 → 专家评审 → 公示 → 审批 →
-- 兑现 → 绩效评价). A programme (申报批次) is a call for applications linked
-- to one published policy, with its own time limits in working days and a
-- budget account in the ledger. Money never lives here: pay-out is a ledger
-- transfer whose id is kept on the application.

CREATE TABLE programmes (
    id                  TEXT PRIMARY KEY,
    base_id             TEXT NOT NULL REFERENCES bases (id),
    code                TEXT NOT NULL,
    name                TEXT NOT NULL,
    policy_id           TEXT NOT NULL REFERENCES policies (id),
    review_mode         TEXT NOT NULL CHECK (review_mode IN ('approval', 'panel')), -- 核准制 | 评审制
    opens_on            TEXT NOT NULL,            -- YYYY-MM-DD, Beijing date, inclusive
    closes_on           TEXT NOT NULL,            -- inclusive
    form_fields         TEXT NOT NULL,            -- JSON [{name, label, required, kind}]
    rubric              TEXT NOT NULL,            -- JSON [{key, label, weight}], weights sum to 100
    expert_field        TEXT NOT NULL DEFAULT '', -- draw experts of this field ('' = any)
    experts_per_application BIGINT NOT NULL DEFAULT 0,
    conflict_months     BIGINT NOT NULL DEFAULT 12, -- reviewed the same applicant within this many months = conflict
    days_pre_review     BIGINT NOT NULL CHECK (days_pre_review >= 0),     -- 受理/预审
    days_amendment      BIGINT NOT NULL CHECK (days_amendment >= 0),      -- 补正
    days_expert_review  BIGINT NOT NULL CHECK (days_expert_review >= 0),  -- 专家评审
    days_publicity      BIGINT NOT NULL CHECK (days_publicity >= 0),      -- 公示期
    days_approval       BIGINT NOT NULL CHECK (days_approval >= 0),       -- 审批 (after 公示期 ends)
    days_payout         BIGINT NOT NULL CHECK (days_payout >= 0),         -- 兑现
    budget_fen          BIGINT NOT NULL CHECK (budget_fen > 0),
    budget_account_id   TEXT NOT NULL REFERENCES ledger_accounts (id),
    created_at          TEXT NOT NULL,
    UNIQUE (base_id, code)
);

CREATE TABLE applications (
    id                   TEXT PRIMARY KEY,
    base_id              TEXT NOT NULL REFERENCES bases (id),
    programme_id         TEXT NOT NULL REFERENCES programmes (id),
    enterprise_id        TEXT NOT NULL REFERENCES enterprises (id),
    state                TEXT NOT NULL,
    form_json            TEXT NOT NULL,
    amount_requested_fen BIGINT NOT NULL CHECK (amount_requested_fen >= 0),
    amount_approved_fen  BIGINT CHECK (amount_approved_fen >= 0),
    -- The policy engine's answer at submission, with what it was computed from.
    eligible             TEXT,                    -- yes | no | unknown
    eligibility_explanation TEXT,
    eligible_amount_fen  BIGINT,
    policy_hash          TEXT,
    facts_json           TEXT,
    draw_seed            TEXT,                    -- expert draw, reproducible from this seed
    draw_json            TEXT,                    -- pool, exclusions with reasons, drawn
    score_x100           BIGINT,                  -- aggregate score ×100
    payout_transfer_id   TEXT,
    evaluation_json      TEXT,                    -- 绩效评价 and the applicant's feedback
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX applications_programme ON applications (base_id, programme_id, state);
CREATE INDEX applications_enterprise ON applications (base_id, enterprise_id);
-- One live application per firm and programme, enforced by the database
-- (two concurrent first drafts cannot both land); a withdrawn one may be replaced.
CREATE UNIQUE INDEX applications_one_live_per_firm ON applications (programme_id, enterprise_id) WHERE state <> 'withdrawn';

-- Every stage's statutory clock: started, due (working days), ended, on time.
CREATE TABLE application_stages (
    id             TEXT PRIMARY KEY,
    base_id        TEXT NOT NULL REFERENCES bases (id),
    application_id TEXT NOT NULL REFERENCES applications (id),
    stage          TEXT NOT NULL,
    started_on     TEXT NOT NULL,
    due_on         TEXT NOT NULL,
    ended_on       TEXT,
    on_time        BIGINT CHECK (on_time IN (0, 1))
);
CREATE INDEX application_stages_app ON application_stages (application_id);

-- The case history the applicant and reviewers see (reasons included).
CREATE TABLE application_events (
    id             TEXT PRIMARY KEY,
    base_id        TEXT NOT NULL REFERENCES bases (id),
    application_id TEXT NOT NULL REFERENCES applications (id),
    from_state     TEXT NOT NULL,
    to_state       TEXT NOT NULL,
    event          TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    actor          TEXT NOT NULL,
    at             TEXT NOT NULL
);
CREATE INDEX application_events_app ON application_events (application_id);

-- Conflicts of interest an expert (or the base) declared.
CREATE TABLE expert_conflicts (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    expert_id     TEXT NOT NULL REFERENCES experts (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    reason        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (expert_id, enterprise_id)
);

CREATE TABLE expert_assignments (
    id             TEXT PRIMARY KEY,
    base_id        TEXT NOT NULL REFERENCES bases (id),
    application_id TEXT NOT NULL REFERENCES applications (id),
    expert_id      TEXT NOT NULL REFERENCES experts (id),
    enterprise_id  TEXT NOT NULL REFERENCES enterprises (id),
    drawn_at       TEXT NOT NULL,
    score_x100     BIGINT CHECK (score_x100 BETWEEN 0 AND 10000),
    rubric_json    TEXT,
    scored_at      TEXT,
    UNIQUE (application_id, expert_id)
);
CREATE INDEX expert_assignments_expert ON expert_assignments (base_id, expert_id);

-- Objections lodged during 公示; all must be resolved before approval.
CREATE TABLE application_objections (
    id             TEXT PRIMARY KEY,
    base_id        TEXT NOT NULL REFERENCES bases (id),
    application_id TEXT NOT NULL REFERENCES applications (id),
    lodged_by      TEXT NOT NULL,
    text           TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('open', 'dismissed', 'upheld')),
    resolution     TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    resolved_at    TEXT
);
CREATE INDEX application_objections_app ON application_objections (application_id, state);
