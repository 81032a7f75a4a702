-- pro_event_attributed: every pro_event_humans row with the activity it belongs to
-- (user_activity, built by schemas/user_activity/build.sql), so that "the traffic source of the
-- session" is one column (activity_origin.source) rather than a window function per query.
-- Events newer than the last build have NULL activity columns until the next one.
SELECT
  event.*,
  activity.unique_key AS activity_unique_key,
  activity.type AS activity_type,
  activity.start_timestamp AS activity_start_timestamp,
  activity.origin AS activity_origin
FROM `${project}.${dataset}.pro_event_humans` AS event
LEFT JOIN (
  SELECT event_row_id, unique_key, type, start_timestamp, origin
  FROM `${project}.${dataset}.user_activity`, UNNEST(event_row_ids) AS event_row_id
) AS activity
  ON activity.event_row_id = event.row_id
