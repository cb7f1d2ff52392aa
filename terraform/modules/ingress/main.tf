# One ingress controller for every environment, on the static IP the wildcard record points
# at: environments' Ingresses (class "nginx") share it instead of each getting a load balancer.
resource "helm_release" "ingress_nginx" {
  name             = "ingress-nginx"
  namespace        = "ingress-nginx"
  create_namespace = true
  repository       = "https://kubernetes.github.io/ingress-nginx"
  chart            = "ingress-nginx"
  version          = var.chart_version
  atomic           = true
  timeout          = 600

  values = [yamlencode({
    controller = {
      ingressClassResource = {
        name    = "nginx"
        default = false
      }
      service = {
        loadBalancerIP        = var.ip_address
        externalTrafficPolicy = "Local"
      }
      # Environments' Ingresses name no certificate: the controller serves this wildcard one
      # for *.base_domain (a Secret you create from your certificate, or cert-manager's).
      extraArgs = {
        "default-ssl-certificate" = "ingress-nginx/wildcard-tls"
      }
      replicaCount = 2
      # Autopilot bills requests: set them.
      resources = {
        requests = { cpu = "250m", memory = "256Mi" }
      }
    }
  })]
}
