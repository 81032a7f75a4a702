# Identities and least-privilege grants. One service account per function, used
# both to run it and as its Eventarc trigger identity; one for the builds Cloud
# Functions runs; one that Cloud Build deploys as. Every role is granted on the
# narrowest resource that works, and is written as a literal (or a local list of
# literals) so tests/infra can hold it to an allow-list.

locals {
  reference_data_bucket = try(regex("^gs://([^/]+)/", var.reference_data_uri)[0], null)

  # (function, table) for every table a function writes: the contracts it ingests,
  # its dead letter and its audit rows. Nothing else: no read of any table.
  function_tables = merge([
    for name, fn in local.functions : {
      for table in concat(fn.contracts, ["ingestion_errors", "ingestion_audit"]) :
      "${name}/${table}" => { function = name, table = table }
    }
  ]...)

  # Contracts whose consent policy pseudonymises (schemas/<contract>/consent.json):
  # only the functions ingesting one of them get the HMAC key.
  pseudonymising_contracts = [
    for f in fileset(local.schemas_dir, "*/consent.json") : dirname(f)
    if contains([for outcome in ["on_denied", "on_missing"] : jsondecode(file("${local.schemas_dir}/${f}"))[outcome]], "pseudonymise")
  ]
  key_functions = {
    for name, fn in local.functions : name => fn
    if length(setintersection(fn.contracts, local.pseudonymising_contracts)) > 0
  }

  # What `terraform apply` manages, role by role (Cloud Build runs it as
  # google_service_account.deploy). Project-level because it creates the
  # resources; impersonating the runtime identities is granted per account below.
  deploy_roles = [
    "roles/artifactregistry.admin",          # the functions' image repository
    "roles/bigquery.dataOwner",              # dataset, tables and their IAM
    "roles/cloudfunctions.admin",            # the three functions
    "roles/eventarc.admin",                  # their triggers (and attach-dead-letter.sh)
    "roles/iam.roleAdmin",                   # the custom roles of this file
    "roles/logging.configWriter",            # log-based metrics
    "roles/logging.logWriter",               # the build's own logs (CLOUD_LOGGING_ONLY)
    "roles/monitoring.alertPolicyEditor",    # alert policies
    "roles/monitoring.dashboardEditor",      # the dashboard
    "roles/pubsub.admin",                    # topics, subscriptions, their IAM
    "roles/resourcemanager.projectIamAdmin", # the project-level grants of this file
    "roles/run.admin",                       # Cloud Run services behind the functions (invoker grants)
    "roles/secretmanager.admin",             # the HMAC key secret and its IAM (never its value)
    "roles/serviceusage.serviceUsageAdmin",  # enabling the APIs
    "roles/storage.admin",                   # buckets, the source archive, the Terraform state
  ]
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

resource "google_service_account" "deploy" {
  account_id   = "event-ingestion-deploy"
  display_name = "event-ingestion deployments"
  description  = "Cloud Build's identity for cloudbuild.yaml: tests, plans and applies infra/ (set it on the triggers)."

  depends_on = [google_project_service.main]
}

# --- Function service accounts ---------------------------------------------

# Required by Eventarc for the trigger's identity; grantable on projects only.
resource "google_project_iam_member" "function_event_receiver" {
  for_each = google_service_account.function

  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = each.value.member
}

# Streaming inserts (insertAll) and nothing more: no read of any row, no table
# deletion, no jobs. Granted on each table a function writes (local.function_tables).
resource "google_project_iam_custom_role" "row_writer" {
  role_id     = "eventIngestionRowWriter"
  title       = "event-ingestion row writer"
  description = "Stream rows into a BigQuery table (tabledata.insertAll) without reading it."
  permissions = ["bigquery.tables.get", "bigquery.tables.updateData"]
}

resource "google_bigquery_table_iam_member" "function_row_writer" {
  for_each = local.function_tables

  project    = var.project_id
  dataset_id = google_bigquery_dataset.main.dataset_id
  table_id   = google_bigquery_table.main[each.value.table].table_id
  role       = google_project_iam_custom_role.row_writer.id
  member     = google_service_account.function[each.value.function].member
}

# insertAll also checks bigquery.datasets.get: metadata of the dataset and its
# tables (names, schemas), never their rows.
resource "google_bigquery_dataset_iam_member" "function_metadata_viewer" {
  for_each = google_service_account.function

  dataset_id = google_bigquery_dataset.main.dataset_id
  role       = "roles/bigquery.metadataViewer"
  member     = each.value.member
}

# Who may read the dead letter (raw payloads): var.dead_letter_readers, on that
# table only (docs/dead-letter.md).
resource "google_bigquery_table_iam_member" "dead_letter_reader" {
  for_each = toset(var.dead_letter_readers)

  project    = var.project_id
  dataset_id = google_bigquery_dataset.main.dataset_id
  table_id   = google_bigquery_table.main[local.dead_letter_table].table_id
  role       = "roles/bigquery.dataViewer"
  member     = each.value
}

# And on its deduplicated view (one row per error_id, what `ingest dead-letter replay` and the
# runbook read): a view's reader needs access to the view and to the table it reads.
resource "google_bigquery_table_iam_member" "dead_letter_deduplicated_reader" {
  for_each = toset(var.dead_letter_readers)

  project    = var.project_id
  dataset_id = google_bigquery_dataset.main.dataset_id
  table_id   = google_bigquery_table.deduplicated[local.dead_letter_table].table_id
  role       = "roles/bigquery.dataViewer"
  member     = each.value
}

# The pseudonymisation key, and no other secret, for the functions whose
# contracts pseudonymise (local.key_functions; none while every policy drops).
resource "google_secret_manager_secret_iam_member" "function_secret_accessor" {
  for_each = local.key_functions

  secret_id = google_secret_manager_secret.pseudonymisation_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.key].member
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

# --- Deploy service account -----------------------------------------------------

resource "google_project_iam_member" "deploy" {
  for_each = toset(local.deploy_roles)

  project = var.project_id
  role    = each.value
  member  = google_service_account.deploy.member
}

# The service accounts of iam.tf and the grants on them: the permissions of
# roles/iam.serviceAccountAdmin that Terraform uses, without keys or disabling.
resource "google_project_iam_custom_role" "service_account_manager" {
  role_id     = "eventIngestionServiceAccountManager"
  title       = "event-ingestion service account manager"
  description = "Create, update and delete the pipeline's service accounts and set IAM on them."
  permissions = [
    "iam.serviceAccounts.create",
    "iam.serviceAccounts.delete",
    "iam.serviceAccounts.get",
    "iam.serviceAccounts.getIamPolicy",
    "iam.serviceAccounts.list",
    "iam.serviceAccounts.setIamPolicy",
    "iam.serviceAccounts.update",
  ]
}

resource "google_project_iam_member" "deploy_service_account_manager" {
  project = var.project_id
  role    = google_project_iam_custom_role.service_account_manager.id
  member  = google_service_account.deploy.member
}

# Deploying a function that runs as, or builds as, an account needs actAs on
# that account only.
resource "google_service_account_iam_member" "deploy_acts_as_function" {
  for_each = google_service_account.function

  service_account_id = each.value.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deploy.member
}

resource "google_service_account_iam_member" "deploy_acts_as_build" {
  service_account_id = google_service_account.build.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deploy.member
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
