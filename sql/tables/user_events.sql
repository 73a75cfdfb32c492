-- Events keyed by UUIDv7 ids the application generates (declared with uuidv7: true, pg_partman
-- 5.2+): partitioned by the time inside each id, daily partitions bounded by the smallest UUIDv7
-- of each UTC midnight. No timestamp column is needed to prune: the id is the time.
CREATE TABLE public.user_events (
    id       uuid  NOT NULL,
    user_id  bigint NOT NULL,
    kind     text  NOT NULL,
    payload  jsonb,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);

CREATE INDEX user_events_user_id_id_idx ON public.user_events (user_id, id);
