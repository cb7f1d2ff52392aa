variable "prefix" {
  type = string
}

variable "labels" {
  type = map(string)
}

variable "names" {
  description = "Secret names, e.g. gitlab-token, session-key."
  type        = list(string)
}
