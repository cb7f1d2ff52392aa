//! The GitLab adapter on its own, against wiremock: what it promises beyond the happy path.

use std::time::{Duration, Instant};

use blueberry::{
    adapters::gitlab::GitLabHost,
    ports::githost::{CommitState, GitHost, GitHostError, MergeRequestRef},
};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

const TOKEN: &str = "glpat-never-print-me";
const MR: MergeRequestRef = MergeRequestRef {
    project_id: 15,
    iid: 42,
};

async fn gitlab_with_user() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .and(header("PRIVATE-TOKEN", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    server
}

fn host(server: &MockServer) -> GitLabHost {
    GitLabHost::new(&server.uri(), TOKEN.to_owned().into()).unwrap()
}

#[tokio::test]
async fn a_429_is_retried_after_the_seconds_gitlab_asks_for() {
    let server = gitlab_with_user().await;
    Mock::given(method("POST"))
        .and(path("/api/v4/projects/15/merge_requests/42/notes"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v4/projects/15/merge_requests/42/notes"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 501})))
        .with_priority(2)
        .mount(&server)
        .await;
    let started = Instant::now();
    assert_eq!(host(&server).create_note(&MR, "hello").await.unwrap(), 501);
    // backon alone would wait at most 200 ms × jitter before the first retry.
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "Retry-After was not honoured: {:?}",
        started.elapsed()
    );
    let notes: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/notes"))
        .collect();
    assert_eq!(notes.len(), 2);
    assert_eq!(
        crate::fake_gitlab::body(&notes[1])["body"],
        "hello",
        "the crate sends the note's text as the body field"
    );
}

#[tokio::test]
async fn a_refused_token_is_a_rejection_that_never_shows_the_token() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v4/user"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "401 Unauthorized"})),
        )
        .mount(&server)
        .await;
    let err = host(&server)
        .set_commit_status(15, "abc", CommitState::Success, "https://x", "ok")
        .await
        .unwrap_err();
    assert!(matches!(err, GitHostError::Rejected(_)), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
}

#[tokio::test]
async fn gitlab_down_at_start_up_stops_nothing_and_is_retried_later() {
    // Nothing listens here yet: building the adapter must not call GitLab.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let down = GitLabHost::new(&format!("http://{addr}"), TOKEN.to_owned().into()).unwrap();
    let err = down.find_note(&MR, "marker").await.unwrap_err();
    assert!(matches!(err, GitHostError::Retriable(_)), "{err:?}");
    assert!(!format!("{err:?}").contains(TOKEN));

    // The same adapter works once GitLab answers: its client was not built from a failure.
    let server = gitlab_with_user().await;
    let up = host(&server);
    let _ = up.find_note(&MR, "marker").await; // builds the client (notes 404 here)
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/15/merge_requests/42/notes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 9, "body": "other"}, {"id": 8, "body": "<!-- marker -->"}
        ])))
        .mount(&server)
        .await;
    assert_eq!(up.find_note(&MR, "marker").await.unwrap(), Some(8));
}

#[tokio::test]
async fn missing_things_are_answers_not_errors() {
    let server = gitlab_with_user().await;
    let gitlab = host(&server);
    assert!(!gitlab.edit_note(&MR, 77, "x").await.unwrap(), "note gone");
    assert_eq!(gitlab.find_note(&MR, "m").await.unwrap(), None);
    assert_eq!(
        gitlab.access_level(15, 3).await.unwrap(),
        blueberry::ports::githost::AccessLevel::NONE
    );
    // A merge request that is gone refuses a new note.
    let err = gitlab.create_note(&MR, "x").await.unwrap_err();
    assert!(matches!(err, GitHostError::Rejected(_)), "{err:?}");
}
