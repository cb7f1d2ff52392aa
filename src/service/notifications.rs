//! Notifications beyond the merge request (`domain::notification`): subscriptions, and their
//! delivery. A save that records a moment (ready, failed, expiring, terminated) commits an
//! `Announce` job with it; that job queues one `Deliver` per subscription that wants it, each
//! ordered by its subscription alone, so a slow or dead receiver delays only its own messages,
//! never the lifecycle, GitLab's feedback or another subscriber. Every try is logged on the
//! subscription; failures are tried again with back-off up to `MAX_ATTEMPTS`.
//!
//! Long on purpose: subscriptions and their delivery (announce, deliver, retry, log) are one flow;
//! the payloads are in `domain::notification`.

use std::{sync::Arc, time::Duration};

use super::{Ports, ServiceError, Settings, writes::new_job};
use crate::{
    domain::{
        EnvironmentId, LifecycleJob,
        job::retry_delay,
        notification::{
            About, DeliveryAttempt, Format, MAX_ATTEMPTS, Subscription, Topic, message_id,
            new_secret, redact_url, slack_body, standard_body, valid_url,
        },
        webhook,
    },
    metrics::{Metrics, OutcomeLabels},
    ports::{AuditEntry, StoreError},
};

/// How long a receiver may take to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Subscriptions at most (each moment fans out to all that want it).
const MAX_SUBSCRIPTIONS: usize = 100;

/// A subscription as asked for (API or UI).
#[derive(Debug, Clone, Default)]
pub struct SubscriptionInput {
    /// Only this repository's environments; all when absent.
    pub repository_id: Option<String>,
    pub url: String,
    /// `ready`, `failed`, `expiring`, `terminated`.
    pub events: Vec<String>,
    /// `standard_webhooks` (default) or `slack`.
    pub format: Option<String>,
}

/// A new subscription and, for Standard Webhooks, its signing secret (shown this once).
pub struct Created {
    pub subscription: Subscription,
    pub secret: Option<String>,
}

#[derive(Clone)]
pub struct NotificationService {
    ports: Ports,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
}

impl NotificationService {
    pub fn new(ports: Ports, settings: Arc<Settings>, metrics: Arc<Metrics>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            // A receiver answers; it does not send Blueberry elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Self {
            ports,
            settings,
            metrics,
            http,
        }
    }

    pub async fn create(
        &self,
        input: SubscriptionInput,
        actor: &str,
    ) -> Result<Created, ServiceError> {
        let url = input.url.trim().to_owned();
        check_url(&url)?;
        let format = match input.format.as_deref().map(str::trim) {
            None | Some("") | Some("standard_webhooks") => Format::StandardWebhooks,
            Some("slack") => Format::Slack,
            Some(other) => {
                return Err(ServiceError::invalid(
                    "format",
                    format!("unknown format {other:?}; use standard_webhooks or slack"),
                ));
            }
        };
        let mut topics = Vec::new();
        for e in &input.events {
            let topic = Topic::parse(e.trim()).ok_or_else(|| {
                ServiceError::invalid(
                    "events",
                    format!("unknown event {e:?}; use ready, failed, expiring or terminated"),
                )
            })?;
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
        if topics.is_empty() {
            return Err(ServiceError::invalid(
                "events",
                "name at least one of ready, failed, expiring, terminated",
            ));
        }
        let ports = &self.ports;
        let repository_id = input
            .repository_id
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if let Some(r) = &repository_id
            && ports.catalog.get_repository(r).await?.is_none()
        {
            return Err(ServiceError::dangling(
                "repository_id",
                format!("no repository with id `{r}`"),
            ));
        }
        if ports.subscriptions.list_subscriptions().await?.len() >= MAX_SUBSCRIPTIONS {
            return Err(ServiceError::Conflict(format!(
                "there are {MAX_SUBSCRIPTIONS} subscriptions already; delete one first"
            )));
        }
        let secret = new_secret();
        let subscription = Subscription {
            id: uuid::Uuid::new_v4().to_string(),
            repository_id,
            url,
            topics,
            format,
            secret: secret.clone(),
            created_by: actor.to_owned(),
            created_at: self.ports.clock.now(),
            deliveries: vec![],
        };
        ports
            .subscriptions
            .create_subscription(&subscription)
            .await?;
        self.audit(actor, "subscription.create", &subscription)
            .await?;
        Ok(Created {
            secret: (format == Format::StandardWebhooks).then(|| secret.expose().to_owned()),
            subscription,
        })
    }

    pub async fn list(&self) -> Result<Vec<Subscription>, ServiceError> {
        Ok(self.ports.subscriptions.list_subscriptions().await?)
    }

    pub async fn get(&self, id: &str) -> Result<Subscription, ServiceError> {
        self.ports
            .subscriptions
            .get_subscription(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no subscription with id `{id}`")))
    }

    pub async fn delete(&self, id: &str, actor: &str) -> Result<(), ServiceError> {
        let sub = self.get(id).await?;
        self.ports.subscriptions.delete_subscription(id).await?;
        self.audit(actor, "subscription.delete", &sub).await
    }

    async fn audit(&self, actor: &str, action: &str, s: &Subscription) -> Result<(), ServiceError> {
        let entry = AuditEntry {
            at: self.ports.clock.now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: s.id.clone(),
            detail: redact_url(&s.url),
        };
        Ok(self.ports.audit.append_audit(&entry).await?)
    }

    /// Queues a delivery of `topic` about `environment_id` (as of `version`) to every
    /// subscription that wants it.
    pub async fn announce(
        &self,
        environment_id: &EnvironmentId,
        topic: Topic,
        version: u64,
    ) -> Result<(), ServiceError> {
        let ports = &self.ports;
        let subscriptions = ports.subscriptions.list_subscriptions().await?;
        if subscriptions.is_empty() {
            return Ok(());
        }
        let Some(env) = ports.environments.get_environment(environment_id).await? else {
            return Ok(());
        };
        for s in subscriptions
            .iter()
            .filter(|s| s.wants(topic, &env.repository_id))
        {
            let job = LifecycleJob::Deliver {
                environment_id: environment_id.clone(),
                subscription_id: s.id.clone(),
                topic,
                message_id: message_id(&s.id, environment_id.as_str(), version, topic),
            };
            self.ports.queue.enqueue(new_job(&job, None)).await?;
        }
        Ok(())
    }

    /// Tries one message once and logs the try. `Some(delay)`: try again after it.
    pub async fn deliver(
        &self,
        subscription_id: &str,
        environment_id: &EnvironmentId,
        topic: Topic,
        message_id: &str,
    ) -> Result<Option<Duration>, ServiceError> {
        let ports = &self.ports;
        let Some(mut sub) = ports
            .subscriptions
            .get_subscription(subscription_id)
            .await?
        else {
            return Ok(None);
        };
        if sub.settled(message_id) {
            return Ok(None);
        }
        let Some(env) = ports.environments.get_environment(environment_id).await? else {
            return Ok(None);
        };
        let about = About {
            environment_id: env.id.to_string(),
            repository_id: env.repository_id.clone(),
            status: env.status.to_string(),
            message: env.status_message.clone(),
            url: format!("https://{}", env.id.hostname(&self.settings.base_domain)),
            status_page: self.settings.status_page_url(&env.id),
            expires_at: env.expires_at,
            merge_request_url: env.merge_request.as_ref().map(|m| m.url.clone()),
        };
        let now = self.ports.clock.now();
        let attempt = sub.attempts(message_id) + 1;
        let mut request = self
            .http
            .post(&sub.url)
            .header("content-type", "application/json");
        let body = match sub.format {
            Format::StandardWebhooks => {
                let body = serde_json::to_vec(&standard_body(topic, &about, now))
                    .expect("JSON serializes");
                let timestamp = now.timestamp();
                request = request
                    .header("webhook-id", message_id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header(
                        "webhook-signature",
                        webhook::sign(sub.secret.expose(), message_id, timestamp, &body),
                    );
                body
            }
            Format::Slack => {
                serde_json::to_vec(&slack_body(topic, &about)).expect("JSON serializes")
            }
        };
        let (status, error) = match request.body(body).send().await {
            Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
            Ok(r) => (
                Some(r.status().as_u16()),
                Some(format!("the receiver answered {}", r.status())),
            ),
            // Without the URL: an incoming-webhook URL is itself a secret.
            Err(e) => (None, Some(e.without_url().to_string())),
        };
        let delivered = error.is_none();
        let last = delivered || attempt >= MAX_ATTEMPTS;
        let outcome = if delivered {
            "delivered"
        } else if last {
            "gave_up"
        } else {
            "retrying"
        };
        self.metrics
            .notifications
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
        if !delivered {
            tracing::warn!(
                subscription = %sub.id,
                receiver = %redact_url(&sub.url),
                attempt,
                error = error.as_deref().unwrap_or_default(),
                "notification not delivered"
            );
        }
        sub.record(DeliveryAttempt {
            message_id: message_id.to_owned(),
            topic,
            environment_id: env.id.to_string(),
            at: now,
            attempt,
            status,
            error,
            delivered,
            last,
        });
        match ports.subscriptions.update_subscription(&sub).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok((!last).then(|| retry_delay(self.settings.lifecycle.retry_base_delay, attempt + 1)))
    }
}

/// An `http(s)` URL with a host (the pattern the API's schema states), at most 2048 characters.
fn check_url(url: &str) -> Result<(), ServiceError> {
    if url.is_empty() {
        return Err(ServiceError::invalid("url", "must not be empty"));
    }
    if url.len() > 2048 {
        return Err(ServiceError::invalid(
            "url",
            "must be at most 2048 characters",
        ));
    }
    if !valid_url(url) {
        return Err(ServiceError::invalid(
            "url",
            "must be an absolute http or https URL: a host name or IPv4 address, an optional port, no spaces",
        ));
    }
    Ok(())
}
