-- One user's events in a time window: the activity feed, through user_events_user_id_id_idx.
-- The window is bounded by keys: the smallest UUIDv7 of each end (its 48 bits of milliseconds,
-- then zeros), computed inline from times. Not with pg_partman's uuid7_time_encoder: it is
-- VOLATILE, and a volatile bound prunes nothing. An application making the keys itself passes
-- them as uuid parameters instead.
-- @params [42, "today", "tomorrow"]
-- @maxPartitions 1
-- @index true
SELECT id, kind, payload
  FROM public.user_events
 WHERE user_id = $1
   AND id >= (lpad(to_hex(floor(extract(epoch FROM $2::timestamptz) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid
   AND id < (lpad(to_hex(floor(extract(epoch FROM $3::timestamptz) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid
 ORDER BY id;
