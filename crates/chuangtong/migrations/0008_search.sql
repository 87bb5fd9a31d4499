-- Full-text search keeps its indexes in each process's memory, rebuilt from
-- these tables. A base's generation is bumped in the same transaction as any
-- change to its policies or services, so every process sees that its index
-- is stale the next time it searches (the index is a cache, never the truth).

CREATE TABLE search_generations (
    base_id    TEXT PRIMARY KEY REFERENCES bases (id),
    generation BIGINT NOT NULL
);
