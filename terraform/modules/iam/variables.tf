variable "project_id" {
  type = string
}

variable "account_id" {
  type = string
}

variable "k8s_namespace" {
  type = string
}

variable "k8s_service_account" {
  type = string
}

variable "topic_id" {
  type = string
}

variable "subscription_id" {
  type = string
}

variable "bucket_name" {
  type = string
}

variable "secret_ids" {
  type = map(string)
}
