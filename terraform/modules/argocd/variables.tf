variable "chart_version" {
  type = string
}

variable "health_customisation" {
  description = "Path of argocd-apps/argocd-cm.yaml."
  type        = string
}
