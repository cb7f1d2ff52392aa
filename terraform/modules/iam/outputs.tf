output "email" {
  value = google_service_account.blueberry.email
}
