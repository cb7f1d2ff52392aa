//! A GitLab that remembers: wiremock with a stateful responder for the REST calls Blueberry
//! makes (merge request notes, commit statuses, environments, deployments, members), so tests
//! can assert on the resulting state (one sticky note per merge request, its final text, the
//! newest commit status) and not only on request counts. Faults: a rate of 503s, or down.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

/// A note on a merge request.
#[derive(Debug, Clone)]
pub struct Note {
    pub id: u64,
    pub body: String,
}

/// What GitLab holds after Blueberry talked to it.
#[derive(Debug, Default)]
pub struct GitLabState {
    /// Notes per (project, merge request iid), oldest first.
    pub notes: BTreeMap<(u64, u64), Vec<Note>>,
    next_id: u64,
    /// Commit statuses per (project, sha), in the order they were set.
    pub statuses: BTreeMap<(u64, String), Vec<Value>>,
    /// GitLab environments per project: name → (id, external_url, stopped).
    pub environments: BTreeMap<u64, BTreeMap<String, (u64, String, bool)>>,
    pub deployments: Vec<Value>,
    /// Access level per user id (any project); unknown users are not members.
    pub members: HashMap<u64, u64>,
    /// Fraction of requests answered with 503.
    pub error_rate: f64,
    /// The next this-many commit status requests are answered with 503.
    pub fail_statuses: u32,
    pub requests: u64,
}

impl GitLabState {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The notes on one merge request whose text contains `marker`.
    pub fn notes_with(&self, project: u64, iid: u64, marker: &str) -> Vec<Note> {
        self.notes
            .get(&(project, iid))
            .map(|n| {
                n.iter()
                    .filter(|n| n.body.contains(marker))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct Responder(Arc<Mutex<GitLabState>>);

fn num(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// A request's body as JSON, whether it was sent as JSON or as a form (the `gitlab` crate sends
/// forms): form fields become string members.
pub fn body(req: &Request) -> Value {
    if let Ok(json) = serde_json::from_slice(&req.body) {
        return json;
    }
    let form: serde_json::Map<String, Value> = form_urlencoded::parse(&req.body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    if form.is_empty() {
        Value::Null
    } else {
        Value::Object(form)
    }
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.0.lock().unwrap();
        st.requests += 1;
        if st.error_rate > 0.0 && rand::random::<f64>() < st.error_rate {
            return ResponseTemplate::new(503).set_body_json(json!({"message": "503 simulated"}));
        }
        let path = req.url.path().to_owned();
        if path == "/api/v4/user" {
            // The client's token check when it is built.
            return ResponseTemplate::new(200)
                .set_body_json(json!({"id": 1, "username": "blueberry"}));
        }
        let parts: Vec<&str> = path
            .trim_start_matches("/api/v4/projects/")
            .split('/')
            .collect();
        let Some(project) = parts.first().and_then(|p| num(p)) else {
            return ResponseTemplate::new(404);
        };
        let method = req.method.as_str();
        match (method, &parts[1..]) {
            ("GET", ["merge_requests", iid, "notes"]) => {
                let notes = st
                    .notes
                    .get(&(project, num(iid).unwrap_or(0)))
                    .cloned()
                    .unwrap_or_default();
                // GitLab lists newest first by default.
                let list: Vec<Value> = notes
                    .iter()
                    .rev()
                    .map(|n| json!({"id": n.id, "body": n.body, "system": false}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(list)
            }
            ("POST", ["merge_requests", iid, "notes"]) => {
                let id = st.id();
                let text = body(req)["body"].as_str().unwrap_or_default().to_owned();
                st.notes
                    .entry((project, num(iid).unwrap_or(0)))
                    .or_default()
                    .push(Note { id, body: text });
                ResponseTemplate::new(201).set_body_json(json!({"id": id}))
            }
            ("PUT", ["merge_requests", iid, "notes", note]) => {
                let text = body(req)["body"].as_str().unwrap_or_default().to_owned();
                let id = num(note).unwrap_or(0);
                match st
                    .notes
                    .get_mut(&(project, num(iid).unwrap_or(0)))
                    .and_then(|n| n.iter_mut().find(|n| n.id == id))
                {
                    Some(n) => {
                        n.body = text;
                        ResponseTemplate::new(200).set_body_json(json!({"id": id}))
                    }
                    None => ResponseTemplate::new(404),
                }
            }
            ("POST", ["statuses", _]) if st.fail_statuses > 0 => {
                st.fail_statuses -= 1;
                ResponseTemplate::new(503).set_body_json(json!({"message": "503 simulated"}))
            }
            ("POST", ["statuses", sha]) => {
                let b = body(req);
                st.statuses
                    .entry((project, (*sha).to_owned()))
                    .or_default()
                    .push(b);
                ResponseTemplate::new(201).set_body_json(json!({"id": 1}))
            }
            ("GET", ["environments"]) => {
                let name = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "name")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                let found: Vec<Value> = st
                    .environments
                    .get(&project)
                    .and_then(|e| e.get(&name))
                    .map(|(id, url, _)| vec![json!({"id": id, "name": name, "external_url": url})])
                    .unwrap_or_default();
                ResponseTemplate::new(200).set_body_json(found)
            }
            ("POST", ["environments"]) => {
                let b = body(req);
                let id = st.id();
                let name = b["name"].as_str().unwrap_or_default().to_owned();
                let url = b["external_url"].as_str().unwrap_or_default().to_owned();
                st.environments
                    .entry(project)
                    .or_default()
                    .insert(name.clone(), (id, url, false));
                ResponseTemplate::new(201).set_body_json(json!({"id": id, "name": name}))
            }
            ("PUT", ["environments", env]) => {
                let url = body(req)["external_url"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let id = num(env).unwrap_or(0);
                for e in st.environments.entry(project).or_default().values_mut() {
                    if e.0 == id {
                        e.1 = url.clone();
                        e.2 = false;
                    }
                }
                ResponseTemplate::new(200).set_body_json(json!({"id": id}))
            }
            ("POST", ["environments", env, "stop"]) => {
                let id = num(env).unwrap_or(0);
                for e in st.environments.entry(project).or_default().values_mut() {
                    if e.0 == id {
                        e.2 = true;
                    }
                }
                ResponseTemplate::new(200).set_body_json(json!({"id": id}))
            }
            ("POST", ["deployments"]) => {
                let b = body(req);
                st.deployments.push(b);
                let id = st.id();
                ResponseTemplate::new(201).set_body_json(json!({"id": id}))
            }
            ("GET", ["members", "all", user]) => match st.members.get(&num(user).unwrap_or(0)) {
                Some(level) => ResponseTemplate::new(200)
                    .set_body_json(json!({"id": num(user), "access_level": level})),
                None => ResponseTemplate::new(404),
            },
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "404 Not Found"})),
        }
    }
}

/// A running fake GitLab.
pub struct FakeGitLab {
    pub server: MockServer,
    pub state: Arc<Mutex<GitLabState>>,
}

impl FakeGitLab {
    /// Starts one where `members` (user id → access level) belong to every project.
    pub async fn start(members: &[(u64, u64)]) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(GitLabState {
            members: members.iter().copied().collect(),
            ..Default::default()
        }));
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, GitLabState> {
        self.state.lock().unwrap()
    }
}
