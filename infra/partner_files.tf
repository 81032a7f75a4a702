# Partner files exactly once per object generation (functions/ingest/partner_files.py):
# the state bucket holding the ledger of every file generation and the index of contents
# already ingested, the topic a file invocation hands its continuation to when the file
# outlives FILE_TIME_BUDGET_S, and the Eventarc trigger that feeds that topic back to
# ingest_file. The ledger's compare-and-set is Cloud Storage's own ifGenerationMatch.

locals {
  state_bucket_name = coalesce(var.state_bucket_name, "${var.project_id}-ingest-state")
}

resource "google_storage_bucket" "state" {
  name                        = local.state_bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # A file's ledger entry only matters while notifications of it can still arrive (Eventarc
  # retries for 24 h); the content index decides whether a re-upload is a duplicate, so it
  # lives as long as a partner might re-send the same file.
  lifecycle_rule {
    condition {
      age            = var.ledger_retention_days
      matches_prefix = ["ledger/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.content_index_retention_days
      matches_prefix = ["contents/"]
    }
    action {
      type = "Delete"
    }
  }

  #checkov:skip=CKV_GCP_62:Usage/storage logs are a legacy feature that needs a second bucket; object access is audited with Cloud Audit Logs, a project/organization setting outside this stack.
  #checkov:skip=CKV_GCP_78:The ledger is rewritten in place by compare-and-set on object generations; noncurrent versions would only keep stale progress, never data.

  depends_on = [google_project_service.main]
}

# ingest_file reads and rewrites its ledger documents, and nothing else does.
resource "google_storage_bucket_iam_member" "ingest_file_state" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectUser"
  member = google_service_account.function["ingest_file"].member
}

# What a partner sees: ingest_file adds metadata to the objects it ingested and writes a
# report object (reports/) for a file with failures. Create and update only: it can neither
# delete nor overwrite a partner's file.
resource "google_project_iam_custom_role" "partner_file_marker" {
  role_id     = "ingestPartnerFileMarker"
  title       = "Mark ingested partner files"
  description = "Create report objects and update the metadata of ingested objects (event-ingestion ingest_file)."
  permissions = ["storage.objects.create", "storage.objects.update"]
}

resource "google_storage_bucket_iam_member" "ingest_file_partner_marker" {
  bucket = google_storage_bucket.partner_drops.name
  role   = google_project_iam_custom_role.partner_file_marker.id
  member = google_service_account.function["ingest_file"].member
}

resource "google_pubsub_topic" "file_tasks" {
  name                       = var.file_tasks_topic_name
  message_retention_duration = var.topic_message_retention_duration

  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; CMEK would need a Cloud KMS key and service-agent grants per environment, out of scope for this stack.

  depends_on = [google_project_service.main]
}

resource "google_pubsub_topic_iam_member" "ingest_file_tasks_publisher" {
  topic  = google_pubsub_topic.file_tasks.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function["ingest_file"].member
}

# The second trigger of ingest_file (a function declares one): continuations, delivered like
# the bucket's own notifications. Its Eventarc subscription gets ingest_file's dead-letter topic
# through the eventarc_dead_letter_policies output.
resource "google_eventarc_trigger" "file_tasks" {
  name            = "ingest-file-tasks"
  location        = var.region
  service_account = google_service_account.function["ingest_file"].email

  matching_criteria {
    attribute = "type"
    value     = "google.cloud.pubsub.topic.v1.messagePublished"
  }

  destination {
    cloud_run_service {
      service = google_cloudfunctions2_function.main["ingest_file"].name
      region  = var.region
    }
  }

  transport {
    pubsub {
      topic = google_pubsub_topic.file_tasks.id
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.function_invoker, google_project_iam_member.function_event_receiver]
}
