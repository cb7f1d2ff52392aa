# The Firestore database and every composite index and TTL policy the Firestore adapter needs.
# The indexes come from terraform/firestore.indexes.json, the same file the emulator tests
# and `gcloud firestore indexes` use, so code and infrastructure cannot drift.
locals {
  spec    = jsondecode(file(var.indexes_file))
  indexes = { for i, index in local.spec.indexes : tostring(i) => index }
  ttls = {
    for o in local.spec.fieldOverrides : "${o.collectionGroup}.${o.fieldPath}" => o
    if try(o.ttl, false)
  }
  # Fields exempted from single-field indexing (large documents stored as one field).
  exemptions = {
    for o in local.spec.fieldOverrides : "${o.collectionGroup}.${o.fieldPath}" => o
    if !try(o.ttl, false) && length(o.indexes) == 0
  }
}

resource "google_firestore_database" "this" {
  project                           = var.project_id
  name                              = var.database
  location_id                       = var.location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"
}

resource "google_firestore_index" "this" {
  for_each    = local.indexes
  project     = var.project_id
  database    = google_firestore_database.this.name
  collection  = each.value.collectionGroup
  query_scope = each.value.queryScope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.fieldPath
      order        = try(fields.value.order, null)
      array_config = try(fields.value.arrayConfig, null)
    }
  }
}

resource "google_firestore_field" "ttl" {
  for_each   = local.ttls
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collectionGroup
  field      = each.value.fieldPath

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "exempt" {
  for_each   = local.exemptions
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collectionGroup
  field      = each.value.fieldPath

  index_config {}
}
