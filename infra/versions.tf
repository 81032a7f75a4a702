terraform {
  required_version = ">= 1.7.0"

  required_providers {
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }

  # Remote state in a GCS bucket (locking is native to the gcs backend). Partial
  # configuration: the bucket and prefix come from environments/<env>/backend.hcl,
  #   terraform init -backend-config=environments/staging/backend.hcl
  # See README.md "Bootstrap" for creating the state bucket.
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}
