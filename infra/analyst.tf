# The analyst layer (docs/tables/README.md): a deduplicated view of every table that
# declares an identity (the contracts, the audit, the dead letter), the views of
# ../schemas/*/view.json, and the scheduled query that builds user_activity (its table
# comes from schemas/user_activity/ like every table).
#
# The SQL lives in ../schemas and is rendered by templatefile() with local.sql_variables,
# the same placeholders tools/catalog.py fills for the local stack and the tests
# (SqlSettings.variables; tests/infra/test_analyst_terraform.py holds them equal).

locals {
  # Tables whose table.json declares an identity: one <table>_deduplicated view each, one row
  # per identity column (default row_id), the `keep` (first, or latest) of its copies by
  # `copies_by` (default ingested_at, ingestion_source). A partitioning column listed in
  # `copies_by` is each copy's arrival time: it cannot partition the window, and a filter on it
  # does not prune (tools/catalog.py Identity: the same rule).
  deduplicated_tables = {
    for name, options in local.tables : name => {
      table_id  = options.table_id
      partition = options.time_partitioning.field
      identity  = lookup(options.identity, "column", "row_id")
      copies_by = lookup(options.identity, "copies_by", ["ingested_at", "ingestion_source"])
      keep      = lookup(options.identity, "keep", "first")
      prunes    = !contains(lookup(options.identity, "copies_by", ["ingested_at", "ingestion_source"]), options.time_partitioning.field)
    } if lookup(options, "identity", null) != null
  }

  bots = jsondecode(file("${local.schemas_dir}/pro_event_humans/bots.json"))

  sql_variables = {
    project             = var.project_id
    dataset             = google_bigquery_dataset.main.dataset_id
    time_zone           = var.time_zone
    inactivity_minutes  = var.activity_inactivity_minutes
    lookback_days       = var.activity_lookback_days
    bot_browsers        = jsonencode(local.bots.user_web_browser)
    bot_user_pseudo_ids = jsonencode(local.bots.user_pseudo_id)
  }

  pro_event_humans     = jsondecode(file("${local.schemas_dir}/pro_event_humans/view.json"))
  pro_event_attributed = jsondecode(file("${local.schemas_dir}/pro_event_attributed/view.json"))

  # What the build reads: the events and the two views between them and the build.
  activity_builder_reads = {
    events       = "pro_event"
    deduplicated = "pro_event_deduplicated"
    humans       = "pro_event_humans"
  }

  # Google's agent that runs scheduled queries as the builder service account.
  datatransfer_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"
}

# Views read views: each level is its own resource, so that Terraform creates what a
# view reads before the view (BigQuery checks the query when the view is created).

resource "google_bigquery_table" "deduplicated" {
  for_each = local.deduplicated_tables

  dataset_id          = google_bigquery_dataset.main.dataset_id
  table_id            = "${each.value.table_id}_deduplicated"
  description         = "${each.value.table_id} without duplicate deliveries: one row per ${each.value.identity}, its ${each.value.keep} copy (by ${join(", ", each.value.copies_by)}). Same columns as ${each.value.table_id}; filter on ${each.value.partition} as on the table (${each.value.prunes ? "it still prunes" : "it does not prune: the copies of one ${each.value.identity} differ in ${each.value.partition}"})."
  deletion_protection = var.deletion_protection

  view {
    query = templatefile("${local.schemas_dir}/deduplicated_view.sql", merge(local.sql_variables, {
      table            = each.value.table_id
      identity         = each.value.identity
      window_partition = join(", ", each.value.prunes ? [each.value.partition, each.value.identity] : [each.value.identity])
      kept_copy        = join(", ", [for column in each.value.copies_by : each.value.keep == "latest" ? "${column} DESC" : column])
    }))
    use_legacy_sql = false
  }

  #checkov:skip=CKV_GCP_80:A view stores no data; the tables it reads are encrypted at rest by Google.

  depends_on = [google_bigquery_table.main]
}

resource "google_bigquery_table" "pro_event_humans" {
  dataset_id          = google_bigquery_dataset.main.dataset_id
  table_id            = local.pro_event_humans.view_id
  description         = local.pro_event_humans.description
  deletion_protection = var.deletion_protection

  view {
    query          = templatefile("${local.schemas_dir}/pro_event_humans/view.sql", local.sql_variables)
    use_legacy_sql = false
  }

  #checkov:skip=CKV_GCP_80:A view stores no data; the tables it reads are encrypted at rest by Google.

  depends_on = [google_bigquery_table.deduplicated]
}

resource "google_bigquery_table" "pro_event_attributed" {
  dataset_id          = google_bigquery_dataset.main.dataset_id
  table_id            = local.pro_event_attributed.view_id
  description         = local.pro_event_attributed.description
  deletion_protection = var.deletion_protection

  view {
    query          = templatefile("${local.schemas_dir}/pro_event_attributed/view.sql", local.sql_variables)
    use_legacy_sql = false
  }

  #checkov:skip=CKV_GCP_80:A view stores no data; the tables it reads are encrypted at rest by Google.

  depends_on = [google_bigquery_table.pro_event_humans, google_bigquery_table.main]
}

# --- The user_activity build ---------------------------------------------------

resource "google_service_account" "activity_builder" {
  account_id   = "user-activity-builder"
  display_name = "user_activity builder"
  description  = "Runs the scheduled query that builds user_activity from pro_event_humans."

  depends_on = [google_project_service.main]
}

# Query jobs are created at project level (no narrower scope exists).
resource "google_project_iam_member" "activity_builder_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.activity_builder.member
}

# Reading a view needs read access to the view and to what it reads; nothing else of the
# dataset (not the dead letter).
resource "google_bigquery_table_iam_member" "activity_builder_reader" {
  for_each = local.activity_builder_reads

  dataset_id = google_bigquery_dataset.main.dataset_id
  table_id   = each.value
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.activity_builder.member

  depends_on = [google_bigquery_table.main, google_bigquery_table.deduplicated, google_bigquery_table.pro_event_humans]
}

# The only table it writes.
resource "google_bigquery_table_iam_member" "activity_builder_writer" {
  dataset_id = google_bigquery_dataset.main.dataset_id
  table_id   = google_bigquery_table.main["user_activity"].table_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.activity_builder.member
}

# The Data Transfer Service mints the builder's tokens to run the query as it.
resource "google_service_account_iam_member" "activity_builder_token_creator" {
  service_account_id = google_service_account.activity_builder.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.datatransfer_service_agent
}

# The deploy account (iam.tf) manages this scheduled query, and names the builder as its
# identity: transfer permissions only (no BigQuery admin), and actAs on that one account.
resource "google_project_iam_custom_role" "scheduled_query_manager" {
  role_id     = "eventIngestionScheduledQueryManager"
  title       = "event-ingestion scheduled query manager"
  description = "Create, update and delete the user_activity scheduled query (a BigQuery Data Transfer config)."
  permissions = ["bigquery.transfers.get", "bigquery.transfers.update"]
}

resource "google_project_iam_member" "deploy_scheduled_query_manager" {
  project = var.project_id
  role    = google_project_iam_custom_role.scheduled_query_manager.id
  member  = google_service_account.deploy.member
}

resource "google_service_account_iam_member" "deploy_acts_as_activity_builder" {
  service_account_id = google_service_account.activity_builder.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deploy.member
}

resource "google_bigquery_data_transfer_config" "user_activity" {
  display_name         = "user_activity build"
  location             = var.bigquery_location
  data_source_id       = "scheduled_query"
  schedule             = var.activity_schedule
  service_account_name = google_service_account.activity_builder.email

  # A DML statement: no destination table; @run_time is the scheduled run's time.
  params = {
    query = templatefile("${local.schemas_dir}/user_activity/build.sql", local.sql_variables)
  }

  depends_on = [
    google_bigquery_table.pro_event_humans,
    google_bigquery_table_iam_member.activity_builder_reader,
    google_bigquery_table_iam_member.activity_builder_writer,
    google_project_iam_member.activity_builder_job_user,
    google_service_account_iam_member.activity_builder_token_creator,
    google_project_iam_member.deploy_scheduled_query_manager,
    google_service_account_iam_member.deploy_acts_as_activity_builder,
  ]
}
