variable "activity_inactivity_minutes" {
  description = "Minutes without an event after which the next event starts a new user activity (seed 002: 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.activity_inactivity_minutes >= 1 && var.activity_inactivity_minutes <= 1440
    error_message = "activity_inactivity_minutes must be between 1 and 1440."
  }
}

variable "activity_lookback_days" {
  description = "Days before the run's date whose user activities each build recomputes, so late events are taken in (at least the functions' LATE_AFTER_HOURS / 24)."
  type        = number
  default     = 3

  validation {
    condition     = var.activity_lookback_days >= 1 && var.activity_lookback_days <= 60
    error_message = "activity_lookback_days must be between 1 and 60."
  }
}

variable "activity_schedule" {
  description = "When the user_activity scheduled query runs (BigQuery Data Transfer schedule syntax)."
  type        = string
  default     = "every 1 hours"
}

variable "backlog_age_alert_seconds" {
  description = "Page when the oldest unacknowledged message of a function's Eventarc subscription is older than this (seconds). Retries back off up to 600 s, so keep it well above that."
  type        = number
  default     = 1800

  validation {
    condition     = var.backlog_age_alert_seconds >= 600
    error_message = "backlog_age_alert_seconds must be at least 600 (Eventarc's maximum backoff)."
  }
}

variable "bigquery_location" {
  description = "Location of the BigQuery dataset (a multi-region such as EU, or a region compatible with var.region)."
  type        = string
  default     = "EU"
}

variable "content_index_retention_days" {
  description = "Days the index of ingested file contents is kept in the state bucket: an identical re-upload within that time is skipped."
  type        = number
  default     = 400
}

variable "dataset_id" {
  description = "BigQuery dataset holding the contract tables (BQ_DATASET for the functions)."
  type        = string
  default     = "analytics"
}

variable "dead_letter_alert_threshold" {
  description = "Alert when more than this many invocations dead-letter records within 5 minutes (0: alert on the first one)."
  type        = number
  default     = 0
}

variable "dead_letter_readers" {
  description = "Members (group:..., user:...) allowed to read ingestion_errors, the dead letter holding raw payloads (roles/bigquery.dataViewer on that table and its deduplicated view only). The functions can write to it but never read it."
  type        = list(string)
  default     = []
}

variable "dead_letter_retention_days" {
  description = "Days ingestion_errors keeps a partition (raw payloads of rejected records) before BigQuery deletes it. The local stack uses partition_expiration_days of schemas/ingestion_errors/table.json, which a test keeps equal to this default."
  type        = number
  default     = 30

  validation {
    condition     = var.dead_letter_retention_days >= 1 && var.dead_letter_retention_days <= 365
    error_message = "dead_letter_retention_days must be between 1 and 365."
  }
}

variable "deletion_protection" {
  description = "Refuse to destroy the BigQuery tables (set false only to tear down a test environment)."
  type        = bool
  default     = true
}

variable "environment" {
  description = "Environment name, passed to the functions as ENVIRONMENT and used as a label."
  type        = string
  default     = "staging"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.environment))
    error_message = "environment must be lowercase letters, digits and hyphens (it is a label value)."
  }
}

variable "events_topic_name" {
  description = "Pub/Sub topic websites publish tracking events to (ingest_events)."
  type        = string
  default     = "tracking-events"
}

variable "file_tasks_topic_name" {
  description = "Topic ingest_file publishes its continuations to when a file outlives one invocation's time budget."
  type        = string
  default     = "file-tasks"
}

variable "function_error_alert_threshold" {
  description = "Page when a function answers more than this many 5xx responses (failed invocations, redelivered) within 5 minutes."
  type        = number
  default     = 5
}

variable "function_sizing" {
  description = "Per-function resources, keyed by entry point. Concurrency above 1 needs at least 1 CPU; gen2 event-driven functions time out at 540 s at most."
  type = map(object({
    available_cpu                    = optional(string, "1")
    available_memory                 = optional(string, "512Mi")
    max_instance_count               = optional(number, 10)
    max_instance_request_concurrency = optional(number, 8)
    timeout_seconds                  = optional(number, 300)
  }))
  default = {
    ingest_events = {}
    ingest_logs   = {}
    ingest_file   = { available_memory = "1Gi", max_instance_count = 5, max_instance_request_concurrency = 2, timeout_seconds = 540 }
  }

  validation {
    condition     = length(var.function_sizing) == 3 && alltrue([for name in ["ingest_events", "ingest_file", "ingest_logs"] : contains(keys(var.function_sizing), name)])
    error_message = "function_sizing must have exactly the keys ingest_events, ingest_file and ingest_logs (use {} for the defaults)."
  }
}

variable "labels" {
  description = "Extra labels for every resource that takes labels (app and environment are always set)."
  type        = map(string)
  default     = {}
}

variable "ledger_retention_days" {
  description = "Days the ledger entry of a partner file generation is kept in the state bucket (longer than any redelivery)."
  type        = number
  default     = 30
}

variable "log_level" {
  description = "LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "logs_topic_name" {
  description = "Pub/Sub topic backends (or a Cloud Logging sink) publish logs to (ingest_logs)."
  type        = string
  default     = "backend-logs"
}

variable "max_delivery_attempts" {
  description = "Deliveries of a message before it goes to its dead-letter topic (5-100). With Eventarc's backoff (10 s doubling to 600 s), 15 attempts span about 1.5 hours of retries."
  type        = number
  default     = 15

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub limits)."
  }
}

variable "max_record_bytes" {
  description = "MAX_RECORD_BYTES of the functions: larger records go to the dead letter. null keeps the code's default."
  type        = number
  default     = null
}

variable "no_traffic_alert_window" {
  description = "Page when tracking-events or backend-logs receives no message for this long (a number of seconds, e.g. \"3600s\"). null: no such alert (environments without steady traffic)."
  type        = string
  default     = "3600s"

  validation {
    condition     = var.no_traffic_alert_window == null || can(regex("^[0-9]+s$", var.no_traffic_alert_window))
    error_message = "no_traffic_alert_window must be null or a number of seconds such as \"3600s\"."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten, deleted or moved partner file stays readable as a noncurrent version (versioning is on)."
  type        = number
  default     = 30
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) that page: every alert but the dead-letter warning (warning_notification_channels)."
  type        = list(string)
  default     = []
}

variable "partition_expiration_days" {
  description = "Days a table partition is kept before BigQuery deletes it; null keeps partitions forever."
  type        = number
  default     = null

  validation {
    condition     = var.partition_expiration_days == null || try(var.partition_expiration_days >= 1, false)
    error_message = "partition_expiration_days must be null or at least 1."
  }
}

variable "partner_bucket_name" {
  description = "Name of the partner drop bucket; null gives <project_id>-partner-drops."
  type        = string
  default     = null
}

variable "processed_retention_days" {
  description = "Days files under processed/ are kept in the partner bucket."
  type        = number
  default     = 30
}

variable "project_id" {
  description = "Google Cloud project to deploy into (GCP_PROJECT for the functions)."
  type        = string
}

variable "pseudonymisation_key_secret_id" {
  description = "Secret Manager secret holding the HMAC key (PSEUDONYMISATION_KEY)."
  type        = string
  default     = "pseudonymisation-key"
}

variable "pseudonymisation_key_version" {
  description = "Version of the HMAC key secret the functions read; pin a number to control rotations."
  type        = string
  default     = "latest"
}

variable "quarantine_retention_days" {
  description = "Days files under quarantine/ are kept in the partner bucket."
  type        = number
  default     = 90
}

variable "reference_data_uri" {
  description = "gs://bucket/path of the NDJSON reference snapshot (REFERENCE_DATA_URI); the functions get read access to that bucket. null: no reference data."
  type        = string
  default     = null

  validation {
    condition     = var.reference_data_uri == null || can(regex("^gs://[a-z0-9][a-z0-9._-]+/.+", var.reference_data_uri))
    error_message = "reference_data_uri must look like gs://bucket/path/file.ndjson."
  }
}

variable "region" {
  description = "Region of the functions, their triggers and the buckets (the partner bucket must be in the trigger's region)."
  type        = string
  default     = "europe-west1"
}

variable "runbook_url" {
  description = "Where operators read docs/runbook.md (e.g. its URL in your repository browser); every alert's documentation links to its section there."
  type        = string
  default     = "docs/runbook.md"
}

variable "sources_bucket_name" {
  description = "Name of the bucket holding function source archives; null gives <project_id>-function-sources."
  type        = string
  default     = null
}

variable "state_bucket_name" {
  description = "Bucket of the pipeline's own state (the ledger of partner files); defaults to <project>-ingest-state."
  type        = string
  default     = null
}

variable "time_zone" {
  description = "TIME_ZONE of the functions (event_date is computed in it)."
  type        = string
  default     = "Europe/Paris"
}

variable "topic_message_retention_duration" {
  description = "How long the two ingestion topics keep published messages (e.g. \"604800s\"), so a subscription can be seeked back to replay them; null: no topic retention (no storage cost)."
  type        = string
  default     = null
}

variable "warning_notification_channels" {
  description = "Notification channel ids for warnings (records dead-lettered): e.g. a chat channel rather than the pager of notification_channels."
  type        = list(string)
  default     = []
}
