-- user_activity: seed 002 activities built from pro_event_humans, incrementally.
--
-- One file, three users: Terraform's scheduled query (infra/analyst.tf, templatefile), the local
-- stack (`make activities`) and the tests (tools/catalog.py renders it). ${time_zone} and the like are settings
-- (docs/activities.md); @run_time is the run's time (a scheduled query provides it).
--
-- Rules (docs/activities.md): events of one user_pseudo_id on one channel (web, ios, android),
-- in time order; a new activity after more than ${inactivity_minutes} minutes without an event, or
-- when an event comes from an origin other than the current activity's (campaign parameters,
-- gclid, xtor, a search engine, a social network, another site). Internal navigation (no
-- traffic_origin) and direct traffic (no referrer: a reload, a bookmark) continue the activity.
--
-- Incremental and idempotent: the window starts ${lookback_days} days before the run's date in
-- ${time_zone}; every activity that ends in it, or less than ${inactivity_minutes} minutes before it
-- (a late event may extend those into it), is rebuilt from the events of the window and of the
-- day before (so a visit that began then is whole), and replaces the stored one: the MERGE
-- deletes the stored activities of that range and inserts the rebuilt ones, in one statement. Columns
-- are inserted by position (INSERT ROW): the final SELECT follows schemas/user_activity/bigquery.json.
MERGE `${project}.${dataset}.user_activity` AS target
USING (
  WITH events AS (
    SELECT
      row_id,
      event_timestamp,
      user_pseudo_id,
      user_id,
      traffic_origin,
      COALESCE(LOWER(platform), 'web') AS channel_id,
      STRUCT(
        UNIX_MILLIS(event_timestamp) AS ts, event_name AS event_name, page_name AS page_name,
        url_path_agg AS url_path_agg, offerer_id AS offerer_id, venue_id AS venue_id, offer_id AS offer_id
      ) AS event,
      -- What can start a new activity: an origin other than none (internal navigation) or direct.
      IF(traffic_origin IS NULL OR (traffic_origin.channel = 'direct' AND traffic_origin.source = '(direct)'),
         NULL, TO_JSON_STRING(traffic_origin)) AS origin_signal
    FROM `${project}.${dataset}.pro_event_humans`
    WHERE event_date >= DATE_SUB(DATE_SUB(DATE(@run_time, '${time_zone}'), INTERVAL ${lookback_days} DAY), INTERVAL 1 DAY)
  ),

  visits AS (
    SELECT
      *,
      SUM(IF(starts_visit, 1, 0)) OVER (
        PARTITION BY user_pseudo_id, channel_id ORDER BY event_timestamp, row_id ROWS UNBOUNDED PRECEDING
      ) AS visit_number
    FROM (
      SELECT
        *,
        IFNULL(
          TIMESTAMP_DIFF(event_timestamp, LAG(event_timestamp) OVER (
            PARTITION BY user_pseudo_id, channel_id ORDER BY event_timestamp, row_id
          ), MICROSECOND) > ${inactivity_minutes} * 60 * 1000000,
          TRUE) AS starts_visit
      FROM events
    )
  ),

  -- Within a visit the current origin is the last origin signal seen: an event whose signal
  -- differs from it (or that brings the first signal of a visit begun without one) starts a new
  -- activity.
  numbered AS (
    SELECT
      *,
      SUM(IF(starts_activity, 1, 0)) OVER (
        PARTITION BY user_pseudo_id, channel_id ORDER BY event_timestamp, row_id ROWS UNBOUNDED PRECEDING
      ) AS activity_number
    FROM (
      SELECT
        *,
        starts_visit OR (
          origin_signal IS NOT NULL
          AND origin_signal IS DISTINCT FROM LAST_VALUE(origin_signal IGNORE NULLS) OVER (
            PARTITION BY user_pseudo_id, channel_id, visit_number ORDER BY event_timestamp, row_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        ) AS starts_activity
      FROM visits
    )
  ),

  activity_events AS (
    SELECT
      row_id,
      event_timestamp,
      event,
      user_pseudo_id,
      channel_id,
      activity_number,
      MIN(event_timestamp) OVER activity AS start_timestamp,
      MAX(event_timestamp) OVER activity AS end_timestamp,
      COUNT(*) OVER activity AS event_count,
      FIRST_VALUE(traffic_origin) OVER (
        PARTITION BY user_pseudo_id, channel_id, activity_number ORDER BY event_timestamp, row_id
      ) AS origin,
      FIRST_VALUE(row_id) OVER (
        PARTITION BY user_pseudo_id, channel_id, activity_number ORDER BY event_timestamp, row_id
      ) AS first_row_id,
      LAST_VALUE(user_id IGNORE NULLS) OVER (
        PARTITION BY user_pseudo_id, channel_id, activity_number ORDER BY event_timestamp, row_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS user_id,
      -- Characters the events up to this one take in the serialized activity (commas included).
      SUM(LENGTH(TO_JSON_STRING(event)) + 1) OVER (
        PARTITION BY user_pseudo_id, channel_id, activity_number ORDER BY event_timestamp, row_id
        ROWS UNBOUNDED PRECEDING
      ) - 1 AS events_length
    FROM numbered
    WINDOW activity AS (PARTITION BY user_pseudo_id, channel_id, activity_number)
  ),

  described AS (
    SELECT
      *,
      UNIX_MILLIS(start_timestamp) AS ts,
      IF(channel_id IN ('ios', 'android'), 'APP_VISIT', 'SITE_VISIT') AS type,
      TIMESTAMP_DIFF(end_timestamp, start_timestamp, SECOND) AS session_duration,
      IF(end_timestamp > TIMESTAMP_SUB(@run_time, INTERVAL ${inactivity_minutes} MINUTE),
         'IN_SESSION', 'CLOSED_SESSION') AS session_status,
      -- UUID version 1 (seed 002's advice): the time fields are the start in 100 ns since
      -- 1582-10-15; clock sequence and node come from a hash of the user, the channel and the
      -- first event's row_id.
      UNIX_MICROS(start_timestamp) * 10 + 122192928000000000 AS uuid_time,
      TO_HEX(SHA256(TO_JSON_STRING([user_pseudo_id, channel_id, first_row_id]))) AS identity_hash
    FROM activity_events
  ),

  keyed AS (
    SELECT
      *,
      FORMAT('%08x-%04x-%04x-%04x-%02x%s',
        uuid_time & 0xFFFFFFFF,
        (uuid_time >> 32) & 0xFFFF,
        ((uuid_time >> 48) & 0x0FFF) | 0x1000,
        (CAST(CONCAT('0x', SUBSTR(identity_hash, 1, 4)) AS INT64) & 0x3FFF) | 0x8000,
        CAST(CONCAT('0x', SUBSTR(identity_hash, 5, 2)) AS INT64) | 0x01,
        SUBSTR(identity_hash, 7, 10)) AS unique_key
    FROM described
  ),

  sized AS (
    SELECT
      *,
      -- The serialized activity without its events; the events kept go between the brackets.
      LENGTH(TO_JSON_STRING(STRUCT(
        ts AS ts, type AS type, channel_id AS channel_id, user_pseudo_id AS user_pseudo_id, user_id AS user_id,
        session_duration AS session_duration, session_status AS session_status, origin AS origin,
        unique_key AS unique_key, ARRAY<STRING>[] AS events))) AS header_length
    FROM keyed
  )

  SELECT
    ANY_VALUE(unique_key) AS unique_key,
    DATE(ANY_VALUE(start_timestamp), '${time_zone}') AS activity_date,
    ANY_VALUE(ts) AS ts,
    ANY_VALUE(start_timestamp) AS start_timestamp,
    ANY_VALUE(end_timestamp) AS end_timestamp,
    ANY_VALUE(type) AS type,
    channel_id,
    user_pseudo_id,
    ANY_VALUE(user_id) AS user_id,
    ANY_VALUE(session_duration) AS session_duration,
    ANY_VALUE(event_count) AS event_count,
    ANY_VALUE(session_status) AS session_status,
    ANY_VALUE(origin) AS origin,
    ARRAY_AGG(IF(header_length + events_length <= 8000, event, NULL) IGNORE NULLS
              ORDER BY event_timestamp, row_id) AS events,
    LOGICAL_OR(header_length + events_length > 8000) AS events_truncated,
    ANY_VALUE(header_length) + IFNULL(MAX(IF(header_length + events_length <= 8000, events_length, NULL)), 0)
      AS serialized_length,
    ARRAY_AGG(row_id ORDER BY event_timestamp, row_id) AS event_row_ids
  FROM sized
  GROUP BY user_pseudo_id, channel_id, activity_number
  HAVING MAX(end_timestamp) >= TIMESTAMP_SUB(
    TIMESTAMP(DATE_SUB(DATE(@run_time, '${time_zone}'), INTERVAL ${lookback_days} DAY), '${time_zone}'),
    INTERVAL ${inactivity_minutes} MINUTE)
) AS source
ON FALSE
WHEN NOT MATCHED BY TARGET THEN
  INSERT ROW
WHEN NOT MATCHED BY SOURCE
  AND target.end_timestamp >= TIMESTAMP_SUB(
    TIMESTAMP(DATE_SUB(DATE(@run_time, '${time_zone}'), INTERVAL ${lookback_days} DAY), '${time_zone}'),
    INTERVAL ${inactivity_minutes} MINUTE) THEN
  DELETE
