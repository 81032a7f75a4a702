# Partial backend configuration for the gcs backend declared in versions.tf:
#   terraform -chdir=infra init -backend-config=environments/staging/backend.hcl
# The state bucket is created once by hand (README.md, Bootstrap). Replace the
# bucket name with yours.
bucket = "CHANGE-ME-staging-tfstate"
prefix = "event-ingestion/staging"
