-- Where `partman-stack migrate` keeps a table's migration, so an interrupted run resumes from the
-- database, not from a local file. One row per table being migrated; removed by finish or by a
-- rollback before the swap.
-- Created as the acting role's; prepare then locks it (COMMENT, which only its owner may) and checks
-- it is that role's alone before anything goes in (schema-trust.ts), and PUBLIC gets nothing.
CREATE SCHEMA IF NOT EXISTS partman_migrate AUTHORIZATION CURRENT_USER;
COMMENT ON SCHEMA partman_migrate IS 'partman-stack migrate: tables being moved onto partitions, their copies and change logs';
REVOKE ALL ON SCHEMA partman_migrate FROM PUBLIC;

CREATE TABLE IF NOT EXISTS partman_migrate.migrations (
    source          text        PRIMARY KEY,             -- schema.table being migrated
    phase           text        NOT NULL CHECK (phase IN ('copying', 'swapped')),
    key_columns     text[]      NOT NULL,                -- the source's primary key: copy order and change-log key
    control         text        NOT NULL,
    copy_done       boolean     NOT NULL DEFAULT false,
    watermark       text[],                              -- last key copied, as text; NULL before the first batch
    rows_copied     bigint      NOT NULL DEFAULT 0,
    changes_applied bigint      NOT NULL DEFAULT 0,
    source_rows     bigint      NOT NULL,                -- estimate at prepare, for progress
    renamed         jsonb       NOT NULL DEFAULT '[]',   -- source indexes/sequences renamed at the swap, to undo on rollback
    swap_lock_ms    integer,                             -- how long writers were blocked by the swap, at most
    source_columns  jsonb,                               -- the source's columns at prepare: the swap refuses if they changed
    started_at      timestamptz NOT NULL DEFAULT now(),
    copy_started_at timestamptz NOT NULL DEFAULT now(),
    swapped_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
