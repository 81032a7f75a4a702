# Alerting on records that did not reach their table. The functions write
# structured JSON log lines; when a batch sends records to the dead-letter
# table they log {"event": "records_dead_lettered", "count": N, ...}. The metric
# counts those log lines per function (one line per invocation that dead-
# lettered at least one record); N itself is in the line the alert links to.

locals {
  function_service_filter = join(" OR ", [
    for name in keys(local.functions) : "resource.labels.service_name=\"${replace(name, "_", "-")}\""
  ])
}

resource "google_logging_metric" "records_dead_lettered" {
  name        = "event_ingestion_records_dead_lettered"
  description = "Invocations of the event-ingestion functions that sent records to the dead-letter table (log event records_dead_lettered)."
  filter      = "resource.type=\"cloud_run_revision\" AND (${local.function_service_filter}) AND jsonPayload.event=\"records_dead_lettered\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "event-ingestion records dead-lettered (invocations)"
  }

  depends_on = [google_project_service.main]
}

resource "google_monitoring_alert_policy" "records_dead_lettered" {
  display_name          = "event-ingestion: records sent to the dead letter (${var.environment})"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

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
    subject   = "event-ingestion: records dead-lettered in ${var.environment}"
    content   = <<-EOT
      Some records did not reach their table and were written to
      `${var.dataset_id}.ingestion_errors` (reasons, raw payload, source).

      - Log lines: Logs Explorer, `jsonPayload.event="records_dead_lettered"` (field `count`).
      - Rows: `SELECT * FROM ${var.dataset_id}.ingestion_errors WHERE received_at > TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)`.
      - Replay and triage: infra/README.md, "Dead letters".
    EOT
  }
}
