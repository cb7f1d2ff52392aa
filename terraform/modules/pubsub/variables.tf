variable "project_id" {
  type = string
}

variable "name" {
  description = "Topic name; the subscription and dead-letter topic are named after it."
  type        = string
}

variable "labels" {
  type = map(string)
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message goes to the dead-letter topic (Blueberry's --max-deliveries)."
  type        = number
  default     = 20
}
