-- Expires one managed set's partitions past its horizon (partman_stack.retention; for a partition
-- of a set that is itself partitioned, its parent's partman_stack.sub_retention), in the caller's
-- transaction: those expired_partitions names (older than now() - retention, or ids all below
-- max(id) - retention), never the default partition nor the last remaining one, with the parent
-- locked first and then each of them (lock_in_order). Dropped, or detached (keep_table), or
-- detached and moved to retention_schema. An expired partition that is itself partitioned goes with
-- its sub-partitions (locked after it) and its part_config row, as pg_partman's retention does. When the locks cannot be had within p_max_wait, nothing is touched and they are
-- returned as deferred, with who held them.
-- A set referenced by a foreign key: each partition detached first, then dropped; while rows still
-- reference an expired partition, the set's expiry is refused with which table and constraint hold
-- it (detach_partition), and nothing of the set is expired in that run.
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
    v_referenced boolean;
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

    -- A set another table references by a foreign key: PostgreSQL refuses to DROP its partition,
    -- and checks at DETACH that no row references it (detach_partition), so expired partitions are
    -- detached first, then dropped. pg_partman 5.5.0 keeps the same rule in
    -- part_config.detach_before_drop: set, for its own retention to follow (were it turned on).
    v_referenced := EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = v_parent);
    IF @partman_has_detach_before_drop@ AND v_referenced THEN
        UPDATE @extschema@.part_config SET detach_before_drop = true WHERE parent_table = p_parent_table AND detach_before_drop IS NOT TRUE;
    END IF;

    FOR v_i IN 1 .. array_length(v_victims, 1) LOOP
        IF NOT v_retention.keep_table AND v_retention.retention_schema IS NULL THEN
            IF v_referenced THEN
                PERFORM partman_stack.detach_partition(v_parent, v_victims[v_i]);
            END IF;
            EXECUTE format('DROP TABLE %s', v_victims[v_i]);
        ELSE
            PERFORM partman_stack.detach_partition(v_parent, v_victims[v_i]);
            IF v_retention.retention_schema IS NOT NULL THEN
                EXECUTE format('ALTER TABLE %s SET SCHEMA %I', v_victims[v_i], v_retention.retention_schema);
            END IF;
        END IF;
        DELETE FROM @extschema@.part_config WHERE parent_table = v_configs[v_i];
    END LOOP;
    expired := v_names;
END
$$;

-- Detaches p_partition from p_parent (both locked by the caller). PostgreSQL checks at DETACH that no
-- row of a table with a foreign key to the set references the partition: while one does, the error
-- names the referencing table and constraint (the set's own, not its per-partition clone), the
-- referenced key, and what to do.
CREATE OR REPLACE FUNCTION partman_stack.detach_partition(p_parent regclass, p_partition regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_schema     text;
    v_table      text;
    v_detail     text;
    v_references text;
BEGIN
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', partman_stack.relation_name(p_parent), partman_stack.relation_name(p_partition));
EXCEPTION WHEN foreign_key_violation THEN
    GET STACKED DIAGNOSTICS v_schema = SCHEMA_NAME, v_table = TABLE_NAME, v_detail = PG_EXCEPTION_DETAIL;
    SELECT string_agg(quote_ident(c.conname), ', ' ORDER BY c.conname) INTO v_references
      FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
     WHERE c.contype = 'f' AND c.confrelid = p_parent AND c.conparentid = 0
       AND n.nspname = v_schema AND r.relname = v_table;
    RAISE EXCEPTION 'partition % of % is past retention but not expired: rows of %.% still reference it through foreign key %',
        partman_stack.relation_name(p_partition), partman_stack.relation_name(p_parent), quote_ident(v_schema), quote_ident(v_table),
        coalesce(v_references, 'constraints referencing the set')
        USING ERRCODE = 'foreign_key_violation', DETAIL = v_detail,
              HINT = format('delete those rows of %I.%I, or point them at rows of newer partitions (a DETACH checks the references whatever the foreign key''s ON DELETE action), then the next maintenance run detaches and drops %s; nothing of %s was expired meanwhile',
                            v_schema, v_table, partman_stack.relation_name(p_partition), partman_stack.relation_name(p_parent));
END
$$;
