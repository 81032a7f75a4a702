# Pub/Sub: the two ingestion topics, one dead-letter topic per function, and the
# subscriptions that hold dead-lettered messages.
#
# Delivery to the functions goes through Eventarc: each function's event_trigger
# (functions.tf) makes Eventarc create and own a push subscription
# (eventarc-<region>-<trigger>-sub-NNN) on the topic, or, for the Cloud Storage
# trigger, a topic + subscription of its own. Eventarc controls that
# subscription's push endpoint, OIDC identity, ack deadline and 24 h retention;
# the function's retry_policy sets whether it redelivers (exponential backoff,
# 10 s to 600 s). Terraform cannot declare a dead_letter_policy on a
# subscription it does not own, so the dead-letter topics below are attached to
# the Eventarc subscriptions after each apply by scripts/attach-dead-letter.sh
# (the `attach-dead-letter` step of cloudbuild.yaml), from the output
# `eventarc_dead_letter_policies`. Every subscription Terraform does own sets
# its policies here.

locals {
  # Topics the producers publish to, keyed by the name the functions map uses.
  topics = {
    events = var.events_topic_name
    logs   = var.logs_topic_name
  }

  # One dead-letter topic per function (one per Eventarc trigger subscription).
  dead_letter_topics = {
    for name, fn in local.functions : name => "${fn.source_name}-dead-letter"
  }
}

resource "google_pubsub_topic" "main" {
  for_each = local.topics

  name                       = each.value
  message_retention_duration = var.topic_message_retention_duration

  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; CMEK would need a Cloud KMS key and service-agent grants per environment, out of scope for this stack.

  depends_on = [google_project_service.main]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.dead_letter_topics

  name = each.value

  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; CMEK would need a Cloud KMS key and service-agent grants per environment, out of scope for this stack.

  depends_on = [google_project_service.main]
}

# Messages published to a topic without subscriptions are lost: each
# dead-letter topic keeps what it receives here for 7 days, to inspect and
# replay (README.md "Dead letters"). These are the end of the dead-letter chain,
# so they carry no dead_letter_policy of their own (tests/infra checks that
# every other subscription does).
resource "google_pubsub_subscription" "dead_letter" {
  for_each = google_pubsub_topic.dead_letter

  name                       = "${each.value.name}-hold"
  topic                      = each.value.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards undeliverable messages: it must be able to
# publish to each dead-letter topic. (Its roles/pubsub.subscriber on the source
# subscriptions is granted by scripts/attach-dead-letter.sh, since Eventarc owns
# them.)
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = google_pubsub_topic.dead_letter

  topic  = each.value.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}
