# Identities and least-privilege grants. One service account per function, used
# both to run it and as its Eventarc trigger identity; one for the builds Cloud
# Functions runs. Every role is granted on the narrowest resource that works,
# and is written as a literal so tests/infra can hold it to an allow-list.

locals {
  reference_data_bucket = try(regex("^gs://([^/]+)/", var.reference_data_uri)[0], null)
}

resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = "fn-${replace(each.key, "_", "-")}"
  display_name = "Cloud Function ${each.key}"
  description  = "Runs ${each.key} and is the identity of its Eventarc trigger."

  depends_on = [google_project_service.main]
}

resource "google_service_account" "build" {
  account_id   = "fn-build"
  display_name = "Cloud Functions builds"
  description  = "Builds the event-ingestion functions' container images."

  depends_on = [google_project_service.main]
}

# --- Function service accounts ---------------------------------------------

# Load and query jobs are created at project level (no narrower scope exists).
resource "google_project_iam_member" "function_job_user" {
  for_each = google_service_account.function

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = each.value.member
}

# Required by Eventarc for the trigger's identity; grantable on projects only.
resource "google_project_iam_member" "function_event_receiver" {
  for_each = google_service_account.function

  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = each.value.member
}

# Write rows into this dataset's tables only (not project-wide).
resource "google_bigquery_dataset_iam_member" "function_data_editor" {
  for_each = google_service_account.function

  dataset_id = google_bigquery_dataset.main.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = each.value.member
}

# The pseudonymisation key, and no other secret.
resource "google_secret_manager_secret_iam_member" "function_secret_accessor" {
  for_each = google_service_account.function

  secret_id = google_secret_manager_secret.pseudonymisation_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}

# Eventarc pushes events with the trigger identity's OIDC token: it must be
# allowed to invoke its own function's Cloud Run service, and no other.
resource "google_cloud_run_v2_service_iam_member" "function_invoker" {
  for_each = google_cloudfunctions2_function.main

  project  = var.project_id
  location = var.region
  name     = each.value.name
  role     = "roles/run.invoker"
  member   = google_service_account.function[each.key].member
}

# ingest_file reads the dropped objects.
resource "google_storage_bucket_iam_member" "ingest_file_partner_reader" {
  bucket = google_storage_bucket.partner_drops.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.function["ingest_file"].member
}

# The reference snapshot (REFERENCE_DATA_URI), when one is configured: every
# function gets the variable, so every function may read that bucket.
resource "google_storage_bucket_iam_member" "function_reference_reader" {
  for_each = { for name, sa in google_service_account.function : name => sa if var.reference_data_uri != null }

  bucket = local.reference_data_bucket
  role   = "roles/storage.objectViewer"
  member = each.value.member
}

# --- Build service account ---------------------------------------------------

# Google's role for the identity that builds Cloud Run functions (logs, image
# push, source read).
resource "google_project_iam_member" "build" {
  project = var.project_id
  role    = "roles/run.builder"
  member  = google_service_account.build.member
}

resource "google_storage_bucket_iam_member" "build_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# --- Service agents ------------------------------------------------------------

# Eventarc's Cloud Storage triggers: Cloud Storage publishes object
# notifications to a topic Eventarc creates, so its service agent needs
# publisher on the project (the topic is not known in advance).
resource "google_project_iam_member" "gcs_service_agent_publisher" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = local.gcs_service_agent
}

# Pub/Sub mints the OIDC tokens of Eventarc's push subscriptions. Needed for
# projects whose Pub/Sub service agent predates 2021-04-08; harmless otherwise,
# and scoped to the function service accounts, not the project.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  for_each = google_service_account.function

  service_account_id = each.value.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
