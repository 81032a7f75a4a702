-- ${table}_deduplicated: ${table} without duplicate deliveries, one row per ${identity}: the
-- copy that comes first by ${kept_copy}. Every table whose table.json declares an identity gets
-- one (tools/catalog.py Identity, infra/analyst.tf). When the copies of one identity share the
-- partitioning column (it is computed from the record, as event_date is), the window is
-- partitioned by it too: an analyst's filter on it is pushed below the window and still prunes
-- partitions. When that column is each copy's own arrival time (the audit's started_at, the dead
-- letter's received_at), it cannot be: the view reads every partition.
SELECT *
FROM `${project}.${dataset}.${table}`
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY ${window_partition}
  ORDER BY ${kept_copy}
) = 1
