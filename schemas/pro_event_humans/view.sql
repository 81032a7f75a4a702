-- pro_event_humans: pro_event_deduplicated without bots (docs/tables/pro_event_humans.md).
-- A row is a bot's when the user agent parser classified the device as one, or when its
-- browser or user_pseudo_id is listed in schemas/pro_event_humans/bots.json.
SELECT *
FROM `${project}.${dataset}.pro_event_deduplicated`
WHERE NOT (
  IFNULL(user_device_category = 'bot', FALSE)
  OR IFNULL(user_web_browser IN UNNEST(ARRAY<STRING>${bot_browsers}), FALSE)
  OR user_pseudo_id IN UNNEST(ARRAY<STRING>${bot_user_pseudo_ids})
)
