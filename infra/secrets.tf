# The HMAC key used to pseudonymise identifiers (PSEUDONYMISATION_KEY). Terraform
# creates the secret only: its value never enters the Terraform state. Add a
# version out of band before the first full apply (README.md "Bootstrap"):
#
#   openssl rand -base64 32 | tr -d '\n' | \
#     gcloud secrets versions add pseudonymisation-key --data-file=- --project=PROJECT
#
# The functions read var.pseudonymisation_key_version ("latest" by default) when
# an instance starts; after adding a version, new instances use it.

resource "google_secret_manager_secret" "pseudonymisation_key" {
  secret_id = var.pseudonymisation_key_secret_id

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [google_project_service.main]
}
