-- One job run by its id: the run's detail page, linked from notifications. Reads the one partition
-- holding the id through its primary key.
-- @params [1500]
-- @maxPartitions 1
-- @index true
SELECT id, job_name, status, started_at, finished_at, message
  FROM public.job_log
 WHERE id = $1;
