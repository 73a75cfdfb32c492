-- Who joined which campaign: one partition per campaign (LIST on campaign_id, pg_partman 5.1+), so
-- a campaign's participants are read, archived or dropped as one table. joined_at leads the primary
-- key after campaign_id so that each campaign's partition can itself be split by month later.
CREATE TABLE public.campaign_participants (
    campaign_id     integer     NOT NULL,
    participant_id  bigint      NOT NULL,
    joined_at       timestamptz NOT NULL DEFAULT now(),
    referred_by     bigint,
    source          text        NOT NULL DEFAULT 'organic' CHECK (source IN ('organic', 'invite', 'ad')),
    PRIMARY KEY (campaign_id, joined_at, participant_id)
) PARTITION BY LIST (campaign_id);

CREATE INDEX campaign_participants_participant_id_idx ON public.campaign_participants (participant_id);
