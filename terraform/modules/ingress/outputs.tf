output "ingress_class" {
  description = "helm/environment ingress.className"
  value       = "nginx"
}
