output "cluster_name" {
  value = module.gke.name
}

output "gcp_service_account" {
  description = "helm/blueberry serviceAccount.gcpServiceAccount"
  value       = module.iam.email
}

output "environments_ip" {
  description = "Static IP of the environments' wildcard record (*.base_domain)."
  value       = module.dns.environments_ip
}

output "platform_ip_name" {
  description = "helm/blueberry ingress annotation kubernetes.io/ingress.global-static-ip-name"
  value       = module.dns.platform_ip_name
}

output "pubsub" {
  description = "helm/blueberry pubsub.* values"
  value = {
    topic           = module.pubsub.topic_name
    subscription    = module.pubsub.subscription_name
    deadLetterTopic = module.pubsub.dead_letter_topic_name
  }
}

output "artifacts_bucket" {
  value = module.storage.name
}

output "secret_ids" {
  description = "Secret Manager secrets to fill in (values never go through Terraform)."
  value       = module.secrets.ids
}
