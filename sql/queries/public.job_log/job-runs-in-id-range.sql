-- A job's runs on one page of the log, newest first. The log pages by id, not by time: ids grow
-- with every run, so a page is a range of ids and touches the one or two partitions holding it
-- (a bound on started_at alone would scan every partition), through job_log_job_name_started_at_idx.
-- @params ["nightly", 1000, 2000]
-- @maxPartitions 2
-- @index true
SELECT id, status, started_at, finished_at
  FROM public.job_log
 WHERE job_name = $1 AND id >= $2 AND id < $3
 ORDER BY id DESC;
