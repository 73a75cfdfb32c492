-- Audit entries of each tenant, partitioned by ranges of tenant ids and, inside each range, by day
-- (subpartition in the stack file): a range of tenants keeps its days together, and old days expire
-- range by range.
CREATE TABLE public.tenant_audit (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    tenant_id   bigint      NOT NULL,
    action      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, created_at, id)
) PARTITION BY RANGE (tenant_id);
