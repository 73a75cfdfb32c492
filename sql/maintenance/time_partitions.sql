-- The range partitions of a set partitioned on a timestamptz, timestamp or date column, with their
-- bounds (in the session's TimeZone: partman-stack's sessions and procedures run in UTC). No rows
-- for other sets, and never the default partition.
CREATE OR REPLACE FUNCTION partman_stack.time_partitions(p_parent regclass)
RETURNS TABLE (partition regclass, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql
STABLE
AS $$
    SELECT c.oid::regclass, b.m[1]::timestamptz, b.m[2]::timestamptz
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']*)''\) TO \(''([^'']*)''\)') AS b(m)
     WHERE i.inhparent = p_parent
       AND b.m IS NOT NULL
       AND (SELECT a.atttypid FROM pg_partitioned_table pt
              JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
             WHERE pt.partrelid = p_parent) IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
$$;
