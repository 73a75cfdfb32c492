-- Events per kind over a window, for the dashboard: reads whole partitions, so no index is required.
-- The window's ends are keys, as in user-events-in-window.sql.
-- @params ["yesterday", "today"]
-- @maxPartitions 1
SELECT kind, count(*)
  FROM public.user_events
 WHERE id >= (lpad(to_hex(floor(extract(epoch FROM $1::timestamptz) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid
   AND id < (lpad(to_hex(floor(extract(epoch FROM $2::timestamptz) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid
 GROUP BY kind;
