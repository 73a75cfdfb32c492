-- partman-stack's own objects in the target database, installed and versioned by partman-stack
-- apply (see README, "Maintenance under live traffic" and "Security"). This file: the schema's tables.
-- The schema is created, and checked to be the installing role's alone, before this runs
-- (maintenanceObjects in infra/partman/maintenance-objects.ts). Only its owner uses it: the job runs as the
-- owner, and every front end acts as the owner. PUBLIC gets nothing (an earlier install granted
-- USAGE).
REVOKE ALL ON SCHEMA partman_stack FROM PUBLIC;

-- The declared retention of each managed partition set. It lives here, not in pg_partman's
-- part_config, whose retention partman-stack keeps NULL: pg_partman's own maintenance, however it is
-- called, then never runs its unbounded DROP (child first, then parent) on a managed set.
CREATE TABLE IF NOT EXISTS partman_stack.retention (
    parent_table     text    PRIMARY KEY,    -- schema.table, as part_config names it
    retention        text    NOT NULL,       -- an interval (time sets) or a number of ids (integer-range sets): see expired_partitions
    keep_table       boolean NOT NULL DEFAULT false,  -- detach instead of drop
    retention_schema text                    -- detach and move there instead of drop
);

-- The declared retention of the sub-partitions of each managed set that has them (subpartition):
-- it applies to every partition of parent_table that is itself partitioned, including those
-- maintenance creates later. pg_partman's part_config_sub.sub_retention stays NULL, as above.
CREATE TABLE IF NOT EXISTS partman_stack.sub_retention (LIKE partman_stack.retention INCLUDING ALL);

-- One row per partition set and maintenance run: what it created, expired and deferred, and how
-- long it waited for locks. Kept 30 days.
CREATE TABLE IF NOT EXISTS partman_stack.maintenance_runs (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_table    text        NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz,
    created         text[]      NOT NULL DEFAULT '{}',
    expired         text[]      NOT NULL DEFAULT '{}',
    deferred        text[]      NOT NULL DEFAULT '{}',   -- partitions past the horizon left for the next run
    deferred_reason text,
    attempts        integer     NOT NULL DEFAULT 0,      -- lock attempts
    waited_ms       integer     NOT NULL DEFAULT 0,      -- time spent waiting for locks
    error           text
);
-- A failed set's error is in error (which step, the message and its detail); error_hint says what
-- to do about it. The set's next run without error is what clears it (status and verify read the
-- latest run).
ALTER TABLE partman_stack.maintenance_runs ADD COLUMN IF NOT EXISTS error_hint text;
CREATE INDEX IF NOT EXISTS maintenance_runs_parent_table_started_at_idx ON partman_stack.maintenance_runs (parent_table, started_at DESC);
