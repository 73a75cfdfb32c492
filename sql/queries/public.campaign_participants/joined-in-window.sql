-- A campaign's participants who joined in a window: the campaign dashboard's sign-up list. Reads the
-- campaign's own partition through the primary key (campaign_id, joined_at, …).
-- @params [42, "today", "tomorrow"]
-- @maxPartitions 1
-- @index true
SELECT participant_id, joined_at, source, referred_by
  FROM public.campaign_participants
 WHERE campaign_id = $1 AND joined_at >= $2 AND joined_at < $3
 ORDER BY joined_at;
