# BigQuery: the dataset and one table per directory of ../schemas.
#
# Tables are discovered, never listed: every schemas/<name>/table.json (table
# options) becomes a table whose columns are schemas/<name>/bigquery.json, the
# same files the functions and the local stack use. Adding a contract directory
# adds its table; tests/infra/test_terraform.py fails if a table is hard-coded.

locals {
  schemas_dir = "${path.module}/../schemas"

  tables = {
    for f in fileset(local.schemas_dir, "*/table.json") :
    dirname(f) => jsondecode(file("${local.schemas_dir}/${f}"))
  }

  # Days each table keeps a partition: the dead letter, whose rows hold raw payloads, for
  # var.dead_letter_retention_days; every other table for var.partition_expiration_days (null:
  # forever).
  dead_letter_table = "ingestion_errors"
  partition_expiration_ms = {
    for name, t in local.tables : name => (
      name == local.dead_letter_table ? var.dead_letter_retention_days * 86400000 : (
        var.partition_expiration_days == null ? null : var.partition_expiration_days * 86400000
      )
    )
  }
}

resource "google_bigquery_dataset" "main" {
  dataset_id                 = var.dataset_id
  friendly_name              = "Event ingestion"
  description                = "Events, logs and partner files ingested by the Cloud Functions of event-ingestion, plus their dead letter and audit tables."
  location                   = var.bigquery_location
  delete_contents_on_destroy = false

  #checkov:skip=CKV_GCP_81:Google-managed encryption at rest; CMEK would need a Cloud KMS key and service-agent grants per environment, out of scope for this stack.

  depends_on = [google_project_service.main]
}

resource "google_bigquery_table" "main" {
  for_each = local.tables

  dataset_id               = google_bigquery_dataset.main.dataset_id
  table_id                 = each.value.table_id
  description              = each.value.description
  schema                   = file("${local.schemas_dir}/${each.key}/bigquery.json")
  clustering               = each.value.clustering
  require_partition_filter = each.value.require_partition_filter
  deletion_protection      = var.deletion_protection

  time_partitioning {
    type          = each.value.time_partitioning.type
    field         = each.value.time_partitioning.field
    expiration_ms = local.partition_expiration_ms[each.key]
  }

  #checkov:skip=CKV_GCP_80:Google-managed encryption at rest; CMEK would need a Cloud KMS key and service-agent grants per environment, out of scope for this stack.
}
