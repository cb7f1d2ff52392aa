# Blueberry's base infrastructure on GCP. One workspace per environment (dev, prod…): names
# carry the workspace, and the inputs come from variables/<workspace>.auto.tfvars.
locals {
  env    = terraform.workspace
  prefix = "blueberry-${terraform.workspace}"
  labels = {
    "app"         = "blueberry"
    "environment" = terraform.workspace
    "managed-by"  = "terraform"
  }
  # The Kubernetes service account of helm/blueberry (namespace blueberry, name blueberry).
  k8s_namespace       = "blueberry"
  k8s_service_account = "blueberry"
}

resource "google_project_service" "apis" {
  for_each = toset([
    "container.googleapis.com",
    "firestore.googleapis.com",
    "pubsub.googleapis.com",
    "secretmanager.googleapis.com",
    "dns.googleapis.com",
    "firebase.googleapis.com",
    "identitytoolkit.googleapis.com",
    "artifactregistry.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}

module "gke" {
  source                  = "./modules/gke"
  name                    = local.prefix
  region                  = var.region
  labels                  = local.labels
  master_authorized_cidrs = var.master_authorized_cidrs
  depends_on              = [google_project_service.apis]
}

module "firestore" {
  source       = "./modules/firestore"
  project_id   = var.project_id
  location     = var.region
  database     = "(default)"
  indexes_file = "${path.root}/firestore.indexes.json"
  depends_on   = [google_project_service.apis]
}

module "pubsub" {
  source     = "./modules/pubsub"
  project_id = var.project_id
  name       = "blueberry-jobs"
  labels     = local.labels
  depends_on = [google_project_service.apis]
}

module "storage" {
  source         = "./modules/storage"
  name           = "${var.project_id}-${local.prefix}-artifacts"
  location       = var.region
  labels         = local.labels
  retention_days = var.artifact_retention_days
}

module "secrets" {
  source     = "./modules/secrets"
  prefix     = local.prefix
  labels     = local.labels
  names      = ["gitlab-token", "session-key", "bootstrap-token", "redis-password"]
  depends_on = [google_project_service.apis]
}

module "iam" {
  source              = "./modules/iam"
  project_id          = var.project_id
  account_id          = local.prefix
  k8s_namespace       = local.k8s_namespace
  k8s_service_account = local.k8s_service_account
  subscription_id     = module.pubsub.subscription_id
  topic_id            = module.pubsub.topic_id
  bucket_name         = module.storage.name
  secret_ids          = module.secrets.ids
  depends_on          = [module.gke]
}

module "firebase" {
  source     = "./modules/firebase"
  project_id = var.project_id
  depends_on = [google_project_service.apis]
}

module "dns" {
  source        = "./modules/dns"
  name          = local.prefix
  region        = var.region
  zone_name     = var.dns_zone_name
  base_domain   = var.base_domain
  platform_host = var.platform_host
}

module "argocd" {
  source               = "./modules/argocd"
  chart_version        = var.argocd_chart_version
  health_customisation = "${path.root}/../argocd-apps/argocd-cm.yaml"
  depends_on           = [module.gke]
}

module "ingress" {
  source        = "./modules/ingress"
  chart_version = var.ingress_nginx_chart_version
  ip_address    = module.dns.environments_ip
  depends_on    = [module.gke]
}
