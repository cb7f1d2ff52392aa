//! Tests of the GitLab transport (kept apart so the code reads in one screen).

use super::*;

fn lazy(url: &str) -> anyhow::Result<LazyGitlab> {
    LazyGitlab::new(
        url,
        SecretString::from("t"),
        NonZeroU32::new(10).unwrap(),
        Default::default(),
    )
}

#[test]
fn an_exhausted_budget_is_waited_out_until_its_reset() {
    let now = chrono::Utc::now();
    let mut h = http::HeaderMap::new();
    assert_eq!(exhausted(&h, now), None);
    h.insert("ratelimit-remaining", "3".parse().unwrap());
    h.insert(
        "ratelimit-reset",
        (now.timestamp() + 5).to_string().parse().unwrap(),
    );
    assert_eq!(exhausted(&h, now), None, "some remain");
    h.insert("ratelimit-remaining", "0".parse().unwrap());
    assert_eq!(exhausted(&h, now), Some(Duration::from_secs(5)));
    h.insert(
        "ratelimit-reset",
        (now.timestamp() - 5).to_string().parse().unwrap(),
    );
    assert_eq!(
        exhausted(&h, now),
        Some(Duration::from_secs(1)),
        "a reset passed"
    );
    h.insert(
        "ratelimit-reset",
        (now.timestamp() + 3600).to_string().parse().unwrap(),
    );
    assert_eq!(exhausted(&h, now), Some(MAX_RETRY_AFTER), "capped");
}

#[test]
fn urls_become_the_crates_host_and_scheme() {
    let t = |u: &str| lazy(u).unwrap();
    let plain = t("http://127.0.0.1:8080/");
    assert_eq!(plain.host, "127.0.0.1:8080");
    assert!(plain.insecure);
    assert_eq!(plain.rest.as_str(), "http://127.0.0.1:8080/api/v4/");
    let prefixed = t("https://example.com/gitlab");
    assert_eq!(prefixed.host, "example.com/gitlab");
    assert!(!prefixed.insecure);
    assert_eq!(
        prefixed.rest.join("projects/1").unwrap().as_str(),
        "https://example.com/gitlab/api/v4/projects/1"
    );
    assert!(lazy("ftp://x").is_err());
    assert!(lazy("not a url").is_err());
}

#[test]
fn retry_after_is_read_in_seconds_and_capped() {
    let mut h = http::HeaderMap::new();
    assert_eq!(retry_after(&h), None);
    h.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
    assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
    h.insert(http::header::RETRY_AFTER, "3600".parse().unwrap());
    assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
    h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
    assert_eq!(retry_after(&h), None);
}
