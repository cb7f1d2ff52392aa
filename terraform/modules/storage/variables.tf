variable "name" {
  type = string
}

variable "location" {
  type = string
}

variable "labels" {
  type = map(string)
}

variable "retention_days" {
  type = number
}
