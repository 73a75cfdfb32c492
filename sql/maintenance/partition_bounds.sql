-- Where a set's partitions lie, for premake, expire and archive alike: time sets (a timestamptz,
-- timestamp or date control column, an integer one holding epoch times, or a uuid or text one holding
-- times through pg_partman 5.2's time decoder, e.g. UUIDv7 keys) and integer-range sets
-- (smallint, integer or bigint) on one numeric axis: epoch seconds (in the session's TimeZone:
-- partman-stack's sessions and procedures run in UTC) or the ids themselves. A list set's partition
-- (pg_partman 5.1+: FOR VALUES IN (n), one integer each) lies on the id axis as [n, n + 1).

-- What this file replaces (it held time sets only).
DROP FUNCTION IF EXISTS partman_stack.time_partitions(regclass);

-- Its result gained per_second (epoch sets) and decoder (uuid and text sets), which CREATE OR
-- REPLACE cannot change.
DROP FUNCTION IF EXISTS partman_stack.set_kind(regclass);

-- 'time' or 'id', the control column, for an integer column holding epoch times (pg_partman's
-- part_config.epoch) how many of its units make a second, and for a uuid or text column the
-- function decoding its times (part_config.time_decoder, read through to_jsonb: only 5.2 has the
-- column); no row for a set partitioned on anything else.
CREATE OR REPLACE FUNCTION partman_stack.set_kind(p_parent regclass, OUT kind text, OUT control name, OUT per_second numeric, OUT decoder regproc)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT CASE WHEN a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN 'time'
                WHEN a.atttypid IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
                    CASE WHEN coalesce(pc.epoch, 'none') = 'none' THEN 'id' ELSE 'time' END
                WHEN a.atttypid IN ('uuid'::regtype, 'text'::regtype) AND to_jsonb(pc)->>'time_decoder' IS NOT NULL THEN 'time' END,
           a.attname,
           CASE pc.epoch WHEN 'seconds' THEN 1 WHEN 'milliseconds' THEN 1e3 WHEN 'microseconds' THEN 1e6 WHEN 'nanoseconds' THEN 1e9 END,
           (to_jsonb(pc)->>'time_decoder')::regproc
      FROM pg_partitioned_table pt
      JOIN pg_class c ON c.oid = pt.partrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
      LEFT JOIN @extschema@.part_config pc ON pc.parent_table = n.nspname || '.' || c.relname
     WHERE pt.partrelid = p_parent
$$;

-- A bound of a uuid or text set as a time, through the set's decoder (a regproc: formatted as a
-- quoted name, never as text from the catalog).
CREATE OR REPLACE FUNCTION partman_stack.decode_time(p_decoder regproc, p_value text)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_time timestamptz;
BEGIN
    EXECUTE format('SELECT %s($1)', p_decoder) INTO v_time USING p_value;
    RETURN v_time;
END
$$;

-- The set's range or list partitions with their bounds on that axis (the upper one exclusive), never
-- the default partition.
CREATE OR REPLACE FUNCTION partman_stack.partition_bounds(p_parent regclass)
RETURNS TABLE (partition regclass, lower_bound numeric, upper_bound numeric)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT c.oid::regclass,
           CASE WHEN k.kind = 'id' THEN b.m[1]::numeric WHEN k.per_second IS NOT NULL THEN b.m[1]::numeric / k.per_second
                WHEN k.decoder IS NOT NULL THEN extract(epoch FROM partman_stack.decode_time(k.decoder, b.m[1])) ELSE extract(epoch FROM b.m[1]::timestamptz) END,
           CASE WHEN k.kind = 'id' THEN b.m[2]::numeric WHEN k.per_second IS NOT NULL THEN b.m[2]::numeric / k.per_second
                WHEN k.decoder IS NOT NULL THEN extract(epoch FROM partman_stack.decode_time(k.decoder, b.m[2])) ELSE extract(epoch FROM b.m[2]::timestamptz) END
      FROM partman_stack.set_kind(p_parent) k
      JOIN pg_inherits i ON i.inhparent = p_parent
      JOIN pg_class c ON c.oid = i.inhrelid
      CROSS JOIN LATERAL (SELECT coalesce(regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''?([^'')]*)''?\) TO \(''?([^'')]*)''?\)'),
                                          (SELECT ARRAY[v[1], (v[1]::numeric + 1)::text]
                                             FROM regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES IN \(''?(-?\d+)''?\)$') AS v)) AS m) AS b
     -- The default partition matches neither: its m is an array of NULLs, not NULL.
     WHERE k.kind IS NOT NULL AND b.m[1] IS NOT NULL
$$;

-- How far the set's partitions must reach: p_premake intervals past now() (time), or past the
-- highest id (integer range; NULL while the set holds no row, when pg_partman makes nothing).
-- The highest id is read in a subtransaction that is then rolled back, so no lock on the set
-- outlives the read: the callers lock the parent first afterwards (lock_in_order).
CREATE OR REPLACE FUNCTION partman_stack.premake_reach(p_parent regclass, p_interval text, p_premake integer)
RETURNS numeric
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_set record := partman_stack.set_kind(p_parent);
BEGIN
    IF v_set.kind = 'time' THEN
        RETURN extract(epoch FROM now() + p_premake * p_interval::interval);
    END IF;
    RETURN partman_stack.max_id(p_parent, v_set.control) + p_premake * p_interval::numeric;
END
$$;

-- The partitions past a set's retention horizon, oldest first, never the newest one (pg_partman's
-- rules): a time set's whose upper bound is older than now() - p_retention (an interval), an
-- integer-range set's whose ids all lie below max(id) - p_retention (a number of ids).
CREATE OR REPLACE FUNCTION partman_stack.expired_partitions(p_parent regclass, p_retention text)
RETURNS TABLE (partition regclass, lower_bound numeric, upper_bound numeric)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_set     record := partman_stack.set_kind(p_parent);
    v_horizon numeric;
BEGIN
    IF v_set.kind = 'time' THEN
        v_horizon := extract(epoch FROM now() - p_retention::interval);
    ELSE
        -- An upper bound is exclusive: a partition ending at max(id) - retention holds only ids below it.
        v_horizon := partman_stack.max_id(p_parent, v_set.control) - p_retention::numeric + 1;
    END IF;
    RETURN QUERY
        SELECT p.partition, p.lower_bound, p.upper_bound
          FROM (SELECT b.*, row_number() OVER (ORDER BY b.upper_bound) AS i, count(*) OVER () AS n
                  FROM partman_stack.partition_bounds(p_parent) b) p
         WHERE p.upper_bound < v_horizon AND p.i < p.n
         ORDER BY p.upper_bound;
END
$$;

-- max(control) of an integer-range set without keeping the locks the read takes (see premake_reach).
CREATE OR REPLACE FUNCTION partman_stack.max_id(p_parent regclass, p_control name)
RETURNS numeric
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_max numeric;
BEGIN
    BEGIN
        EXECUTE format('SELECT max(%I) FROM %s', p_control, partman_stack.relation_name(p_parent)) INTO v_max;
        RAISE SQLSTATE 'PSRB1';
    EXCEPTION WHEN SQLSTATE 'PSRB1' THEN
        NULL;
    END;
    RETURN v_max;
END
$$;
