-- Applications, second round: documents (申请要件), programmes under several
-- policies, conflicts of interest computed from the registry, and who closed
-- each stage (for the on-time rate per department).

-- What an applicant must upload before submitting: JSON [{key, label}].
ALTER TABLE programmes ADD COLUMN required_documents TEXT NOT NULL DEFAULT '[]';

-- Every policy a programme is linked to, the first (position 0) being
-- programmes.policy_id, whose benefit gives the amount. A firm must not fail
-- any of them.
CREATE TABLE programme_policies (
    programme_id TEXT NOT NULL REFERENCES programmes (id),
    base_id      TEXT NOT NULL REFERENCES bases (id),
    policy_id    TEXT NOT NULL REFERENCES policies (id),
    position     BIGINT NOT NULL,
    PRIMARY KEY (programme_id, policy_id)
);
CREATE INDEX programme_policies_base ON programme_policies (base_id, programme_id);

-- Uploaded content, addressed by its SM3 digest and kept in the database
-- (base64 in TEXT, the one type both backends read alike), so that every
-- process on one PostgreSQL sees the same files, backups (VACUUM INTO,
-- pg_dump) carry them, and an acknowledged upload survives kill -9 with the
-- transaction that recorded it. Per base, so one tenant's upload never
-- answers for another's. No user-chosen name ever becomes a path.
CREATE TABLE document_blobs (
    base_id     TEXT NOT NULL REFERENCES bases (id),
    digest_sm3  TEXT NOT NULL,                 -- 64 hex
    size_bytes  BIGINT NOT NULL CHECK (size_bytes > 0),
    content_b64 TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (base_id, digest_sm3)
);

CREATE TABLE application_documents (
    id             TEXT PRIMARY KEY,
    base_id        TEXT NOT NULL REFERENCES bases (id),
    application_id TEXT NOT NULL REFERENCES applications (id),
    kind           TEXT NOT NULL,              -- a required document's key, or 'other'
    filename       TEXT NOT NULL,              -- shown only; cleaned of paths and control characters
    media_type     TEXT NOT NULL,              -- from the content's magic bytes, not the name
    size_bytes     BIGINT NOT NULL CHECK (size_bytes > 0),
    digest_sm3     TEXT NOT NULL,
    uploaded_by    TEXT NOT NULL,
    uploaded_at    TEXT NOT NULL,
    removed_at     TEXT                        -- replaced or removed by the applicant; kept for the record
);
CREATE INDEX application_documents_app ON application_documents (application_id, kind);

-- Shareholding and control links between registry records (股权、实际控制):
-- the holder is an enterprise or an expert personally; share in basis points.
CREATE TABLE registry_links (
    id            TEXT PRIMARY KEY,
    base_id       TEXT NOT NULL REFERENCES bases (id),
    holder_kind   TEXT NOT NULL CHECK (holder_kind IN ('enterprise', 'expert')),
    holder_id     TEXT NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    relation      TEXT NOT NULL CHECK (relation IN ('shareholder', 'controller')),
    share_bp      BIGINT CHECK (share_bp BETWEEN 0 AND 10000),
    created_at    TEXT NOT NULL,
    UNIQUE (base_id, holder_kind, holder_id, enterprise_id, relation)
);
CREATE INDEX registry_links_enterprise ON registry_links (base_id, enterprise_id);

-- Joint applicants (联合申报单位) of an application.
CREATE TABLE application_partners (
    application_id TEXT NOT NULL REFERENCES applications (id),
    base_id        TEXT NOT NULL REFERENCES bases (id),
    enterprise_id  TEXT NOT NULL REFERENCES enterprises (id),
    PRIMARY KEY (application_id, enterprise_id)
);
CREATE INDEX application_partners_enterprise ON application_partners (base_id, enterprise_id);

-- The account that ended a stage (users.id; NULL for the system), whose
-- membership's org unit is the department in the programme report.
ALTER TABLE application_stages ADD COLUMN closed_by TEXT;
