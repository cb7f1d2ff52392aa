# Firebase on the same GCP project: Blueberry verifies Firebase ID tokens whose audience is
# this project (--firebase-project). Sign-in providers (Google, email) are chosen in the
# Firebase console.
resource "google_firebase_project" "this" {
  provider = google-beta
  project  = var.project_id
}

resource "google_identity_platform_config" "this" {
  provider = google-beta
  project  = var.project_id

  sign_in {
    allow_duplicate_emails = false
    email {
      enabled           = true
      password_required = true
    }
  }

  depends_on = [google_firebase_project.this]
}
