-- Events per kind over a window, for the dashboard: reads whole partitions, so no index is required.
-- @params ["yesterday", "today"]
-- @maxPartitions 1
SELECT kind, count(*)
  FROM public.events
 WHERE created_at >= $1 AND created_at < $2
 GROUP BY kind;
