variable "project_id" {
  type = string
}

variable "location" {
  type = string
}

variable "database" {
  type = string
}

variable "indexes_file" {
  description = "Path of firestore.indexes.json (the gcloud format)."
  type        = string
}
