-- Readings as devices send them, stamped with epoch milliseconds in a bigint (declared with
-- epoch: milliseconds): partitioned by time all the same, daily partitions bounded by the
-- milliseconds of each UTC midnight.
CREATE TABLE public.sensor_readings (
    sensor_id    integer          NOT NULL,
    recorded_ms  bigint           NOT NULL,
    value        double precision NOT NULL,
    PRIMARY KEY (sensor_id, recorded_ms)
) PARTITION BY RANGE (recorded_ms);

CREATE INDEX sensor_readings_recorded_ms_idx ON public.sensor_readings (recorded_ms);
