//! Bytes → a GitLab event (by header, or by `object_kind`) → the job and ordering mark it asks
//! for → `decide` on every kind of repository and environment. What is recorded must read back
//! exactly (the queue and the worker read it), and nothing may panic.

#![no_main]

use std::sync::LazyLock;

use blueberry::domain::{
    Repository,
    gitlab::{Current, MergeRequestEvent, admits, decide},
    job::LifecycleJob,
    repository::RepositoryFilters,
};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

static REPOSITORY: LazyLock<Repository> = LazyLock::new(|| {
    serde_json::from_value(json!({
        "id": "r1", "name": "shop", "gitlab_project_id": 15, "path_with_namespace": "acme/shop",
        "config_set_id": "c1", "filters": {}, "webhook_secret_hash": "ab",
        "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z"
    }))
    .expect("a repository")
});

static FILTERS: LazyLock<Vec<RepositoryFilters>> = LazyLock::new(|| {
    vec![
        RepositoryFilters::default(),
        RepositoryFilters {
            skip_drafts: true,
            include_labels: vec!["preview".into()],
            exclude_labels: vec!["no-preview".into()],
            target_branch_pattern: Some("release/*".into()),
            allow_forks: true,
        },
        RepositoryFilters {
            target_branch_pattern: Some("*".into()),
            ..RepositoryFilters::default()
        },
    ]
});

const EVENTS: [Option<&str>; 4] = [
    Some("Merge Request Hook"),
    Some("Note Hook"),
    None,
    Some("Pipeline Hook"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let event = EVENTS[usize::from(selector) % EVENTS.len()];
    let Ok(intent) = blueberry::service::webhooks::interpret(&REPOSITORY, event, body) else {
        return;
    };
    let Ok((job, mark)) = intent else {
        return;
    };
    let json = serde_json::to_string(&job).expect("jobs serialize");
    let back: LifecycleJob = serde_json::from_str(&json).expect("the worker reads the job back");
    assert_eq!(back, job);
    let Some(mark) = mark else {
        return;
    };
    let recorded: MergeRequestEvent =
        serde_json::from_str(&mark.event).expect("the worker reads the recorded event back");
    assert_eq!(recorded.order(), mark.order);
    for filters in FILTERS.iter() {
        let _ = admits(&recorded, filters);
        for live in [false, true] {
            for sha in [None, recorded.head_sha.as_ref()] {
                let first = decide(&recorded, filters, Current { live, sha });
                let again = decide(&recorded, filters, Current { live, sha });
                assert_eq!(first, again, "deciding is a function of its facts");
            }
        }
    }
});
