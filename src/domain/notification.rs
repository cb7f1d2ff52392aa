//! Notifications beyond the merge request: subscriptions (global or per repository) to an
//! environment's moments (ready, failed, expiring, terminated), delivered to any URL as signed
//! Standard Webhooks or as a Slack-compatible message. Pure: the payloads, the signature, the
//! message ids and the delivery log; sending is the service's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{EventKind, Secret};

/// The moments a subscription can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Ready,
    Failed,
    Expiring,
    Terminated,
}

impl Topic {
    pub const ALL: [Topic; 4] = [
        Topic::Ready,
        Topic::Failed,
        Topic::Expiring,
        Topic::Terminated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Ready => "ready",
            Topic::Failed => "failed",
            Topic::Expiring => "expiring",
            Topic::Terminated => "terminated",
        }
    }

    pub fn parse(s: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The moment an environment event is, if it is one subscriptions hear about.
    pub fn of(kind: EventKind) -> Option<Topic> {
        match kind {
            EventKind::Healthy => Some(Topic::Ready),
            EventKind::Failed => Some(Topic::Failed),
            EventKind::ExpiryWarned => Some(Topic::Expiring),
            EventKind::Terminated => Some(Topic::Terminated),
            _ => None,
        }
    }
}

/// How deliveries are shaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// JSON signed per the Standard Webhooks spec (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`) with the subscription's secret.
    #[default]
    StandardWebhooks,
    /// `{"text": …}` for a Slack (or Mattermost, Rocket.Chat…) incoming-webhook URL.
    Slack,
}

/// What a receiver's URL may be (the API's schema states the same pattern): http(s), a DNS
/// name whose last label starts with a letter or a dotted IPv4 address, an optional port (up to
/// 65535), and printable ASCII after it.
pub const URL_PATTERN: &str = r"^https?://(([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?|((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?(/[!-~]*)?$";

/// Whether `url` may be a receiver's URL ([`URL_PATTERN`], at most 2048 characters).
pub fn valid_url(url: &str) -> bool {
    static PATTERN: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(URL_PATTERN).expect("a valid pattern"));
    url.len() <= 2048 && PATTERN.is_match(url)
}

/// Deliveries kept per subscription, newest first.
pub const DELIVERY_LOG: usize = 20;
/// Attempts per message before giving up.
pub const MAX_ATTEMPTS: u32 = 6;

/// One try at delivering one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryAttempt {
    pub message_id: String,
    pub topic: Topic,
    pub environment_id: String,
    pub at: DateTime<Utc>,
    /// 1 for the first try.
    pub attempt: u32,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why it failed, when it did (never the secret, never the URL's credentials).
    pub error: Option<String>,
    pub delivered: bool,
    /// No further tries: delivered, or `MAX_ATTEMPTS` reached.
    pub last: bool,
}

/// Where and what a subscriber hears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    /// Only this repository's environments; every environment when absent.
    pub repository_id: Option<String>,
    pub url: String,
    pub topics: Vec<Topic>,
    pub format: Format,
    /// `whsec_…`, the Standard Webhooks signing secret (shown once, at creation).
    pub secret: Secret,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The last deliveries, newest first (at most [`DELIVERY_LOG`]).
    #[serde(default)]
    pub deliveries: Vec<DeliveryAttempt>,
}

impl Subscription {
    /// Whether it hears about `topic` for an environment of `repository_id`.
    pub fn wants(&self, topic: Topic, repository_id: &str) -> bool {
        self.topics.contains(&topic)
            && self
                .repository_id
                .as_deref()
                .is_none_or(|r| r == repository_id)
    }

    /// Tries so far for `message_id`.
    pub fn attempts(&self, message_id: &str) -> u32 {
        self.deliveries
            .iter()
            .filter(|d| d.message_id == message_id)
            .map(|d| d.attempt)
            .max()
            .unwrap_or(0)
    }

    /// Whether `message_id` needs no further try (delivered or given up).
    pub fn settled(&self, message_id: &str) -> bool {
        self.deliveries
            .iter()
            .any(|d| d.message_id == message_id && d.last)
    }

    /// Logs a try, keeping the newest [`DELIVERY_LOG`].
    pub fn record(&mut self, attempt: DeliveryAttempt) {
        self.deliveries.insert(0, attempt);
        self.deliveries.truncate(DELIVERY_LOG);
    }
}

/// The message id: the same for every try (receivers deduplicate on it), different for every
/// subscription and moment.
pub fn message_id(
    subscription_id: &str,
    environment_id: &str,
    version: u64,
    topic: Topic,
) -> String {
    let digest = Sha256::digest(
        format!(
            "{subscription_id}/{environment_id}/{version}/{}",
            topic.as_str()
        )
        .as_bytes(),
    );
    format!("msg_{}", &hex::encode(digest)[..32])
}

/// What a message says about its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    pub environment_id: String,
    pub repository_id: String,
    pub status: String,
    pub message: Option<String>,
    pub url: String,
    pub status_page: String,
    pub expires_at: DateTime<Utc>,
    pub merge_request_url: Option<String>,
}

/// The Standard Webhooks body: `{"type": "environment.ready", "timestamp": …, "data": {…}}`.
pub fn standard_body(topic: Topic, about: &About, at: DateTime<Utc>) -> Value {
    json!({
        "type": format!("environment.{}", topic.as_str()),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "environment_id": about.environment_id,
            "repository_id": about.repository_id,
            "status": about.status,
            "message": about.message,
            "url": about.url,
            "status_page": about.status_page,
            "expires_at": about.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "merge_request_url": about.merge_request_url,
        }
    })
}

/// Slack's incoming-webhook body: one line of mrkdwn.
pub fn slack_body(topic: Topic, about: &About) -> Value {
    let (icon, what) = match topic {
        Topic::Ready => (":large_green_circle:", "is ready".to_owned()),
        Topic::Failed => (":red_circle:", "failed".to_owned()),
        Topic::Expiring => (
            ":hourglass_flowing_sand:",
            format!(
                "expires at {}",
                about.expires_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        Topic::Terminated => (":black_circle:", "was torn down".to_owned()),
    };
    let reason = match (topic, &about.message) {
        (Topic::Failed, Some(m)) => format!(": {}", escape_slack(m)),
        _ => String::new(),
    };
    let open = if topic == Topic::Ready {
        format!(" <{}|Open>", about.url)
    } else {
        String::new()
    };
    json!({
        "text": format!(
            "{icon} Environment `{}` {what}{reason}.{open} <{}|Status page>",
            about.environment_id, about.status_page
        )
    })
}

/// Slack's three control characters, so a message cannot forge links or mentions.
fn escape_slack(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A new `whsec_…` secret: 24 random bytes.
pub fn new_secret() -> Secret {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// The URL without credentials or query, for logs and pages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(invalid URL)".into();
    };
    let host_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let end = host_path.find(['?', '#']).unwrap_or(host_path.len());
    let host_end = host_path.find('/').unwrap_or(end).min(end);
    // Paths of incoming-webhook URLs are their secret (Slack's /services/T…/B…/x…).
    let path = if host_end < end { "/…" } else { "" };
    format!("{scheme}://{}{path}", &host_path[..host_end])
}

#[cfg(test)]
mod tests {
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
}
