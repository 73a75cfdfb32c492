-- One run's events in a time window: the run page's timeline. Reads one day's partition (a week's
-- or a month's where partitions are wider) through events_run_id_created_at_idx.
-- @params ["0b7e4a52-3c1d-4f7a-9d55-2f4e8f1c6a10", "today", "tomorrow"]
-- @maxPartitions 1
-- @index true
SELECT id, kind, payload, created_at
  FROM public.events
 WHERE run_id = $1 AND created_at >= $2 AND created_at < $3
 ORDER BY created_at;
