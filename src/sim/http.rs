//! The simulated API server's HTTP face: the Kubernetes routes for `applications.argoproj.io`
//! (list, watch, get, create, server-side apply, merge patch, put, delete), discovery, and the
//! server-level faults (latency, a rate of 503s).
//!
//! Long on purpose: one handler per Kubernetes verb on one resource (list, watch, get, create,
//! apply, patch, put, delete) and the faults wrapping them, each short.

use std::{convert::Infallible, time::Duration};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, Query, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};

use super::{
    SimHandles,
    discovery::{self, GROUP_VERSION},
    selector::{FieldSelector, LabelSelector},
    store::{ApiFailure, Filter, Object, WatchEvent},
};

type Sim = SimHandles;

const APPS: &str = "/apis/argoproj.io/v1alpha1";

pub fn router(state: Sim) -> Router<Sim> {
    Router::new()
        .route("/version", get(|| async { Json(discovery::version()) }))
        .route("/api", get(|| async { Json(discovery::core_versions()) }))
        .route(
            "/api/v1",
            get(|| async { Json(discovery::core_v1_resources()) }),
        )
        .route(
            "/api/v1/namespaces/{ns}",
            get(|Path(ns): Path<String>| async move { Json(discovery::namespace(&ns)) }),
        )
        .route("/apis", get(|| async { Json(discovery::groups()) }))
        .route(
            "/apis/argoproj.io",
            get(|| async { Json(discovery::group()) }),
        )
        .route(APPS, get(|| async { Json(discovery::resources()) }))
        .route(
            "/openapi/v3",
            get(|| async { Json(discovery::openapi_v3_root()) }),
        )
        .route(
            "/openapi/v3/apis/argoproj.io/v1alpha1",
            get(|| async { Json(discovery::openapi_v3_group()) }),
        )
        .route(&format!("{APPS}/applications"), get(list_all))
        .route(
            &format!("{APPS}/namespaces/{{ns}}/applications"),
            get(list_ns).post(create),
        )
        .route(
            &format!("{APPS}/namespaces/{{ns}}/applications/{{name}}"),
            get(get_one)
                .patch(patch_one)
                .put(put_one)
                .delete(delete_one),
        )
        .fallback(|| async {
            failure(ApiFailure::new(
                404,
                "NotFound",
                "the server could not find the requested resource (simulated cluster)",
                None,
            ))
        })
        .layer(middleware::from_fn_with_state(state, inject_faults))
}

/// Server-level faults: added latency and a rate of 503 answers.
async fn inject_faults(State(state): State<Sim>, req: Request, next: Next) -> Response {
    let settings = state.settings();
    if !settings.latency.is_zero() {
        tokio::time::sleep(settings.latency).await;
    }
    if settings.error_rate > 0.0 && rand::random::<f64>() < settings.error_rate {
        return failure(ApiFailure::new(
            503,
            "ServiceUnavailable",
            "simulated outage: the server is currently unable to handle the request",
            None,
        ));
    }
    next.run(req).await
}

fn failure(f: ApiFailure) -> Response {
    let code = StatusCode::from_u16(f.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(f.body)).into_response()
}

/// The object's JSON as stored.
fn object(code: StatusCode, obj: &Object) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        obj.json(),
    )
        .into_response()
}

fn reply(result: Result<Object, ApiFailure>, code: StatusCode) -> Response {
    match result {
        Ok(v) => object(code, &v),
        Err(f) => failure(f),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    watch: Option<String>,
    resource_version: Option<String>,
    label_selector: Option<String>,
    field_selector: Option<String>,
    allow_watch_bookmarks: Option<bool>,
    timeout_seconds: Option<u64>,
}

fn is_true(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("true" | "1"))
}

async fn list_all(
    State(s): State<Sim>,
    headers: HeaderMap,
    Query(p): Query<ListParams>,
) -> Response {
    list_or_watch(s, None, &headers, p)
}

async fn list_ns(
    State(s): State<Sim>,
    Path(ns): Path<String>,
    headers: HeaderMap,
    Query(p): Query<ListParams>,
) -> Response {
    list_or_watch(s, Some(ns), &headers, p)
}

fn list_or_watch(
    state: Sim,
    namespace: Option<String>,
    headers: &HeaderMap,
    p: ListParams,
) -> Response {
    let labels = match LabelSelector::parse(p.label_selector.as_deref().unwrap_or("")) {
        Ok(l) => l,
        Err(e) => {
            return failure(ApiFailure::new(
                400,
                "BadRequest",
                format!("unable to parse labelSelector: {e}"),
                None,
            ));
        }
    };
    let fields = match FieldSelector::parse(p.field_selector.as_deref().unwrap_or("")) {
        Ok(f) => f,
        Err(e) => return failure(ApiFailure::new(400, "BadRequest", e, None)),
    };
    let filter = Filter {
        namespace,
        labels,
        fields,
    };
    let table = discovery::wants_table(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    if is_true(&p.watch) {
        let since = p.resource_version.as_deref().and_then(|rv| rv.parse().ok());
        let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or(1800).clamp(1, 3600));
        return watch(
            state,
            filter,
            since,
            p.allow_watch_bookmarks.unwrap_or(false),
            timeout,
            table,
        );
    }
    let (items, rv) = state.store.list(&filter);
    if table {
        return Json(discovery::table(items.iter().map(|o| o.value()), rv)).into_response();
    }
    // The stored objects' JSON, joined as they are.
    let mut body = format!(
        "{{\"kind\":\"ApplicationList\",\"apiVersion\":\"{GROUP_VERSION}\",\"metadata\":{{\"resourceVersion\":\"{rv}\"}},\"items\":["
    )
    .into_bytes();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&item.json());
    }
    body.extend_from_slice(b"]}");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A watch event's line, with the stored object's JSON as it is.
fn object_line(kind: &str, object: &Object) -> Bytes {
    let json = object.json();
    let mut line = Vec::with_capacity(json.len() + 32);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(&json);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

/// `{"type": kind, "object": …}` and a newline, serializing the object in place.
fn event_line(kind: &str, object: &Value) -> Bytes {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        object: &'a Value,
    }
    let mut line = serde_json::to_vec(&Line { kind, object }).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn watch(
    state: Sim,
    filter: Filter,
    since: Option<u64>,
    bookmarks: bool,
    timeout: Duration,
    table: bool,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut events = state.store.subscribe();
    let mut close = state.store.close_watches.subscribe();
    let start = state.store.watch_start(since, &filter);
    let encode = move |e: &WatchEvent| {
        if table {
            event_line(e.kind, &discovery::table([e.object.value()], e.rv))
        } else {
            object_line(e.kind, &e.object)
        }
    };
    tokio::spawn(async move {
        let (initial, mut last) = match start {
            Ok(x) => x,
            Err(f) => {
                let _ = tx.send(event_line("ERROR", &f.body)).await;
                return;
            }
        };
        for e in &initial {
            if tx.send(encode(e)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                r = events.recv() => match r {
                    Ok(e) if e.rv > last => {
                        last = e.rv;
                        if filter.matches(&e.object) && tx.send(encode(&e)).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
                },
                _ = tick.tick(), if bookmarks => {
                    let mark = json!({"kind": "Application", "apiVersion": GROUP_VERSION,
                        "metadata": {"resourceVersion": last.to_string()}});
                    if tx.send(event_line("BOOKMARK", &mark)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = close.changed() => return,
            }
        }
    });
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiFailure> {
    serde_json::from_slice(body).map_err(|e| {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if ct.contains("yaml") {
            ApiFailure::new(
                415,
                "UnsupportedMediaType",
                "the simulated cluster accepts JSON bodies only (JSON is valid YAML)",
                None,
            )
        } else {
            ApiFailure::new(
                400,
                "BadRequest",
                format!("the body is not valid JSON: {e}"),
                None,
            )
        }
    })
}

async fn create(
    State(s): State<Sim>,
    Path(ns): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = parse_body(&headers, &body).and_then(|v| s.store.create(&ns, &v));
    reply(result, StatusCode::CREATED)
}

async fn get_one(State(s): State<Sim>, Path((ns, name)): Path<(String, String)>) -> Response {
    reply(s.store.get(&ns, &name), StatusCode::OK)
}

async fn patch_one(
    State(s): State<Sim>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = match parse_body(&headers, &body) {
        Ok(v) => v,
        Err(f) => return failure(f),
    };
    if ct.starts_with("application/apply-patch") {
        return match s.store.apply(&ns, &name, &body) {
            Ok((obj, true)) => object(StatusCode::CREATED, &obj),
            Ok((obj, false)) => object(StatusCode::OK, &obj),
            Err(f) => failure(f),
        };
    }
    if ct.starts_with("application/merge-patch+json")
        || ct.starts_with("application/strategic-merge-patch+json")
    {
        return reply(s.store.patch(&ns, &name, &body), StatusCode::OK);
    }
    failure(ApiFailure::new(
        415,
        "UnsupportedMediaType",
        format!("the simulated cluster does not support patch type {ct:?}"),
        None,
    ))
}

async fn put_one(
    State(s): State<Sim>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = parse_body(&headers, &body).and_then(|v| s.store.replace(&ns, &name, &v));
    reply(result, StatusCode::OK)
}

async fn delete_one(State(s): State<Sim>, Path((ns, name)): Path<(String, String)>) -> Response {
    reply(s.store.delete(&ns, &name), StatusCode::OK)
}
