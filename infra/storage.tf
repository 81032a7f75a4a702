# Cloud Storage: the bucket partners drop files into, and the bucket holding the
# functions' source archives.

# Partner drops. ingest_file reads every finalized object (Eventarc trigger in
# functions.tf); `processed/` and `quarantine/` are where handled and rejected
# files are kept for a while, then deleted by the lifecycle rules below.
#
# Versioning is ON, on purpose: a partner may upload the same object name twice,
# and each upload is a new generation that replaces the previous one. The dead
# letter (`ingestion_errors`) cites bucket/object/generation/line, so the cited
# generation must still be readable to investigate or replay it. Noncurrent
# generations (overwritten, deleted or moved away) are kept
# `noncurrent_version_retention_days` and then deleted, which bounds the cost.
resource "google_storage_bucket" "partner_drops" {
  name                        = local.partner_bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age            = var.processed_retention_days
      matches_prefix = ["processed/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.quarantine_retention_days
      matches_prefix = ["quarantine/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  #checkov:skip=CKV_GCP_62:Usage/storage logs are a legacy feature that needs a second bucket; object access is audited with Cloud Audit Logs (Data Access for storage.googleapis.com), which is a project/organization setting outside this stack.

  depends_on = [google_project_service.main]
}

# Function sources. Objects are named by the archive's content hash and never
# overwritten; versioning only protects against accidental deletion, and
# noncurrent generations are purged after 30 days.
resource "google_storage_bucket" "sources" {
  name                        = local.sources_bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  #checkov:skip=CKV_GCP_62:Usage/storage logs are a legacy feature that needs a second bucket; reads of this bucket are Cloud Build's and are in its build logs and in Cloud Audit Logs.

  depends_on = [google_project_service.main]
}
