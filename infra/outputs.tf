output "bigquery_tables" {
  description = "Fully qualified ids of the tables, keyed by schemas/ directory."
  value       = { for name, t in google_bigquery_table.main : name => "${var.project_id}.${t.dataset_id}.${t.table_id}" }
}

output "dataset_id" {
  description = "BigQuery dataset of the pipeline."
  value       = google_bigquery_dataset.main.dataset_id
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions holding each function's dead-lettered messages, keyed by entry point."
  value       = { for name, s in google_pubsub_subscription.dead_letter : name => s.name }
}

output "dead_letter_topics" {
  description = "Dead-letter topic of each function's Eventarc subscription, keyed by entry point."
  value       = { for name, t in google_pubsub_topic.dead_letter : name => t.name }
}

output "deploy_service_account" {
  description = "The identity Cloud Build deploys as: set it on the build triggers (infra/README.md, With Cloud Build)."
  value       = google_service_account.deploy.email
}

output "eventarc_dead_letter_policies" {
  description = "One line per function for scripts/attach-dead-letter.sh: Eventarc trigger, dead-letter topic, max delivery attempts, Pub/Sub service agent."
  value = join("", concat([
    for name, f in google_cloudfunctions2_function.main :
    "${f.event_trigger[0].trigger} ${google_pubsub_topic.dead_letter[name].id} ${var.max_delivery_attempts} ${local.pubsub_service_agent}\n"
    ], [
    "${google_eventarc_trigger.file_tasks.id} ${google_pubsub_topic.dead_letter["ingest_file"].id} ${var.max_delivery_attempts} ${local.pubsub_service_agent}\n"
  ]))
}

output "functions" {
  description = "Deployed function names, keyed by entry point."
  value       = { for name, f in google_cloudfunctions2_function.main : name => f.name }
}

output "function_service_accounts" {
  description = "Service account of each function, keyed by entry point."
  value       = { for name, sa in google_service_account.function : name => sa.email }
}

output "partner_bucket" {
  description = "Bucket partners drop files into (events/, logs/, userpilot/ prefixes)."
  value       = google_storage_bucket.partner_drops.name
}

output "state_bucket" {
  description = "Bucket of the pipeline's own state: the ledger of partner files (ledger/) and the content index (contents/)."
  value       = google_storage_bucket.state.name
}

output "pseudonymisation_key_secret" {
  description = "Secret to add the HMAC key version to (README.md, Bootstrap)."
  value       = google_secret_manager_secret.pseudonymisation_key.id
}

output "sources_bucket" {
  description = "Bucket holding the function source archives."
  value       = google_storage_bucket.sources.name
}

output "topics" {
  description = "Ingestion topics, keyed by role (events, logs)."
  value       = { for name, t in google_pubsub_topic.main : name => t.name }
}
