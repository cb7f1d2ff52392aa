# terraform init -backend-config="backend/dev.tfvars"
# The bucket must exist first (gsutil mb -l europe-west1 gs://<bucket>; gsutil versioning set on gs://<bucket>).
bucket = "my-project-terraform-state"
prefix = "blueberry"
