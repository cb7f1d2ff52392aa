//! The GitLab adapter on its own, against wiremock: what it promises beyond the happy path.

use std::{
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use blueberry::{
    adapters::gitlab::GitLabHost,
    metrics::Metrics,
    ports::githost::{CommitState, GitHost, GitHostError, MergeRequestRef},
};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, path_regex},
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
    budgeted(server, 50, Default::default())
}

fn budgeted(server: &MockServer, per_second: u32, metrics: Arc<Metrics>) -> GitLabHost {
    GitLabHost::new(
        &server.uri(),
        TOKEN.to_owned().into(),
        NonZeroU32::new(per_second).unwrap(),
        metrics,
    )
    .unwrap()
}

async fn statuses_accepted(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path_regex("^/api/v4/projects/15/statuses/"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .mount(server)
        .await;
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
    let down = GitLabHost::new(
        &format!("http://{addr}"),
        TOKEN.to_owned().into(),
        std::num::NonZeroU32::new(50).unwrap(),
        Default::default(),
    )
    .unwrap();
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

#[tokio::test]
async fn calls_keep_to_the_budget_per_second_and_are_counted() {
    let server = gitlab_with_user().await;
    statuses_accepted(&server).await;
    let metrics = Arc::new(Metrics::default());
    let gitlab = Arc::new(budgeted(&server, 4, metrics.clone()));
    let started = Instant::now();
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let gitlab = gitlab.clone();
            tokio::spawn(async move {
                gitlab
                    .set_commit_status(
                        15,
                        &format!("{i:040x}"),
                        CommitState::Success,
                        "https://x",
                        "ok",
                    )
                    .await
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    // 13 requests (the client's token check, then 12) at 4 a second, 4 at once: ≥ 2.25 s.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(2000), "over budget: {took:?}");
    let text = metrics.render();
    assert!(
        text.contains(
            r#"blueberry_gitlab_requests_total{endpoint="set_commit_status",outcome="ok"} 12"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn when_gitlab_says_none_remain_every_call_waits_for_the_reset() {
    let server = gitlab_with_user().await;
    let reset = chrono::Utc::now().timestamp() + 2;
    Mock::given(method("POST"))
        .and(path_regex("^/api/v4/projects/15/statuses/"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 1}))
                .insert_header("RateLimit-Remaining", "0")
                .insert_header("RateLimit-Reset", reset.to_string().as_str()),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    statuses_accepted(&server).await;
    let metrics = Arc::new(Metrics::default());
    let gitlab = budgeted(&server, 50, metrics.clone());
    gitlab
        .set_commit_status(15, "a", CommitState::Success, "https://x", "ok")
        .await
        .unwrap();
    let started = Instant::now();
    gitlab
        .set_commit_status(15, "b", CommitState::Success, "https://x", "ok")
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "did not wait for the reset: {:?}",
        started.elapsed()
    );
    assert!(
        metrics
            .render()
            .contains("blueberry_gitlab_rate_limited_total 1"),
        "{}",
        metrics.render()
    );
}
