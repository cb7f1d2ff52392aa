terraform {
  required_version = ">= 1.6"

  # State in a GCS bucket; its name and prefix come from backend/<env>.tfvars:
  #   terraform init -backend-config="backend/dev.tfvars"
  backend "gcs" {}

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.20"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.20"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
    }
  }
}
