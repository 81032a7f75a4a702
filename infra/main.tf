# Naming, labels, project APIs and the service agents the other files bind roles to.

locals {
  labels = merge(var.labels, {
    app         = "event-ingestion"
    environment = var.environment
  })

  # Every API the pipeline uses, enabled by Terraform (never disabled on destroy).
  services = [
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "bigquerydatatransfer.googleapis.com",
    "bigquerystorage.googleapis.com", # the Storage Write API, the functions' write path
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "eventarc.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]

  partner_bucket_name = coalesce(var.partner_bucket_name, "${var.project_id}-partner-drops")
  sources_bucket_name = coalesce(var.sources_bucket_name, "${var.project_id}-function-sources")

  # Service agents (Google-managed identities) that need roles on our resources.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  gcs_service_agent    = "serviceAccount:${data.google_storage_project_service_account.this.email_address}"
}

data "google_project" "this" {
  project_id = var.project_id
}

# Reading this data source also makes Cloud Storage create its service agent.
data "google_storage_project_service_account" "this" {
  project = var.project_id

  depends_on = [google_project_service.main]
}

resource "google_project_service" "main" {
  for_each = toset(local.services)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
