-- Stewards and tickets (服务管家 / 工单, 逆向派单).
--
-- Every enterprise of a base has one steward (a member account with the
-- steward role): the first contact who stays with it to the end (首问负责、
-- 一管到底). A ticket raised by the enterprise goes to that steward; a steward
-- may hand it on (转派) or release it to the base's pool, where any steward
-- grabs it (抢单). The ticket row holds the current state and clocks; every
-- step is also a row in ticket_events (the history) and an audit entry.

CREATE TABLE enterprise_stewards (
    base_id        TEXT NOT NULL REFERENCES bases (id),
    enterprise_id  TEXT NOT NULL REFERENCES enterprises (id),
    steward_id     TEXT NOT NULL REFERENCES users (id),
    assigned_at    TEXT NOT NULL,
    PRIMARY KEY (base_id, enterprise_id)
);
CREATE INDEX enterprise_stewards_steward ON enterprise_stewards (base_id, steward_id);

-- Time limits per category, set by the base admin. A category without a row
-- uses the defaults in ticket::sla. Response in working hours (office hours
-- on working days), resolution in working days.
CREATE TABLE ticket_sla (
    base_id        TEXT NOT NULL REFERENCES bases (id),
    category       TEXT NOT NULL,
    response_hours BIGINT NOT NULL CHECK (response_hours > 0),
    resolve_days   BIGINT NOT NULL CHECK (resolve_days > 0),
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (base_id, category)
);

CREATE TABLE tickets (
    id               TEXT PRIMARY KEY,
    base_id          TEXT NOT NULL REFERENCES bases (id),
    enterprise_id    TEXT NOT NULL REFERENCES enterprises (id),
    requester_id     TEXT NOT NULL REFERENCES users (id),
    category         TEXT NOT NULL CHECK (category IN ('registration', 'tax', 'ip', 'financing',
                                                       'premises', 'talent', 'other')),
    title            TEXT NOT NULL,
    description      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('open', 'in_pool', 'accepted', 'resolved',
                                                    'closed', 'withdrawn')),
    steward_id       TEXT REFERENCES users (id),   -- current owner; NULL while in the pool
    assigned_at      TEXT,                         -- when the current owner got it
    -- SLA clocks: instants as ISO-8601 UTC text, the resolution due date as a
    -- Beijing calendar date (resolved on or before it is on time).
    response_due_at  TEXT NOT NULL,
    responded_at     TEXT,
    responded_by     TEXT REFERENCES users (id),
    resolve_due_on   TEXT NOT NULL,
    resolved_at      TEXT,
    resolved_by      TEXT REFERENCES users (id),
    resolution       TEXT,
    rating           BIGINT CHECK (rating BETWEEN 1 AND 5),
    rating_comment   TEXT,
    closed_at        TEXT,
    reopen_count     BIGINT NOT NULL DEFAULT 0,
    -- Bumped by every transition; a step writes only if the version it read
    -- is still current, so two concurrent steps cannot both apply.
    version          BIGINT NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX tickets_enterprise ON tickets (base_id, enterprise_id, created_at);
CREATE INDEX tickets_steward ON tickets (base_id, steward_id, state);
CREATE INDEX tickets_state ON tickets (base_id, state, created_at);

CREATE TABLE ticket_events (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    at            TEXT NOT NULL,
    actor_id      TEXT,
    actor_name    TEXT NOT NULL,
    event         TEXT NOT NULL,
    from_state    TEXT,
    to_state      TEXT NOT NULL,
    from_steward  TEXT,
    to_steward    TEXT,
    note          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, at);
