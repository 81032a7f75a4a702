# Alerts, and the log-based metrics they and the dashboard read.
#
# Pages (var.notification_channels, severity CRITICAL) for what loses or stalls
# data: failing invocations, a growing backlog, messages in a dead-letter hold
# subscription, an audit that does not balance, a topic gone silent. A warning
# (var.warning_notification_channels) for records kept in the dead-letter table,
# the safe path. Each alert's documentation links to its section of
# docs/runbook.md; tests/infra checks that every alert has one that exists.
#
# The functions log one JSON object per line (functions/ingest/logs.py): one
# `ingested` line per invocation with its counts and `balanced`, and one
# `records_dead_lettered` line per invocation that dead-lettered records, with
# `count` and `error_types` (kind -> records).

locals {
  function_services       = [for name in keys(local.functions) : replace(name, "_", "-")]
  function_service_filter = join(" OR ", [for s in local.function_services : "resource.labels.service_name=\"${s}\""])
  function_log_filter     = "resource.type=\"cloud_run_revision\" AND (${local.function_service_filter})"

  runbook = {
    function_errors        = "${var.runbook_url}#function-errors"
    backlog_age            = "${var.runbook_url}#backlog-age"
    dead_lettered_messages = "${var.runbook_url}#dead-lettered-messages"
    unbalanced_audit       = "${var.runbook_url}#unbalanced-audit"
    no_traffic             = "${var.runbook_url}#no-traffic"
    records_dead_lettered  = "${var.runbook_url}#records-dead-lettered"
  }

  # Counts of the `ingested` line (functions/ingest/sinks/audit.py Counts), as
  # distributions per function and contract; their sums are the dashboard's records.
  ingested_counts = ["received", "rows_sent", "dead_lettered", "consent_dropped", "pseudonymised", "skipped", "duplicates_in_batch", "unmapped"]

  # ingest.errors.FailureKind, the keys of `error_types` (tests/infra keeps them equal).
  failure_kinds = [
    "invalid_json", "invalid_csv", "schema_violation", "invalid_value", "oversized", "oversized_message", "undecodable_message",
    "undecodable_file", "rejected_by_bigquery", "unknown_contract", "unsupported_format", "object_missing",
    "internal_error",
  ]

  hold_subscription_filter = join(", ", [for name, topic in local.dead_letter_topics : "\"${topic}-hold\""])

  function_labels = {
    function = "EXTRACT(jsonPayload.function)"
    contract = "EXTRACT(jsonPayload.contract)"
  }
}

# --- Log-based metrics -----------------------------------------------------------

resource "google_logging_metric" "records_dead_lettered" {
  name        = "event_ingestion_records_dead_lettered"
  description = "Invocations of the event-ingestion functions that sent records to the dead-letter table (log event records_dead_lettered; `count` records each)."
  filter      = "${local.function_log_filter} AND jsonPayload.event=\"records_dead_lettered\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "event-ingestion invocations with dead-lettered records"

    labels {
      key        = "function"
      value_type = "STRING"
    }
    labels {
      key        = "contract"
      value_type = "STRING"
    }
  }
  label_extractors = local.function_labels

  depends_on = [google_project_service.main]
}

resource "google_logging_metric" "unbalanced_audits" {
  name        = "event_ingestion_unbalanced_audits"
  description = "Invocations whose ingested line says balanced=false: received is not the sum of the outcomes."
  filter      = "${local.function_log_filter} AND jsonPayload.event=\"ingested\" AND jsonPayload.balanced=false"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "event-ingestion unbalanced audits"

    labels {
      key        = "function"
      value_type = "STRING"
    }
    labels {
      key        = "contract"
      value_type = "STRING"
    }
  }
  label_extractors = local.function_labels

  depends_on = [google_project_service.main]
}

resource "google_logging_metric" "ingested" {
  for_each = toset(local.ingested_counts)

  name            = "event_ingestion_${each.value}"
  description     = "Records counted as ${each.value} by each invocation (ingested log line), by function and contract."
  filter          = "${local.function_log_filter} AND jsonPayload.event=\"ingested\""
  value_extractor = "EXTRACT(jsonPayload.${each.value})"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "event-ingestion records: ${each.value}"

    labels {
      key        = "function"
      value_type = "STRING"
    }
    labels {
      key        = "contract"
      value_type = "STRING"
    }
  }
  label_extractors = local.function_labels

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 4
      scale              = 1
    }
  }

  depends_on = [google_project_service.main]
}

resource "google_logging_metric" "dead_lettered_by_kind" {
  for_each = toset(local.failure_kinds)

  name            = "event_ingestion_dead_lettered_${each.value}"
  description     = "Records dead-lettered as ${each.value} (error_types of the records_dead_lettered line), by function and contract."
  filter          = "${local.function_log_filter} AND jsonPayload.event=\"records_dead_lettered\" AND jsonPayload.error_types.${each.value}>0"
  value_extractor = "EXTRACT(jsonPayload.error_types.${each.value})"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "event-ingestion records dead-lettered: ${each.value}"

    labels {
      key        = "function"
      value_type = "STRING"
    }
    labels {
      key        = "contract"
      value_type = "STRING"
    }
  }
  label_extractors = local.function_labels

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 4
      scale              = 1
    }
  }

  depends_on = [google_project_service.main]
}

# --- Pages -----------------------------------------------------------------------

resource "google_monitoring_alert_policy" "function_errors" {
  display_name          = "event-ingestion: function 5xx responses (${var.environment})"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels

  conditions {
    display_name = "5xx responses of one function over ${var.function_error_alert_threshold} in 5 min"

    condition_threshold {
      filter          = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND metric.labels.response_code_class=\"5xx\" AND (${local.function_service_filter})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.function_error_alert_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "event-ingestion: a function is failing in ${var.environment}"
    content   = <<-EOT
      A function answers 5xx: its events are not processed and are being delivered again
      (after `max_delivery_attempts` they go to its dead-letter topic).
      Crash lines: `jsonPayload.event="invocation_failed"` (labels: message id or object).

      Runbook: ${local.runbook.function_errors}
    EOT
  }
}

resource "google_monitoring_alert_policy" "backlog_age" {
  display_name          = "event-ingestion: oldest unacknowledged message (${var.environment})"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels

  conditions {
    display_name = "oldest unacked message of an Eventarc subscription older than ${var.backlog_age_alert_seconds} s"

    # The trigger subscriptions are Eventarc's (eventarc-<region>-<trigger>-sub-N);
    # the project holds this pipeline only, so every Eventarc subscription is one of ours.
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=starts_with(\"eventarc-\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.backlog_age_alert_seconds
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.label.subscription_id"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "event-ingestion: messages are waiting in ${var.environment}"
    content   = <<-EOT
      A function's Eventarc subscription holds a message older than ${var.backlog_age_alert_seconds} s:
      the function fails on it, cannot keep up, or cannot start. Eventarc keeps messages 24 hours.

      Runbook: ${local.runbook.backlog_age}
    EOT
  }
}

resource "google_monitoring_alert_policy" "dead_lettered_messages" {
  display_name          = "event-ingestion: messages in a dead-letter hold subscription (${var.environment})"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels

  conditions {
    display_name = "a <source>-dead-letter-hold subscription holds a message"

    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=one_of(${local.hold_subscription_filter})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.label.subscription_id"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "604800s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "event-ingestion: a message was dead-lettered in ${var.environment}"
    content   = <<-EOT
      A message failed every delivery attempt and is now held, for 7 days, in its dead-letter hold
      subscription. Its records are in no table: replay it once the cause is fixed.

      Runbook: ${local.runbook.dead_lettered_messages}
    EOT
  }
}

resource "google_monitoring_alert_policy" "unbalanced_audit" {
  display_name          = "event-ingestion: ingestion audit does not balance (${var.environment})"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels

  conditions {
    display_name = "an ingested log line with balanced=false"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.unbalanced_audits.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.function"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "event-ingestion: records unaccounted for in ${var.environment}"
    content   = <<-EOT
      An invocation's counts do not add up (received != rows_sent + dead_lettered +
      consent_dropped + skipped + duplicates_in_batch): some records are unaccounted for.
      Log lines: `jsonPayload.event="ingested" AND jsonPayload.balanced=false`.

      Runbook: ${local.runbook.unbalanced_audit}
    EOT
  }
}

resource "google_monitoring_alert_policy" "no_traffic" {
  for_each = var.no_traffic_alert_window == null ? {} : local.topics

  display_name          = "event-ingestion: no messages published to ${each.value} (${var.environment})"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels

  conditions {
    display_name = "no message published to ${each.value} for ${var.no_traffic_alert_window}"

    condition_absent {
      filter   = "metric.type=\"pubsub.googleapis.com/topic/send_request_count\" AND resource.type=\"pubsub_topic\" AND resource.labels.topic_id=\"${each.value}\""
      duration = var.no_traffic_alert_window

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "event-ingestion: ${each.value} went silent in ${var.environment}"
    content   = <<-EOT
      Nothing was published to `${each.value}` for ${var.no_traffic_alert_window}: the producers
      may have stopped, or lost their permission to publish.

      Runbook: ${local.runbook.no_traffic}
    EOT
  }
}

# --- Warning ---------------------------------------------------------------------

resource "google_monitoring_alert_policy" "records_dead_lettered" {
  display_name          = "event-ingestion: records sent to the dead letter (${var.environment})"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.warning_notification_channels

  conditions {
    display_name = "records_dead_lettered log events over ${var.dead_letter_alert_threshold} in 5 min"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.records_dead_lettered.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.dead_letter_alert_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.contract"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "event-ingestion: records dead-lettered in ${var.environment}"
    content   = <<-EOT
      Some records did not reach their table and were kept in `${var.dataset_id}.ingestion_errors`
      with their reasons; the rest of their messages landed. Nothing is lost.
      Log lines: `jsonPayload.event="records_dead_lettered"` (`count`, `error_types`).

      Runbook: ${local.runbook.records_dead_lettered}
    EOT
  }
}
