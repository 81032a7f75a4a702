# Partial backend configuration for the gcs backend declared in versions.tf:
#   terraform -chdir=infra init -backend-config=environments/production/backend.hcl
# The state bucket is created once by hand (README.md, Bootstrap). Replace the
# bucket name with yours.
bucket = "CHANGE-ME-production-tfstate"
prefix = "event-ingestion/production"
