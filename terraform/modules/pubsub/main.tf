# The job queue: a topic, the workers' subscription (ordering keys on, so one environment's jobs
# run in order), and a dead-letter topic for jobs that keep failing.
data "google_project" "current" {
  project_id = var.project_id
}

locals {
  # Pub/Sub's own service agent moves undeliverable messages to the dead-letter topic.
  pubsub_agent = "serviceAccount:service-${data.google_project.current.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "jobs" {
  #checkov:skip=CKV_GCP_83:Messages carry environment ids and job kinds, no secrets or user data; Google-managed encryption at rest suffices.
  name                       = var.name
  labels                     = var.labels
  message_retention_duration = "86400s"
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Messages carry environment ids and job kinds, no secrets or user data; Google-managed encryption at rest suffices.
  name                       = "${var.name}-dead-letter"
  labels                     = var.labels
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "workers" {
  name   = "${var.name}-workers"
  topic  = google_pubsub_topic.jobs.id
  labels = var.labels

  enable_message_ordering = true
  # Workers extend their lease while a job runs (Blueberry's --job-lease-secs).
  ack_deadline_seconds       = 60
  message_retention_duration = "86400s"
  expiration_policy {
    ttl = "" # never expires
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# Kept so dead letters can be inspected and replayed.
resource "google_pubsub_subscription" "dead_letter" {
  name                       = "${var.name}-dead-letter-inspect"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = var.labels
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_forwarded" {
  subscription = google_pubsub_subscription.workers.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
