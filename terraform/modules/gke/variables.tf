variable "name" {
  type = string
}

variable "region" {
  type = string
}

variable "labels" {
  type = map(string)
}

variable "master_authorized_cidrs" {
  description = "Display name → CIDR allowed to reach the control plane."
  type        = map(string)
}
