# GKE Autopilot: Google runs the nodes; pods are billed by their resource requests.
resource "google_container_cluster" "this" {
  #checkov:skip=CKV_GCP_12:Autopilot always runs GKE Dataplane V2, which enforces NetworkPolicy; the setting cannot be changed.
  #checkov:skip=CKV_GCP_61:Autopilot manages flow logs and intranode visibility itself; the field is not settable on Autopilot.
  #checkov:skip=CKV_GCP_69:Autopilot always runs the GKE metadata server (Workload Identity); node pool settings do not exist.
  #checkov:skip=CKV_GCP_65:Google Groups for RBAC needs a Google Workspace domain; Blueberry's own RBAC is a namespaced Role.
  name     = var.name
  location = var.region

  enable_autopilot    = true
  deletion_protection = true
  resource_labels     = var.labels

  release_channel {
    channel = "REGULAR"
  }

  # Private nodes; the control plane is reachable from the authorised networks only.
  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
  }

  master_authorized_networks_config {
    dynamic "cidr_blocks" {
      for_each = var.master_authorized_cidrs
      content {
        display_name = cidr_blocks.key
        cidr_block   = cidr_blocks.value
      }
    }
  }

  ip_allocation_policy {}

  # Workload Identity is always on in Autopilot; pods act as Google service accounts.
  workload_identity_config {
    workload_pool = "${data.google_project.current.project_id}.svc.id.goog"
  }

  binary_authorization {
    evaluation_mode = "PROJECT_SINGLETON_POLICY_ENFORCE"
  }

  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }
}

data "google_project" "current" {}

# Private nodes reach registries outside Google (Docker Hub, GitLab's registry) through NAT.
resource "google_compute_router" "nat" {
  name    = "${var.name}-nat"
  region  = var.region
  network = "default"
}

resource "google_compute_router_nat" "nat" {
  name                               = "${var.name}-nat"
  router                             = google_compute_router.nat.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}
