output "project" {
  description = "helm/blueberry firebase.project"
  value       = google_firebase_project.this.project
}
