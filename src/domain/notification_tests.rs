//! Tests of notification subscriptions and deliveries (kept apart so the code reads in one screen).

use super::*;
use chrono::TimeZone;

fn about() -> About {
    About {
        environment_id: "pr-42-shop".into(),
        repository_id: "r1".into(),
        status: "failed".into(),
        message: Some("Degraded: <!channel> image pull back-off".into()),
        url: "https://pr-42-shop.example.com".into(),
        status_page: "https://bb.example.com/environments/pr-42-shop".into(),
        expires_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        merge_request_url: None,
    }
}

#[test]
fn events_map_to_topics() {
    assert_eq!(Topic::of(EventKind::Healthy), Some(Topic::Ready));
    assert_eq!(Topic::of(EventKind::ExpiryWarned), Some(Topic::Expiring));
    assert_eq!(Topic::of(EventKind::Applied), None);
    for t in Topic::ALL {
        assert_eq!(Topic::parse(t.as_str()), Some(t));
    }
}

#[test]
fn message_ids_are_stable_per_moment_and_subscription() {
    let a = message_id("s1", "pr-1-shop", 7, Topic::Ready);
    assert_eq!(a, message_id("s1", "pr-1-shop", 7, Topic::Ready));
    assert_ne!(a, message_id("s2", "pr-1-shop", 7, Topic::Ready));
    assert_ne!(a, message_id("s1", "pr-1-shop", 8, Topic::Ready));
    assert!(a.starts_with("msg_") && a.len() == 36);
}

#[test]
fn slack_messages_cannot_mention_or_link_from_a_failure_reason() {
    let text = slack_body(Topic::Failed, &about())["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("&lt;!channel&gt;"), "{text}");
    assert!(text.contains("<https://bb.example.com/environments/pr-42-shop|Status page>"));
    let body = standard_body(Topic::Failed, &about(), about().expires_at);
    assert_eq!(body["type"], "environment.failed");
    assert_eq!(body["data"]["environment_id"], "pr-42-shop");
}

#[test]
fn the_log_keeps_the_newest_and_counts_attempts() {
    let mut s = Subscription {
        id: "s1".into(),
        repository_id: Some("r1".into()),
        url: "https://hooks.example.com/x".into(),
        topics: vec![Topic::Failed],
        format: Format::StandardWebhooks,
        secret: new_secret(),
        created_by: "admin".into(),
        created_at: Utc::now(),
        deliveries: vec![],
    };
    assert!(s.wants(Topic::Failed, "r1"));
    assert!(!s.wants(Topic::Failed, "r2") && !s.wants(Topic::Ready, "r1"));
    for attempt in 1..=25 {
        s.record(DeliveryAttempt {
            message_id: "m".into(),
            topic: Topic::Failed,
            environment_id: "pr-1-shop".into(),
            at: Utc::now(),
            attempt,
            status: Some(503),
            error: None,
            delivered: false,
            last: false,
        });
    }
    assert_eq!(s.deliveries.len(), DELIVERY_LOG);
    assert_eq!(s.attempts("m"), 25);
    assert!(!s.settled("m"));
    assert!(s.secret.expose().starts_with("whsec_"));
    assert!(crate::domain::webhook::signing_key_bytes(s.secret.expose()).is_ok());
}

#[test]
fn receiver_urls_are_http_with_a_real_host() {
    for ok in [
        "https://hooks.slack.com/services/T0/B0/x?y=1#z",
        "http://127.0.0.1:8080/hook",
        "http://127.0.0.1:65535/hook",
        "http://receiver",
    ] {
        assert!(valid_url(ok), "{ok}");
    }
    for bad in [
        "ftp://example.com",
        "http://",
        "http://1.2.3.999/",
        "http://example.com:99999/",
        "http://example.com:65536/",
        "http://exa mple.com/",
        "http://example.com/a b",
        "0000",
        "http://[::1]/",
    ] {
        assert!(!valid_url(bad), "{bad}");
    }
    assert!(!valid_url(&format!("https://e.com/{}", "a".repeat(2048))));
}

#[test]
fn urls_are_shown_without_their_secrets() {
    assert_eq!(
        redact_url("https://hooks.slack.com/services/T0/B0/XXXX"),
        "https://hooks.slack.com/…"
    );
    assert_eq!(
        redact_url("https://user:pw@example.com/hook?token=1"),
        "https://example.com/…"
    );
    assert_eq!(redact_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
}
