# Production: a project of its own; partitions kept, tables protected, topics
# keep 7 days of messages for replay. Replace CHANGE-ME values with yours.
#   terraform -chdir=infra plan -var-file=environments/production/terraform.tfvars
project_id  = "CHANGE-ME-production"
environment = "production"
region      = "europe-west1"

partition_expiration_days        = null
deletion_protection              = true
topic_message_retention_duration = "604800s"

function_sizing = {
  ingest_events = { max_instance_count = 20 }
  ingest_logs   = { max_instance_count = 10 }
  ingest_file   = { available_memory = "2Gi", available_cpu = "1", max_instance_count = 5, max_instance_request_concurrency = 2, timeout_seconds = 540 }
}

# e.g. ["projects/CHANGE-ME-production/notificationChannels/1234567890"]
notification_channels = []
