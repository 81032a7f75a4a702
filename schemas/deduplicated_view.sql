-- ${table}_deduplicated: ${table} without duplicate deliveries, one row per row_id (the copy
-- ingested first). Every table whose table.json declares an identity (row_id identifies its
-- records) gets one (tools/catalog.py,
-- infra/analyst.tf). Rows with the same row_id share ${partition_column} (it is computed from the
-- record), so the window is partitioned by it too: an analyst's filter on ${partition_column}
-- is pushed below the window and still prunes partitions.
SELECT *
FROM `${project}.${dataset}.${table}`
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY ${partition_column}, row_id
  ORDER BY ingested_at, ingestion_source
) = 1
