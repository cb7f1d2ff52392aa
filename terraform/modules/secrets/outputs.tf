output "ids" {
  description = "Name → secret id."
  value       = { for k, s in google_secret_manager_secret.this : k => s.id }
}
