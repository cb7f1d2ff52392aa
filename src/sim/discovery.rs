//! Discovery documents, `Status` bodies and server-side tables, as kubectl expects them.

use serde_json::{Value, json};

pub const GROUP: &str = "argoproj.io";
pub const VERSION: &str = "v1alpha1";
pub const GROUP_VERSION: &str = "argoproj.io/v1alpha1";

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "37", "gitVersion": "v1.37.0-blueberry-sim",
        "gitCommit": "simulated", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "n/a", "compiler": "rustc", "platform": "simulated"
    })
}

pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]
    })
}

pub fn core_v1_resources() -> Value {
    json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": ["get"], "shortNames": ["ns"]}
    ]})
}

/// Every namespace exists in the simulator (Applications create theirs with CreateNamespace).
pub fn namespace(name: &str) -> Value {
    json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name}, "status": {"phase": "Active"}})
}

pub fn groups() -> Value {
    let gv = json!({"groupVersion": GROUP_VERSION, "version": VERSION});
    json!({
        "kind": "APIGroupList", "apiVersion": "v1",
        "groups": [{"name": GROUP, "versions": [gv.clone()], "preferredVersion": gv}]
    })
}

pub fn group() -> Value {
    let gv = json!({"groupVersion": GROUP_VERSION, "version": VERSION});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": GROUP, "versions": [gv.clone()], "preferredVersion": gv})
}

pub fn resources() -> Value {
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
        "resources": [{
            "name": "applications", "singularName": "application", "namespaced": true,
            "kind": "Application", "shortNames": ["app", "apps"], "categories": ["argoproj"],
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]
        }]
    })
}

/// A Kubernetes `Status` failure body.
pub fn status(code: u16, reason: &str, message: &str, name: Option<&str>) -> Value {
    let mut details = json!({"group": GROUP, "kind": "applications"});
    if let Some(n) = name {
        details["name"] = json!(n);
    }
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "details": details, "code": code
    })
}

/// Whether the client asked for a server-side `Table` (what `kubectl get` prints).
pub fn wants_table(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("as=Table"))
}

/// Renders Applications as a `meta.k8s.io/v1` Table with Argo CD's printer columns.
pub fn table(objects: impl IntoIterator<Item = Value>, resource_version: u64) -> Value {
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|o| {
            let cell = |p: &str| o.pointer(p).cloned().unwrap_or(json!(""));
            json!({
                "cells": [cell("/metadata/name"), cell("/status/sync/status"), cell("/status/health/status"), cell("/spec/source/targetRevision")],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"].clone()}
            })
        })
        .collect();
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
            {"name": "Sync Status", "type": "string", "format": "", "description": "Argo CD sync status", "priority": 0},
            {"name": "Health Status", "type": "string", "format": "", "description": "Argo CD health status", "priority": 0},
            {"name": "Revision", "type": "string", "format": "", "description": "Target revision", "priority": 1}
        ],
        "rows": rows
    })
}

/// `/openapi/v3`: where each group-version's document is.
pub fn openapi_v3_root() -> Value {
    json!({"paths": {
        "apis/argoproj.io/v1alpha1": {"serverRelativeURL": "/openapi/v3/apis/argoproj.io/v1alpha1?hash=blueberry-sim-1"}
    }})
}

/// The group-version document. kubectl reads the PATCH operation's parameters: advertising
/// `fieldValidation` makes it leave validation to the server, as with a real API server.
pub fn openapi_v3_group() -> Value {
    let gvk = json!({"group": GROUP, "version": VERSION, "kind": "Application"});
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    let object = json!({"$ref": "#/components/schemas/io.argoproj.v1alpha1.Application"});
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Blueberry simulated cluster", "version": "v1alpha1"},
        "paths": {
            "/apis/argoproj.io/v1alpha1/namespaces/{namespace}/applications/{name}": {
                "get": {"operationId": "readApplication", "x-kubernetes-group-version-kind": gvk,
                        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": object}}}}},
                "patch": {"operationId": "patchApplication", "x-kubernetes-group-version-kind": gvk,
                          "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation"), param("force")],
                          "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": object}}}}}
            }
        },
        "components": {"schemas": {"io.argoproj.v1alpha1.Application": {
            "type": "object",
            "x-kubernetes-group-version-kind": [gvk],
            "x-kubernetes-preserve-unknown-fields": true
        }}}
    })
}
