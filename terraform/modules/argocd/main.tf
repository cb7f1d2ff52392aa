# Argo CD from its official Helm chart, with the argoproj.io/Application health check that
# App-of-Apps sync waves need, read from argocd-apps/argocd-cm.yaml (one source of truth).
locals {
  health_key = "resource.customizations.health.argoproj.io_Application"
  health     = yamldecode(file(var.health_customisation)).data[local.health_key]
}

resource "helm_release" "argocd" {
  name             = "argocd"
  namespace        = "argocd"
  create_namespace = true
  repository       = "https://argoproj.github.io/argo-helm"
  chart            = "argo-cd"
  version          = var.chart_version
  atomic           = true
  timeout          = 600

  values = [yamlencode({
    configs = {
      cm = {
        (local.health_key) = local.health
      }
    }
  })]
}
