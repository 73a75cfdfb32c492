-- Creates the partitions pg_partman's maintenance makes ahead of time for one set, in the caller's
-- transaction: pg_partman's run_maintenance() for that set, with its parent and default partition
-- locked first (lock_in_order) so no query that holds the parent waits for a new partition while it
-- waits for the parent. A set whose partitions already reach premake intervals past now (time) or
-- past its highest id (integer range) needs no lock at all. pg_partman's own advisory lock is taken
-- first (within p_max_wait): its run_maintenance() returns with only a NOTICE when another run
-- holds it.
-- On a set partman-stack manages part_config.retention is NULL, so this creates only; on another
-- set pg_partman also expires, now behind the parent's lock.
CREATE OR REPLACE FUNCTION partman_stack.premake(
    p_parent_table text,
    p_lock_timeout interval,
    p_max_wait interval,
    p_analyze boolean,
    OUT created text[],
    OUT deferred boolean,
    OUT attempts integer,
    OUT waited_ms integer,
    OUT blocker text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_parent   regclass := p_parent_table::regclass;
    v_started  timestamptz := clock_timestamp();
    v_config   record;
    v_newest   numeric;
    v_reach    numeric;
    v_tables   regclass[];
    v_before   text[];
    v_lock     record;
    v_last_run timestamptz;
    v_failure  record;
BEGIN
    created := '{}';
    deferred := false;
    attempts := 0;
    waited_ms := 0;
    SELECT premake, partition_interval, retention INTO v_config FROM @extschema@.part_config WHERE parent_table = p_parent_table;
    SELECT max(upper_bound) INTO v_newest FROM partman_stack.partition_bounds(v_parent);
    IF v_config.retention IS NULL AND v_newest IS NOT NULL THEN
        v_reach := partman_stack.premake_reach(v_parent, v_config.partition_interval, v_config.premake);
        -- NULL: an integer-range set without rows, for which pg_partman makes nothing.
        IF v_reach IS NULL OR v_newest >= v_reach THEN
            RETURN;
        END IF;
    END IF;

    -- pg_partman's key is a number any role can hold: the deferral names who held it.
    IF NOT partman_stack.lock_within('SELECT pg_advisory_xact_lock(hashtext(''pg_partman run_maintenance''))', p_max_wait) THEN
        deferred := true;
        SELECT 'another pg_partman maintenance run held its lock' || coalesce(format(' (pid %s, %s, user %s)', a.pid, coalesce(nullif(a.application_name, ''), 'no application_name'), a.usename), '')
          INTO blocker
          FROM (SELECT hashtext('pg_partman run_maintenance')::bigint AS k) k
          LEFT JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.pid <> pg_backend_pid()
                              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                              AND l.classid::bigint = (k.k >> 32) & 4294967295 AND l.objid::bigint = k.k & 4294967295
          LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         LIMIT 1;
        waited_ms := round(extract(epoch FROM clock_timestamp() - v_started) * 1000);
        RETURN;
    END IF;

    SELECT ARRAY[v_parent] || array_agg(c.oid::regclass) INTO v_tables
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = v_parent AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    v_lock := partman_stack.lock_in_order(array_remove(v_tables, NULL), p_lock_timeout, p_max_wait - (clock_timestamp() - v_started));
    attempts := v_lock.attempts;
    waited_ms := round(extract(epoch FROM clock_timestamp() - v_started) * 1000);
    IF NOT v_lock.acquired THEN
        deferred := true;
        blocker := v_lock.blocker;
        RETURN;
    END IF;

    SELECT array_agg(c.relname::text) INTO v_before FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = v_parent;
    -- pg_partman 5.5.0's run_maintenance catches a set's error (CVE-2026-61822), sets its
    -- maintenance_last_run NULL and only logs a WARNING. A sentinel set first tells that failure
    -- (NULL) from success (its clock) and from a set it passed over (the sentinel: put back), and the
    -- failure is raised here with the error pg_partman met, found by making the next partition again.
    IF @partman_catches_set_errors@ THEN
        SELECT maintenance_last_run INTO v_last_run FROM @extschema@.part_config WHERE parent_table = p_parent_table;
        UPDATE @extschema@.part_config SET maintenance_last_run = '-infinity' WHERE parent_table = p_parent_table;
    END IF;
    PERFORM @extschema@.run_maintenance(p_parent_table := p_parent_table, p_analyze := p_analyze);
    IF @partman_catches_set_errors@ THEN
        IF (SELECT maintenance_last_run = '-infinity' FROM @extschema@.part_config WHERE parent_table = p_parent_table) THEN
            UPDATE @extschema@.part_config SET maintenance_last_run = v_last_run WHERE parent_table = p_parent_table;
        ELSIF (SELECT maintenance_last_run IS NULL FROM @extschema@.part_config WHERE parent_table = p_parent_table) THEN
            v_failure := partman_stack.creation_error(p_parent_table);
            RAISE EXCEPTION 'pg_partman''s run_maintenance skipped %: %', p_parent_table,
                coalesce(v_failure.message, 'it met an error it logged only as a WARNING ("pg_partman maintenance skipped partition set for parent table ..." in the server log)')
                USING DETAIL = coalesce(v_failure.detail, ''), HINT = coalesce(v_failure.hint, '');
        END IF;
    END IF;
    SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}') INTO created
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = v_parent AND c.relname <> ALL (coalesce(v_before, '{}'));
END
$$;

-- Why pg_partman cannot make a set's next partition (the one after its newest): the message, detail
-- and hint of its error, from an attempt rolled back either way; all NULL when the attempt succeeds.
-- For an error pg_partman reported only as a WARNING (5.5.0's run_maintenance). In the caller's
-- transaction, which holds the parent's and the default partition's locks (premake).
CREATE OR REPLACE FUNCTION partman_stack.creation_error(p_parent_table text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_parent regclass := p_parent_table::regclass;
    v_kind   text := (partman_stack.set_kind(v_parent)).kind;
    v_newest numeric;
BEGIN
    SELECT max(upper_bound) INTO v_newest FROM partman_stack.partition_bounds(v_parent);
    IF v_newest IS NULL OR v_kind IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        IF v_kind = 'time' THEN
            PERFORM @extschema@.create_partition_time(p_parent_table, ARRAY[to_timestamp(v_newest)]);
        ELSE
            PERFORM @extschema@.create_partition_id(p_parent_table, ARRAY[v_newest::bigint]);
        END IF;
        RAISE SQLSTATE 'PSRB1';
    EXCEPTION WHEN SQLSTATE 'PSRB1' THEN
        NULL;
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    END;
END
$$;
