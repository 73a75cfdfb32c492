-- Expires one managed set's partitions past its horizon (partman_stack.retention; for a partition
-- of a set that is itself partitioned, its parent's partman_stack.sub_retention), in the caller's
-- transaction: those expired_partitions names (older than now() - retention, or ids all below
-- max(id) - retention), never the default partition nor the last remaining one, with the parent
-- locked first and then each of them (lock_in_order). Dropped, or detached (keep_table), or
-- detached and moved to retention_schema. An expired partition that is itself partitioned goes with
-- its sub-partitions (locked after it) and its part_config row, as pg_partman's retention does. When the locks cannot be had within p_max_wait, nothing is touched and they are
-- returned as deferred, with who held them.
-- One expiry (or archive run) per set at a time: both take the set's fence (maintenance_fence: a
-- sub-parent's is its set's). Partitions move only into a
-- retention schema owned by their own owner: another owner could drop them there.
CREATE OR REPLACE FUNCTION partman_stack.expire(
    p_parent_table text,
    p_lock_timeout interval,
    p_max_wait interval,
    OUT expired text[],
    OUT deferred text[],
    OUT attempts integer,
    OUT waited_ms integer,
    OUT blocker text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_parent    regclass := p_parent_table::regclass;
    v_started   timestamptz := clock_timestamp();
    v_retention record;
    v_owner     oid;
    v_fence     regclass;
    v_victims   regclass[];
    v_names     text[];
    v_configs   text[];
    v_lock      record;
    v_i         integer;
BEGIN
    expired := '{}';
    deferred := '{}';
    attempts := 0;
    waited_ms := 0;
    SELECT r.retention, r.keep_table, r.retention_schema, r.parent_table AS fence_set INTO v_retention FROM partman_stack.retention r WHERE r.parent_table = p_parent_table
    UNION ALL
    SELECT s.retention, s.keep_table, s.retention_schema, s.parent_table FROM partman_stack.sub_retention s
      JOIN pg_inherits i ON i.inhparent = to_regclass(s.parent_table) WHERE i.inhrelid = v_parent
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    v_fence := partman_stack.maintenance_fence(v_retention.fence_set);
    IF NOT partman_stack.fence_within(v_fence, p_max_wait) THEN
        blocker := 'another maintenance run or partman-stack archive held the set''s fence: '
                   || coalesce(partman_stack.fence_holder(v_fence), 'a session that has finished meanwhile');
    END IF;

    -- v_configs: the names part_config knows sub-partitioned victims by (schema.table).
    SELECT array_agg(partition ORDER BY upper_bound), array_agg(c.relname::text ORDER BY upper_bound),
           array_agg(n.nspname || '.' || c.relname ORDER BY upper_bound) INTO v_victims, v_names, v_configs
      FROM partman_stack.expired_partitions(v_parent, v_retention.retention) p
      JOIN pg_class c ON c.oid = p.partition
      JOIN pg_namespace n ON n.oid = c.relnamespace;
    IF v_victims IS NULL THEN
        RETURN;
    END IF;
    IF blocker IS NOT NULL THEN
        deferred := v_names;
        waited_ms := round(extract(epoch FROM clock_timestamp() - v_started) * 1000);
        RETURN;
    END IF;

    -- pg_partition_tree lists each victim first, then its sub-partitions.
    v_lock := partman_stack.lock_in_order(ARRAY[v_parent] || ARRAY(SELECT t.relid FROM unnest(v_victims) WITH ORDINALITY v(victim, n), pg_partition_tree(v.victim) t ORDER BY v.n, t.level),
                                          p_lock_timeout, p_max_wait - (clock_timestamp() - v_started));
    attempts := v_lock.attempts;
    waited_ms := round(extract(epoch FROM clock_timestamp() - v_started) * 1000);
    IF NOT v_lock.acquired THEN
        deferred := v_names;
        blocker := v_lock.blocker;
        RETURN;
    END IF;

    IF v_retention.retention_schema IS NOT NULL THEN
        SELECT relowner INTO v_owner FROM pg_class WHERE oid = v_victims[1];
        IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = v_retention.retention_schema AND nspowner = v_owner) THEN
            RAISE EXCEPTION 'retention schema % is owned by %, not by %, which owns the partitions it would receive: its owner could drop them there',
                v_retention.retention_schema, coalesce((SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = v_retention.retention_schema), 'nobody (it does not exist)'),
                pg_get_userbyid(v_owner)
                USING HINT = format('ALTER SCHEMA %I OWNER TO %I, or declare another retentionSchema', v_retention.retention_schema, pg_get_userbyid(v_owner));
        END IF;
    END IF;

    FOR v_i IN 1 .. array_length(v_victims, 1) LOOP
        IF NOT v_retention.keep_table AND v_retention.retention_schema IS NULL THEN
            EXECUTE format('DROP TABLE %s', v_victims[v_i]);
        ELSE
            EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', v_parent, v_victims[v_i]);
            IF v_retention.retention_schema IS NOT NULL THEN
                EXECUTE format('ALTER TABLE %s SET SCHEMA %I', v_victims[v_i], v_retention.retention_schema);
            END IF;
        END IF;
        DELETE FROM @extschema@.part_config WHERE parent_table = v_configs[v_i];
    END LOOP;
    expired := v_names;
END
$$;
