//! The OpenAPI document as served: what utoipa builds from the handlers' annotations, completed
//! with the answers every handler can give without saying so — each error answer documented
//! once, as `application/problem+json` with the shared `Problem` schema, and `Retry-After` on
//! 429 and 503. The rules follow the code that answers: the auth middleware (401, 403), the
//! path extractors (404), the JSON body extractor (400, 413, 415, 422), the query extractor
//! (400, 422) and the store, request timeout and SSE caps (503).

use serde_json::{Map, Value, json};

use super::errors::PROBLEM_JSON;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn problem() -> Value {
    json!({ PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } })
}

fn retry_after() -> Value {
    json!({ "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": { "type": "integer", "minimum": 0 }
    }})
}

/// The document utoipa built, completed.
pub fn complete(doc: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).expect("the document serializes");
    constrain(&mut doc);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                    complete_operation(path, op);
                }
            }
        }
    }
    doc
}

/// What the handlers check that the derived schemas cannot say.
fn constrain(doc: &mut Value) {
    // A config set names exactly one source.
    if let Some(schema) = doc.pointer_mut("/components/schemas/ConfigSetRequest") {
        let derived = schema.take();
        *schema = json!({ "allOf": [derived, { "oneOf": [
            { "required": ["chart"], "properties": { "chart": { "type": "string" } } },
            { "required": ["path"], "properties": { "path": { "type": "string" } } },
        ]}]});
    }
    // A GitLab event: any event names its project; merge request (`object_kind`
    // `merge_request`) and comment (`note`) events are GitLab's full payloads.
    if let Some(body) =
        doc.pointer_mut("/paths/~1webhooks~1gitlab/post/requestBody/content/application~1json")
    {
        let id = json!({ "type": "integer", "format": "int64", "minimum": 0 });
        body["schema"] = json!({
            "type": "object",
            "properties": {
                "object_kind": { "type": "string" },
                "project": { "type": "object", "required": ["id"], "properties": { "id": id } },
                "project_id": id,
            },
            "anyOf": [{ "required": ["project"] }, { "required": ["project_id"] }],
        });
    }
}

fn complete_operation(path: &str, op: &mut Map<String, Value>) {
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has = |place: &str| params.iter().any(|p| p["in"] == place);
    let body = op.contains_key("requestBody");
    let api = path.starts_with("/api/");
    let mut expected: Vec<(&str, &str)> = Vec::new();
    if api {
        expected.push(("401", "No credentials, or credentials that are not valid"));
        expected.push(("403", "The caller's role does not allow this"));
    }
    if has("path") {
        expected.push(("404", "Nothing by that id"));
    }
    if body {
        expected.extend([
            ("400", "The body is not valid JSON"),
            ("413", "The body is too large"),
            ("415", "The body is not `application/json`"),
            ("422", "A field is not valid; the problem names it"),
        ]);
    }
    if has("query") {
        expected.extend([
            ("400", "A query parameter is not understood"),
            (
                "422",
                "A query parameter is not valid; the problem names it",
            ),
        ]);
    }
    if path != "/healthz" {
        expected.push((
            "503",
            "A backing service is unavailable, or the request took too long; try again",
        ));
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for (status, description) in expected {
        responses
            .entry(status)
            .or_insert_with(|| json!({ "description": description }));
    }
    for (status, response) in responses.iter_mut() {
        if status.as_str() < "400" {
            continue;
        }
        let response = response.as_object_mut().expect("a response is an object");
        if response
            .get("description")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            response.insert("description".into(), json!("See the problem's detail"));
        }
        let content = response.entry("content").or_insert_with(|| json!({}));
        let is_problem = |c: &Value| {
            c.get("schema").and_then(|s| s.get("$ref"))
                == Some(&json!("#/components/schemas/Problem"))
        };
        // Errors are problem+json; a documented body of another shape (readiness) stays.
        let other_shape = content
            .as_object()
            .is_some_and(|c| c.values().any(|c| !is_problem(c)));
        if !other_shape {
            *content = problem();
        }
        if status == "429" || status == "503" {
            response.insert("headers".into(), retry_after());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_problems_and_the_implied_answers_are_documented() {
        let (_, doc) = super::super::router_and_openapi();
        let doc = complete(&doc);
        let op = &doc["paths"]["/api/environments/{id}/extend"]["post"]["responses"];
        for status in ["400", "401", "403", "404", "413", "415", "422", "503"] {
            assert_eq!(
                op[status]["content"][PROBLEM_JSON]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{status}"
            );
            assert!(op[status]["content"].get("application/json").is_none());
        }
        assert!(op["503"]["headers"]["Retry-After"].is_object());
        let health = &doc["paths"]["/healthz"]["get"]["responses"];
        assert!(health.get("401").is_none() && health.get("503").is_none());
        let list = &doc["paths"]["/api/environments"]["get"]["responses"];
        assert!(list.get("404").is_none(), "no path parameter, no 404");
        assert!(list.get("400").is_some(), "query parameters can be refused");
    }

    #[test]
    fn the_schema_carries_the_constraints_the_handlers_check() {
        let (_, doc) = super::super::router_and_openapi();
        let doc = complete(&doc);
        let schemas = &doc["components"]["schemas"];
        let name = &schemas["EnvironmentCreate"]["properties"]["name"];
        assert_eq!(name["maxLength"], 63);
        assert!(name["pattern"].as_str().unwrap().starts_with("^[a-z0-9]"));
        assert_eq!(
            schemas["ExtendRequest"]["properties"]["hours"]["maximum"],
            168
        );
        let params = doc["paths"]["/api/environments"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(
            (&limit["schema"]["minimum"], &limit["schema"]["maximum"]),
            (&json!(1), &json!(100))
        );
        let one_of = &schemas["ConfigSetRequest"]["allOf"][1]["oneOf"];
        assert_eq!(one_of[0]["required"], json!(["chart"]));
        let webhook = &doc["paths"]["/webhooks/gitlab"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"];
        assert_eq!(webhook["anyOf"][1]["required"], json!(["project_id"]));
    }
}
