output "environments_ip" {
  value = google_compute_address.environments.address
}

output "platform_ip_name" {
  value = google_compute_global_address.platform.name
}
