-- Has this participant joined this campaign: checked on every sign-up. Reads the campaign's own
-- partition through campaign_participants_participant_id_idx.
-- @params [42, 1001]
-- @maxPartitions 1
-- @index true
SELECT joined_at, source
  FROM public.campaign_participants
 WHERE campaign_id = $1 AND participant_id = $2;
