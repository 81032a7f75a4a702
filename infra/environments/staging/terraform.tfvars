# Staging: a project of its own, short partition expiry, tables that can be torn
# down. Replace CHANGE-ME values with yours.
#   terraform -chdir=infra plan -var-file=environments/staging/terraform.tfvars
project_id  = "CHANGE-ME-staging"
environment = "staging"
region      = "europe-west1"

partition_expiration_days = 90
deletion_protection       = false
log_level                 = "DEBUG"

function_sizing = {
  ingest_events = { max_instance_count = 3 }
  ingest_logs   = { max_instance_count = 3 }
  ingest_file   = { available_memory = "1Gi", max_instance_count = 2, max_instance_request_concurrency = 2, timeout_seconds = 540 }
}

notification_channels = []

# Staging has no steady traffic: no "topic went silent" page.
no_traffic_alert_window = null
