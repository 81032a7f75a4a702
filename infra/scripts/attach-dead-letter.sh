#!/usr/bin/env bash
# Attach each function's dead-letter topic to the Pub/Sub subscription Eventarc
# created for its trigger. Terraform cannot: Eventarc owns that subscription
# (see pubsub.tf). Idempotent; run after every `terraform apply` (Cloud Build's
# `attach-dead-letter` step does), since a re-created trigger gets a new
# subscription.
#
# Usage: scripts/attach-dead-letter.sh POLICIES_FILE
#   POLICIES_FILE = `terraform output -raw eventarc_dead_letter_policies`:
#   one line per function: TRIGGER DEAD_LETTER_TOPIC MAX_ATTEMPTS PUBSUB_AGENT
#   (full resource names; PUBSUB_AGENT as serviceAccount:EMAIL).
# Needs gcloud, authenticated as an identity with roles/eventarc.viewer and
# roles/pubsub.editor (or the deployer's roles).
set -euo pipefail

policies_file=${1:?usage: $0 POLICIES_FILE (terraform output -raw eventarc_dead_letter_policies)}

count=0
# fd 3: gcloud must not read the loop's input.
while read -r trigger dead_letter_topic max_attempts pubsub_agent <&3; do
  [[ -z "${trigger}" ]] && continue
  subscription=$(gcloud eventarc triggers describe "${trigger}" \
    --format='value(transport.pubsub.subscription)')
  if [[ -z "${subscription}" ]]; then
    echo "error: trigger ${trigger} has no Pub/Sub subscription" >&2
    exit 1
  fi
  echo "${subscription}: dead letter -> ${dead_letter_topic}, max ${max_attempts} attempts"
  gcloud pubsub subscriptions update "${subscription}" \
    --dead-letter-topic="${dead_letter_topic}" \
    --max-delivery-attempts="${max_attempts}" \
    --quiet
  # Forwarding to the dead-letter topic acks the message on this subscription:
  # the Pub/Sub service agent needs subscriber on it (publisher on the topic is
  # granted by Terraform).
  gcloud pubsub subscriptions add-iam-policy-binding "${subscription}" \
    --member="${pubsub_agent}" \
    --role=roles/pubsub.subscriber \
    --quiet >/dev/null
  count=$((count + 1))
done 3<"${policies_file}"

if [[ ${count} -eq 0 ]]; then
  echo "error: no trigger in ${policies_file}" >&2
  exit 1
fi
echo "dead-letter policies attached to ${count} Eventarc subscription(s)"
