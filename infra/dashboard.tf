# One Cloud Monitoring dashboard: records in and out per contract, dead-lettered
# records by error type, consent outcomes, function latency, instances and 5xx,
# backlog and dead-letter holds. Charts are PromQL over the log-based metrics of
# monitoring.tf (a distribution's values sum to `<metric>_sum`) and Cloud Run's
# and Pub/Sub's own metrics.

locals {
  # PromQL of the sum of one ingested count per contract, over 5-minute windows.
  ingested_promql = {
    for name in local.ingested_counts : name =>
    "sum by (contract) (increase(logging_googleapis_com:user_event_ingestion_${name}_sum{monitored_resource=\"cloud_run_revision\"}[5m]))"
  }

  # One series per error type, labelled error_type, in one query.
  dead_lettered_by_kind_promql = join(" or ", [
    for kind in local.failure_kinds :
    "label_replace(sum(increase(logging_googleapis_com:user_event_ingestion_dead_lettered_${kind}_sum{monitored_resource=\"cloud_run_revision\"}[5m])), \"error_type\", \"${kind}\", \"\", \"\")"
  ])

  run_services = "service_name=~\"${join("|", local.function_services)}\",monitored_resource=\"cloud_run_revision\""

  dashboard_charts = [
    { title = "Records received per contract (5 min)", queries = [local.ingested_promql["received"]] },
    { title = "Records out per contract: rows sent, dead-lettered (5 min)", queries = [local.ingested_promql["rows_sent"], local.ingested_promql["dead_lettered"]] },
    { title = "Dead-lettered records by error type (5 min)", queries = [local.dead_lettered_by_kind_promql] },
    { title = "Consent outcomes per contract: dropped, pseudonymised (5 min)", queries = [local.ingested_promql["consent_dropped"], local.ingested_promql["pseudonymised"]] },
    { title = "Function latency p50 / p95 (ms)", queries = [
      "histogram_quantile(0.5, sum by (service_name, le) (rate(run_googleapis_com:request_latencies_bucket{${local.run_services}}[5m])))",
      "histogram_quantile(0.95, sum by (service_name, le) (rate(run_googleapis_com:request_latencies_bucket{${local.run_services}}[5m])))",
    ] },
    { title = "Instances per function", queries = ["sum by (service_name) (run_googleapis_com:container_instance_count{${local.run_services}})"] },
    { title = "5xx responses per function (5 min)", queries = ["sum by (service_name) (increase(run_googleapis_com:request_count{${local.run_services},response_code_class=\"5xx\"}[5m]))"] },
    { title = "Oldest unacked message of the Eventarc subscriptions (s)", queries = ["max by (subscription_id) (pubsub_googleapis_com:subscription_oldest_unacked_message_age{monitored_resource=\"pubsub_subscription\",subscription_id=~\"eventarc-.*\"})"] },
    { title = "Messages held in dead-letter hold subscriptions", queries = ["max by (subscription_id) (pubsub_googleapis_com:subscription_num_undelivered_messages{monitored_resource=\"pubsub_subscription\",subscription_id=~\".*-dead-letter-hold\"})"] },
  ]
}

resource "google_monitoring_dashboard" "main" {
  dashboard_json = jsonencode({
    displayName = "event-ingestion (${var.environment})"
    mosaicLayout = {
      columns = 48
      tiles = [
        for i, chart in local.dashboard_charts : {
          xPos   = (i % 2) * 24
          yPos   = floor(i / 2) * 16
          width  = 24
          height = 16
          widget = {
            title = chart.title
            xyChart = {
              dataSets = [for query in chart.queries : { plotType = "LINE", timeSeriesQuery = { prometheusQuery = query } }]
            }
          }
        }
      ]
    }
  })

  depends_on = [google_logging_metric.ingested, google_logging_metric.dead_lettered_by_kind]
}
