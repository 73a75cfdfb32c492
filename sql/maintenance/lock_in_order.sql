-- Locks tables in p_mode (ACCESS EXCLUSIVE, or SHARE to keep writers out) in the order given (a
-- partitioned table first, then the partitions the caller's statements will touch), holding other
-- sessions up for as little as it can: the one lock helper of partman-stack's maintenance, archive
-- and migrate.
--
-- * While a transaction open for longer than p_lock_timeout holds a conflicting lock on one of the
--   tables (a long report, a session idle in a transaction), it sleeps without queuing: nobody
--   waits behind it. (Another role's sessions show their transaction's start only to a role with
--   pg_read_all_stats; without it, every attempt queues, still for at most p_lock_timeout.)
-- * An attempt queues for at most its timeout (lock_timeout): the longest it holds anyone up. A
--   failed attempt releases everything it took (its subtransaction rolls back), sleeps with
--   backoff and jitter, and the next attempt waits twice as long, up to p_lock_timeout.
-- * After p_max_wait in all it gives up: acquired is false, blocker says who held the tables, and
--   the caller defers its work. Acquired locks belong to the caller's transaction; the caller must
--   hold no lock on these tables before calling.
-- A table's name for dynamic SQL, schema-qualified and quoted. Formatting a regclass with %s would
-- do, except for a table dropped since the regclass was made: that prints its OID, and the
-- statement fails as a syntax error at that number. Here it is an error naming the table instead.
-- Volatile: it reads the catalog as it is now, also a table made earlier in the same statement.
CREATE OR REPLACE FUNCTION partman_stack.relation_name(p_table regclass)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_name text;
BEGIN
    SELECT format('%I.%I', n.nspname, c.relname) INTO v_name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_table;
    IF v_name IS NULL THEN
        RAISE EXCEPTION 'table with OID % was dropped by another session meanwhile', p_table::oid USING ERRCODE = 'undefined_table';
    END IF;
    RETURN v_name;
END
$$;

CREATE OR REPLACE FUNCTION partman_stack.lock_in_order(
    p_tables regclass[],
    p_lock_timeout interval,
    p_max_wait interval,
    p_mode text DEFAULT 'ACCESS EXCLUSIVE',
    OUT acquired boolean,
    OUT attempts integer,
    OUT waited_ms integer,
    OUT blocker text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_started    timestamptz := clock_timestamp();
    v_timeout    interval := least(p_lock_timeout, interval '50 ms');
    v_left       interval;
    v_table      regclass;
    v_restore    text := current_setting('lock_timeout');
BEGIN
    IF p_mode NOT IN ('ACCESS EXCLUSIVE', 'SHARE') THEN
        RAISE EXCEPTION 'lock_in_order takes ACCESS EXCLUSIVE or SHARE, not %', p_mode;
    END IF;
    acquired := false;
    attempts := 0;
    LOOP
        v_left := p_max_wait - (clock_timestamp() - v_started);
        EXIT WHEN v_left <= interval '0';
        -- pg_stat_activity is read once per transaction unless cleared: each look must be fresh.
        PERFORM pg_stat_clear_snapshot();
        blocker := partman_stack.lock_holder(p_tables, p_mode, p_lock_timeout);
        IF blocker IS NULL THEN
            attempts := attempts + 1;
            BEGIN
                PERFORM set_config('lock_timeout', ceil(extract(epoch FROM least(v_timeout, v_left)) * 1000)::int || 'ms', true);
                FOREACH v_table IN ARRAY p_tables LOOP
                    EXECUTE format('LOCK TABLE ONLY %s IN %s MODE', partman_stack.relation_name(v_table), p_mode);
                END LOOP;
                acquired := true;
            EXCEPTION WHEN lock_not_available THEN
                PERFORM pg_stat_clear_snapshot();
                blocker := partman_stack.lock_holder(p_tables, p_mode, interval '0');
            END;
            EXIT WHEN acquired;
            v_timeout := least(v_timeout * 2, p_lock_timeout);
        END IF;
        PERFORM pg_sleep(greatest(least(extract(epoch FROM v_timeout) * (0.5 + random()),
                                        extract(epoch FROM p_max_wait - (clock_timestamp() - v_started))), 0));
    END LOOP;
    PERFORM set_config('lock_timeout', v_restore, true);
    waited_ms := round(extract(epoch FROM clock_timestamp() - v_started) * 1000);
END
$$;

-- The oldest transaction of another session holding a lock on one of the tables that conflicts with
-- p_mode, if it has been open longer than p_older_than, described for a message: its pid,
-- application_name (which says what it does), user, client address, state, and since when its
-- transaction and its session have run.
CREATE OR REPLACE FUNCTION partman_stack.lock_holder(p_tables regclass[], p_mode text, p_older_than interval)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT format('pid %s (%s, user %s%s, %s, in a transaction for %s, connected since %s)', a.pid,
                  coalesce(nullif(a.application_name, ''), 'no application_name'), a.usename, coalesce(' from ' || host(a.client_addr), ''),
                  a.state, date_trunc('second', clock_timestamp() - a.xact_start), to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'))
      FROM pg_locks l
      JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
       AND l.relation = ANY (p_tables::oid[])
       AND (p_mode = 'ACCESS EXCLUSIVE' OR l.mode NOT IN ('AccessShareLock', 'RowShareLock', 'ShareLock'))
       AND clock_timestamp() - a.xact_start > p_older_than
     ORDER BY a.xact_start
     LIMIT 1
$$;

-- Runs p_lock, a statement that takes one lock in the caller's transaction (an advisory lock, a
-- fence), waiting at most p_max_wait: false when the wait ran out. For a lock that holds nobody
-- up while it is waited for; a table's lock is lock_in_order's.
DROP FUNCTION IF EXISTS partman_stack.advisory_lock_within(text, text, interval);
CREATE OR REPLACE FUNCTION partman_stack.lock_within(p_lock text, p_max_wait interval)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_restore text := current_setting('lock_timeout');
BEGIN
    PERFORM set_config('lock_timeout', greatest(ceil(extract(epoch FROM p_max_wait) * 1000), 1)::int || 'ms', true);
    BEGIN
        EXECUTE p_lock;
    EXCEPTION WHEN lock_not_available THEN
        PERFORM set_config('lock_timeout', v_restore, true);
        RETURN false;
    END;
    PERFORM set_config('lock_timeout', v_restore, true);
    RETURN true;
END
$$;

-- lock_in_order for work that cannot be deferred (apply's DDL on a live set, archive, verify --fix):
-- an error, naming who held the tables, when they were not free within p_max_wait.
CREATE OR REPLACE FUNCTION partman_stack.lock_in_order_or_raise(
    p_tables regclass[],
    p_lock_timeout interval,
    p_max_wait interval,
    p_mode text DEFAULT 'ACCESS EXCLUSIVE')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_lock record;
BEGIN
    v_lock := partman_stack.lock_in_order(p_tables, p_lock_timeout, p_max_wait, p_mode);
    IF NOT v_lock.acquired THEN
        RAISE EXCEPTION 'could not lock % in % mode within % (% attempt(s)): held by %',
            array_to_string(p_tables::text[], ', '), p_mode, p_max_wait, v_lock.attempts, coalesce(v_lock.blocker, 'other sessions, each briefly')
            USING ERRCODE = 'lock_not_available';
    END IF;
END
$$;
