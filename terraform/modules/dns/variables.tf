variable "name" {
  type = string
}

variable "zone_name" {
  type = string
}

variable "base_domain" {
  type = string
}

variable "platform_host" {
  type = string
}

variable "region" {
  type = string
}
