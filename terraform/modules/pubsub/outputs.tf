output "topic_id" {
  value = google_pubsub_topic.jobs.id
}

output "topic_name" {
  value = google_pubsub_topic.jobs.name
}

output "subscription_id" {
  value = google_pubsub_subscription.workers.id
}

output "subscription_name" {
  value = google_pubsub_subscription.workers.name
}

output "dead_letter_topic_id" {
  value = google_pubsub_topic.dead_letter.id
}

output "dead_letter_topic_name" {
  value = google_pubsub_topic.dead_letter.name
}
