variable "chart_version" {
  type = string
}

variable "ip_address" {
  description = "Regional static IP for the controller's load balancer."
  type        = string
}
