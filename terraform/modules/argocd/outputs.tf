output "namespace" {
  value = helm_release.argocd.namespace
}
