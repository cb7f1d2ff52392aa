# Static IPs and DNS: the platform's host, and a wildcard for every environment's host
# ({id}.{base_domain}), both in an existing Cloud DNS zone.
resource "google_compute_global_address" "platform" {
  name = "${var.name}-platform"
}

# Regional: it is the load balancer IP of the environments' ingress controller (one IP for
# every environment, behind the wildcard record).
resource "google_compute_address" "environments" {
  name   = "${var.name}-environments"
  region = var.region
}

data "google_dns_managed_zone" "zone" {
  name = var.zone_name
}

resource "google_dns_record_set" "platform" {
  managed_zone = data.google_dns_managed_zone.zone.name
  name         = "${var.platform_host}."
  type         = "A"
  ttl          = 300
  rrdatas      = [google_compute_global_address.platform.address]
}

resource "google_dns_record_set" "environments" {
  managed_zone = data.google_dns_managed_zone.zone.name
  name         = "*.${var.base_domain}."
  type         = "A"
  ttl          = 300
  rrdatas      = [google_compute_address.environments.address]
}
