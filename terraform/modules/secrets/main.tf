# Secret Manager secrets Blueberry reads. Terraform creates the secrets, never their values:
# values are added with `gcloud secrets versions add`, so they never land in Terraform state.
resource "google_secret_manager_secret" "this" {
  for_each  = toset(var.names)
  secret_id = "${var.prefix}-${each.value}"
  labels    = var.labels

  replication {
    auto {}
  }
}
