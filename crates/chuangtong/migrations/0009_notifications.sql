-- Notifications (站内消息) and their e-mail copies.
--
-- A notice is written by `notify::send` inside the transaction of the step it
-- reports, so it exists exactly when that step committed. One row per
-- recipient account: reading state is per person, and a user only ever sees
-- rows with their own user_id (and the base in the URL).

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    base_id     TEXT NOT NULL REFERENCES bases (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,                 -- stable code, e.g. ticket.assigned
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    link        TEXT,                          -- a path inside the platform
    created_at  TEXT NOT NULL,
    read_at     TEXT                           -- NULL while unread
);
CREATE INDEX notifications_inbox ON notifications (user_id, base_id, created_at);

-- Where a person wants mail. Optional: without it they only get the inbox.
ALTER TABLE users ADD COLUMN email TEXT;

-- E-mail owed, queued in the same transaction as the notice (so a rolled-back
-- step sends nothing and a crash loses nothing). A delivery worker claims a
-- row by moving next_attempt_at forward in one conditional UPDATE (a lease
-- that works on both backends without SKIP LOCKED), then records the outcome.
CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY,
    base_id         TEXT NOT NULL REFERENCES bases (id),
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    to_address      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
