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
#[path = "notification_tests.rs"]
mod tests;
