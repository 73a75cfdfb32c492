-- One row per job run, partitioned by ranges of its id (the log grows with every run, not with
-- time: a quiet week makes no empty partitions). Retention keeps the newest ids.
CREATE TABLE public.job_log (
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    job_name     text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('started', 'succeeded', 'failed')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    message      text,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);

CREATE INDEX job_log_job_name_started_at_idx ON public.job_log (job_name, started_at);
