-- What partman-stack's pg_cron job calls, and partman-stack apply for the sets it changes:
-- pg_partman's maintenance without stalls or deadlocks under live traffic, on pg_partman 4.7 and 5.x.
--
-- For each set (p_parent_table and its sub-parents, or every set whose automatic_maintenance is on), in separate
-- transactions: premake() creates the partitions ahead, then expire() expires the old ones, each
-- with the parent locked first, within p_lock_timeout per attempt and p_max_lock_wait in all (see
-- lock_in_order). A set whose locks cannot be had is deferred to the next run; a set that fails
-- (its premake or its expiry: each in a subtransaction that releases what it locked) is recorded
-- with the error, its detail and hint, and the others go on, on every pg_partman version (5.5.0's
-- run_maintenance fixed this for its own loop: CVE-2026-61822). Every run of a set is a row of
-- partman_stack.maintenance_runs; the set's next run without error clears its failure.
--
-- Always in UTC: pg_partman lays daily and monthly boundaries out in the session's TimeZone, and a
-- pg_cron job runs in the server's (or its database's or role's). search_path first, by a
-- qualified call: until then every unqualified name and operator would resolve through the
-- caller's search_path, where any role with CREATE on a schema in it could plant a closer match.
-- standard_conforming_strings too (a database may turn it off): this body holds no backslash, so it
-- reads the same either way, and the functions it calls set both. The settings are made in the
-- body, for the session (a SET clause on the procedure would forbid its COMMITs, and a setting local
-- to a transaction would end with its first COMMIT); the caller's are put back at the end.
-- @extschema@ is pg_partman's schema.
-- An error for partman_stack.maintenance_runs: its message and detail in a line. pg_partman raises
-- again what it caught with the CONTEXT, DETAIL and HINT appended to the message: only the message
-- before them is kept (the real detail and hint are the caught error's own).
CREATE OR REPLACE FUNCTION partman_stack.error_text(p_message text, p_detail text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT concat_ws(' DETAIL: ', split_part(p_message, chr(10) || 'CONTEXT: ', 1), nullif(p_detail, ''))
$$;

CREATE OR REPLACE PROCEDURE partman_stack.run_maintenance(
    p_parent_table text DEFAULT NULL,
    p_analyze boolean DEFAULT false,
    p_lock_timeout interval DEFAULT '200 ms',
    p_max_lock_wait interval DEFAULT '1 min')
LANGUAGE plpgsql
AS $$
DECLARE
    v_parent  text;
    v_run     bigint;
    v_result  record;
    -- Read before search_path is set: qualified.
    v_names   text[] := ARRAY['search_path', 'standard_conforming_strings', 'TimeZone', 'IntervalStyle', 'statement_timeout'];
    v_callers text[] := ARRAY[pg_catalog.current_setting('search_path'), pg_catalog.current_setting('standard_conforming_strings'),
                              pg_catalog.current_setting('TimeZone'), pg_catalog.current_setting('IntervalStyle'), pg_catalog.current_setting('statement_timeout')];
    v_i       integer;
    v_message text;
    v_detail  text;
    v_hint    text;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false);
    PERFORM set_config('standard_conforming_strings', 'on', false);
    PERFORM set_config('TimeZone', 'UTC', false);
    PERFORM set_config('IntervalStyle', 'postgres', false);
    -- A run waits for locks (bounded above); a server-wide statement_timeout must not cut it short.
    PERFORM set_config('statement_timeout', '0', false);

    FOR v_parent IN
        SELECT parent_table FROM @extschema@.part_config
         WHERE CASE WHEN p_parent_table IS NULL THEN automatic_maintenance = 'on' AND NOT undo_in_progress
                    -- A set and its partitions that are partitioned in turn (subpartition), the set first.
                    ELSE parent_table = p_parent_table
                         OR to_regclass(parent_table) IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass(p_parent_table)) END
         ORDER BY parent_table
    LOOP
        -- A partition that was itself partitioned, expired earlier in this run with its parent's.
        CONTINUE WHEN to_regclass(v_parent) IS NULL;
        INSERT INTO partman_stack.maintenance_runs (parent_table) VALUES (v_parent) RETURNING id INTO v_run;
        -- A declared set's fence (its sub-parents' expiry takes it too), made (if new) and
        -- committed before expire takes it.
        BEGIN
            PERFORM partman_stack.maintenance_fence(v_parent)
              WHERE EXISTS (SELECT 1 FROM partman_stack.retention WHERE parent_table = v_parent)
                 OR EXISTS (SELECT 1 FROM partman_stack.sub_retention WHERE parent_table = v_parent);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
            UPDATE partman_stack.maintenance_runs
               SET error = 'making the set''s fence: ' || partman_stack.error_text(v_message, v_detail), error_hint = nullif(v_hint, '')
             WHERE id = v_run;
        END;
        COMMIT;

        BEGIN
            SELECT * INTO v_result FROM partman_stack.premake(v_parent, p_lock_timeout, p_max_lock_wait, p_analyze);
            UPDATE partman_stack.maintenance_runs
               SET created = v_result.created, attempts = v_result.attempts, waited_ms = v_result.waited_ms,
                   deferred_reason = CASE WHEN v_result.deferred THEN 'creating partitions deferred: ' || v_result.blocker END
             WHERE id = v_run;
        EXCEPTION WHEN OTHERS THEN
            -- Its subtransaction rolled back, and with it every lock it took: the next set starts clean.
            GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
            UPDATE partman_stack.maintenance_runs
               SET error = concat_ws('; ', error, 'creating partitions: ' || partman_stack.error_text(v_message, v_detail)),
                   error_hint = nullif(concat_ws('; ', error_hint, nullif(v_hint, '')), '')
             WHERE id = v_run;
        END;
        COMMIT;

        BEGIN
            SELECT * INTO v_result FROM partman_stack.expire(v_parent, p_lock_timeout, p_max_lock_wait);
            UPDATE partman_stack.maintenance_runs
               SET expired = v_result.expired, deferred = v_result.deferred,
                   attempts = attempts + v_result.attempts, waited_ms = waited_ms + v_result.waited_ms,
                   deferred_reason = nullif(concat_ws('; ', deferred_reason,
                                               CASE WHEN cardinality(v_result.deferred) > 0 THEN 'expiring deferred: ' || coalesce(v_result.blocker, 'the locks were not free') END), '')
             WHERE id = v_run;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
            UPDATE partman_stack.maintenance_runs
               SET error = concat_ws('; ', error, 'expiring partitions: ' || partman_stack.error_text(v_message, v_detail)),
                   error_hint = nullif(concat_ws('; ', error_hint, nullif(v_hint, '')), '')
             WHERE id = v_run;
        END;
        UPDATE partman_stack.maintenance_runs SET finished_at = clock_timestamp() WHERE id = v_run;
        COMMIT;
    END LOOP;

    DELETE FROM partman_stack.maintenance_runs WHERE started_at < now() - interval '30 days';
    COMMIT;
    -- The caller's search_path back from the first iteration on: qualified.
    FOR v_i IN 1 .. cardinality(v_names) LOOP
        PERFORM pg_catalog.set_config(v_names[v_i], v_callers[v_i], false);
    END LOOP;
END
$$;
