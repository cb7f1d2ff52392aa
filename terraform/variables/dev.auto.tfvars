# terraform plan -var-file="variables/dev.auto.tfvars"   (in workspace "dev")
project_id    = "my-project"
region        = "europe-west1"
base_domain   = "preview.dev.example.com"
platform_host = "blueberry.dev.example.com"
dns_zone_name = "example-com"

master_authorized_cidrs = {
  office = "203.0.113.0/24"
}
