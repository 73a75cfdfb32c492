-- What partman-stack's pg_cron job calls: pg_partman's maintenance, always in UTC.
--
-- pg_partman lays daily, weekly and monthly boundaries out in the session's TimeZone, and a pg_cron
-- job runs in the server's (or its database's or role's) TimeZone. partman-stack's own sessions run
-- in UTC, so the scheduled job must too, or a server in America/New_York would add partitions
-- starting at 05:00 UTC after apply laid out ones starting at midnight UTC.
--
-- The settings are made in the body: a SET clause on the procedure would forbid the COMMIT that
-- run_maintenance_proc makes after each partition set. pg_cron opens a new session for every run,
-- so they end with the run. @extschema@ is pg_partman's schema, filled in by partman-stack.
-- SECURITY INVOKER (the default): it can do no more than the role that calls it.

CREATE SCHEMA IF NOT EXISTS partman_stack;
GRANT USAGE ON SCHEMA partman_stack TO PUBLIC;

CREATE OR REPLACE PROCEDURE partman_stack.run_maintenance(p_analyze boolean DEFAULT false)
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM set_config('TimeZone', 'UTC', false);
    PERFORM set_config('IntervalStyle', 'postgres', false);
    CALL @extschema@.run_maintenance_proc(p_analyze => p_analyze);
END
$$;
