-- A campaign's participants who joined in a window: the campaign dashboard's sign-up list. Reads the
-- campaign's own partition through the primary key (campaign_id, joined_at, …); with monthly
-- sub-partitions the month or two (on a month's last day) the window spans.
-- @params [42, "today", "tomorrow"]
-- @maxPartitions 2
-- @index true
SELECT participant_id, joined_at, source, referred_by
  FROM public.campaign_participants
 WHERE campaign_id = $1 AND joined_at >= $2 AND joined_at < $3
 ORDER BY joined_at;
