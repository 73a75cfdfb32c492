-- An agent's events of the last hour, for its live view. Bounded by now() on both sides: an open
-- `created_at > now() - $2` would also scan every partition premade ahead and the default one.
-- now() is only known when the query runs, so even the custom plan prunes at executor startup.
-- @params ["5d2f7c1e-8a34-4b6e-9f01-7c3a2b9d4e55", "1 hour"]
-- @maxPartitions 2
-- @index true
SELECT id, run_id, kind, created_at
  FROM public.events
 WHERE agent_id = $1 AND created_at > now() - $2::interval AND created_at <= now()
 ORDER BY created_at DESC
 LIMIT 100;
