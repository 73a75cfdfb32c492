-- What one actor did in a window, newest first: the audit screen's per-user view, through
-- audit_log_actor_created_at_idx.
-- @params ["alice@example.com", "yesterday", "tomorrow"]
-- @maxPartitions 2
-- @index true
SELECT action, target_type, target_id, details, created_at
  FROM public.audit_log
 WHERE actor = $1 AND created_at >= $2 AND created_at < $3
 ORDER BY created_at DESC
 LIMIT 100;
