variable "project_id" {
  description = "GCP project that holds everything (Firestore, Pub/Sub, GKE, …)."
  type        = string
}

variable "region" {
  description = "Region of the cluster, the bucket and the Firestore database."
  type        = string
  default     = "europe-west1"
}

variable "base_domain" {
  description = "Environments are served on {id}.{base_domain}; a wildcard record points at the ingress IP."
  type        = string
}

variable "platform_host" {
  description = "Where people reach Blueberry itself, e.g. blueberry.example.com."
  type        = string
}

variable "dns_zone_name" {
  description = "Existing Cloud DNS managed zone that contains base_domain and platform_host."
  type        = string
}

variable "argocd_chart_version" {
  description = "Version of the argo-cd Helm chart (argoproj/argo-helm)."
  type        = string
  default     = "7.8.2"
}

variable "master_authorized_cidrs" {
  description = "Networks allowed to reach the GKE control plane."
  type        = map(string)
  default     = {}
}

variable "artifact_retention_days" {
  description = "Days after which artifacts and logs in the bucket are deleted."
  type        = number
  default     = 30
}

variable "ingress_nginx_chart_version" {
  description = "Version of the ingress-nginx Helm chart that serves every environment."
  type        = string
  default     = "4.12.0"
}
