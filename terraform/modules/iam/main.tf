# One Google service account for Blueberry's pods (API and workers), with only what it uses:
# Firestore documents, publishing to and consuming from its own topic and subscription, its
# bucket's objects and its own secrets. Pods act as it through Workload Identity.
resource "google_service_account" "blueberry" {
  account_id   = var.account_id
  display_name = "Blueberry (API and workers)"
}

# Firestore has no per-database IAM: datastore.user is the narrowest role for reads and writes.
resource "google_project_iam_member" "firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.blueberry.email}"
}

resource "google_pubsub_topic_iam_member" "publish" {
  topic  = var.topic_id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.blueberry.email}"
}

resource "google_pubsub_subscription_iam_member" "consume" {
  subscription = var.subscription_id
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.blueberry.email}"
}

# Archives of terminated environments: write (create, and delete to replace an archive
# rewritten with later events) and read back. No listing: reads follow `environments/{id}/latest`.
resource "google_project_iam_custom_role" "archive" {
  role_id     = replace("${var.account_id}_archive", "-", "_")
  title       = "Blueberry archive writer"
  description = "Create, replace and read objects of Blueberry's bucket; nothing else."
  permissions = [
    "storage.objects.create",
    "storage.objects.delete",
    "storage.objects.get",
  ]
}

resource "google_storage_bucket_iam_member" "objects" {
  bucket = var.bucket_name
  role   = google_project_iam_custom_role.archive.id
  member = "serviceAccount:${google_service_account.blueberry.email}"
}

resource "google_secret_manager_secret_iam_member" "read" {
  for_each  = var.secret_ids
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.blueberry.email}"
}

# Workload Identity: the Kubernetes service account blueberry/blueberry may act as this one.
resource "google_service_account_iam_member" "workload_identity" {
  service_account_id = google_service_account.blueberry.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.k8s_namespace}/${var.k8s_service_account}]"
}
