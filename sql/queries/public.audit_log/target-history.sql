-- Everything done to one object in a window: its history tab, through
-- audit_log_target_created_at_idx.
-- @params ["document", "42", "today", "tomorrow"]
-- @maxPartitions 1
-- @index true
SELECT actor, action, details, created_at
  FROM public.audit_log
 WHERE target_type = $1 AND target_id = $2 AND created_at >= $3 AND created_at < $4
 ORDER BY created_at;
