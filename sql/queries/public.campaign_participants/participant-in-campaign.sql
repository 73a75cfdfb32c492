-- Has this participant joined this campaign: checked on every sign-up. Reads the campaign's own
-- partition through campaign_participants_participant_id_idx: with monthly sub-partitions (the 5.x
-- stacks) every month of it, so the bound allows a year of months plus the premade ones and its
-- default (test/integration/campaign-participants.test.ts proves they are all the one campaign's).
-- @params [42, 1001]
-- @maxPartitions 16
-- @index true
SELECT joined_at, source
  FROM public.campaign_participants
 WHERE campaign_id = $1 AND participant_id = $2;
