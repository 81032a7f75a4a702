# The three Cloud Functions (gen2), one per entry point of functions/main.py,
# each triggered through Eventarc and running as its own service account
# (iam.tf). The same source archive (bundle.tf) serves all three.

locals {
  # Entry point => trigger. `source_name` names the function's dead-letter topic;
  # `contracts` are the tables it writes besides the dead letter and the audit
  # (main.py's @handler contracts; ingest_file: every prefix of ingest/files.py).
  functions = {
    ingest_events = {
      description   = "Tracking events published to ${var.events_topic_name} -> ${var.dataset_id}.pro_event"
      source_name   = var.events_topic_name
      contracts     = ["pro_event"]
      event_type    = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic  = google_pubsub_topic.main["events"].id
      event_filters = {}
    }
    ingest_logs = {
      description   = "Backend logs published to ${var.logs_topic_name} -> ${var.dataset_id}.pro_log"
      source_name   = var.logs_topic_name
      contracts     = ["pro_log"]
      event_type    = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic  = google_pubsub_topic.main["logs"].id
      event_filters = {}
    }
    ingest_file = {
      description   = "Files dropped in gs://${local.partner_bucket_name} -> the table their prefix names"
      source_name   = "partner-drops"
      contracts     = ["pro_event", "pro_log", "userpilot_event"]
      event_type    = "google.cloud.storage.object.v1.finalized"
      pubsub_topic  = null
      event_filters = { bucket = google_storage_bucket.partner_drops.name }
    }
  }

  # Read by functions/ingest/config.py. Null values (optional settings left
  # unset) are dropped, so the code's own defaults apply.
  function_environment = { for name, value in {
    GCP_PROJECT        = var.project_id
    BQ_DATASET         = var.dataset_id
    TIME_ZONE          = var.time_zone
    LOG_LEVEL          = var.log_level
    ENVIRONMENT        = var.environment
    EVENTS_TOPIC       = var.events_topic_name
    LOGS_TOPIC         = var.logs_topic_name
    MAX_RECORD_BYTES   = var.max_record_bytes == null ? null : tostring(var.max_record_bytes)
    REFERENCE_DATA_URI = var.reference_data_uri
    STATE_BUCKET       = local.state_bucket_name
    FILE_TASKS_TOPIC   = var.file_tasks_topic_name
    # Ties every ingestion_errors / ingestion_audit row to the exact source it was made by.
    CODE_VERSION = substr(data.archive_file.function_source.output_sha256, 0, 12)
  } : name => value if value != null }
}

# Images Cloud Build makes from the source: a repository of our own so that old
# images are cleaned up (the default gcf-artifacts repository keeps them all).
resource "google_artifact_registry_repository" "functions" {
  location               = var.region
  repository_id          = "event-ingestion-functions"
  description            = "Container images built by Cloud Functions from the event-ingestion source."
  format                 = "DOCKER"
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  #checkov:skip=CKV_GCP_84:Google-managed encryption at rest; CMEK would need a Cloud KMS key and service-agent grants per environment, out of scope for this stack.

  depends_on = [google_project_service.main]
}

resource "google_cloudfunctions2_function" "main" {
  for_each = local.functions

  name        = replace(each.key, "_", "-")
  location    = var.region
  description = each.value.description

  build_config {
    runtime           = "python311"
    entry_point       = each.key
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source.name
      }
    }
  }

  service_config {
    available_cpu                    = var.function_sizing[each.key].available_cpu
    available_memory                 = var.function_sizing[each.key].available_memory
    max_instance_request_concurrency = var.function_sizing[each.key].max_instance_request_concurrency
    max_instance_count               = var.function_sizing[each.key].max_instance_count
    min_instance_count               = 0
    timeout_seconds                  = var.function_sizing[each.key].timeout_seconds
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = local.function_environment

    # Only where a contract's policy pseudonymises (iam.tf, local.key_functions).
    dynamic "secret_environment_variables" {
      for_each = contains(keys(local.key_functions), each.key) ? ["PSEUDONYMISATION_KEY"] : []
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.pseudonymisation_key.secret_id
        version    = var.pseudonymisation_key_version
      }
    }
  }

  # Handlers raise on transient failures and ack bad input into the dead-letter
  # table themselves, so "retry" is safe: only transient failures come back.
  event_trigger {
    trigger_region        = var.region
    event_type            = each.value.event_type
    pubsub_topic          = each.value.pubsub_topic
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.function[each.key].email

    dynamic "event_filters" {
      for_each = each.value.event_filters
      content {
        attribute = event_filters.key
        value     = event_filters.value
      }
    }
  }

  depends_on = [
    google_bigquery_dataset_iam_member.function_metadata_viewer,
    google_bigquery_table.main,
    google_bigquery_table_iam_member.function_row_writer,
    google_project_iam_member.build,
    google_project_iam_member.function_event_receiver,
    google_project_iam_member.gcs_service_agent_publisher,
    google_project_service.main,
    google_secret_manager_secret_iam_member.function_secret_accessor,
    google_service_account_iam_member.pubsub_token_creator,
    google_storage_bucket_iam_member.build_sources,
  ]
}
