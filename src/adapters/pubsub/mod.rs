//! The Queue on Google Cloud Pub/Sub (`google-cloud-pubsub`).
//!
//! - `enqueue` publishes with the environment id as ordering key and returns once Pub/Sub has
//!   acknowledged the publish (durable).
//! - A consumer task streams from the subscription; the client library keeps every received
//!   message leased (ack deadline extension) until it is acked or nacked. Messages wait locally
//!   until due (`not_before` attribute) and are handed out at most one per ordering key, earliest
//!   due first: the same contract as the embedded queue.
//! - `nack` with a delay re-publishes the job with `deliveries + 1` and a `not_before`, then acks
//!   the original; past `max_deliveries` the job goes to the dead-letter topic instead. Crashed
//!   workers' messages come back when their lease lapses; in production the subscription's own
//!   dead-letter policy (Terraform) bounds those redeliveries too.
//!
//! The settings and creating the topics and subscription are in `setup.rs`; the local hold in
//! `holding.rs`.
//!
//! Long on purpose: the consumer loop and the Queue methods share the hold and its wake-ups; the
//! hold itself is `holding.rs`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use google_cloud_pubsub::{
    client::{Publisher, Subscriber},
    model::Message,
    subscriber::handler::Handler,
};
use tokio::sync::{Notify, OnceCell};

use self::holding::{Entry, Holding};
pub use self::setup::PubSubSettings;

use crate::{
    clock::Clock,
    ports::queue::{Delivery, NewJob, Queue, QueueDepth, QueueError, QueueResult},
};

/// A client builder pointed at the emulator (anonymous credentials) when one is configured.
macro_rules! with_target {
    ($builder:expr, $settings:expr) => {{
        let b = $builder;
        match &$settings.endpoint {
            Some(url) => b.with_endpoint(url.clone()).with_credentials(
                google_cloud_auth::credentials::anonymous::Builder::new().build(),
            ),
            None => b,
        }
    }};
}

mod holding;
mod setup;

const ATTR_NOT_BEFORE: &str = "not_before";
const ATTR_DELIVERIES: &str = "deliveries";
const ATTR_KEY: &str = "ordering_key";

/// A received message, held until it is acked or re-published.
struct Held {
    payload: serde_json::Value,
    message_id: String,
    deliveries: u32,
    handler: Handler,
}

type State = Holding<Held>;

pub struct PubSubQueue {
    settings: PubSubSettings,
    publisher: Publisher,
    dead_letters: Publisher,
    subscriber: Subscriber,
    clock: Arc<dyn Clock>,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    consumer: OnceCell<()>,
}

fn unavailable(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(anyhow::anyhow!("Pub/Sub: {e}"))
}

impl PubSubQueue {
    pub async fn connect(settings: PubSubSettings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        if settings.create {
            setup::create_resources(&settings).await?;
        }
        let publisher = with_target!(
            Publisher::builder(settings.topic_path(&settings.topic)),
            settings
        )
        .build()
        .await?;
        let dead_letters = with_target!(
            Publisher::builder(settings.topic_path(&settings.dead_letter_topic)),
            settings
        )
        .build()
        .await?;
        let subscriber = with_target!(Subscriber::builder(), settings)
            .build()
            .await?;
        Ok(Self {
            settings,
            publisher,
            dead_letters,
            subscriber,
            clock,
            state: Arc::default(),
            notify: Arc::new(Notify::new()),
            consumer: OnceCell::new(),
        })
    }

    /// Starts streaming from the subscription (once, on first receive: API-only replicas never
    /// consume).
    async fn ensure_consumer(&self) {
        self.consumer
            .get_or_init(|| async {
                let (subscriber, path) =
                    (self.subscriber.clone(), self.settings.subscription_path());
                let (state, notify) = (self.state.clone(), self.notify.clone());
                tokio::spawn(consume(subscriber, path, state, notify));
            })
            .await;
    }

    async fn publish(
        &self,
        to: &Publisher,
        key: &str,
        payload: &serde_json::Value,
        not_before: Option<DateTime<Utc>>,
        deliveries: u32,
    ) -> QueueResult<String> {
        let mut attributes = HashMap::from([
            (ATTR_DELIVERIES.to_owned(), deliveries.to_string()),
            (ATTR_KEY.to_owned(), key.to_owned()),
        ]);
        if let Some(t) = not_before {
            attributes.insert(ATTR_NOT_BEFORE.to_owned(), t.to_rfc3339());
        }
        let mut message = Message::new()
            .set_data(payload.to_string())
            .set_attributes(attributes);
        if self.settings.ordering {
            message = message.set_ordering_key(key.to_owned());
        }
        to.publish(message).await.map_err(unavailable)
    }

    /// Done with a message that was re-published (deferred, retried or dead-lettered): the
    /// original is acked once its copy is out; when the copy could not be published, the
    /// original is nacked so Pub/Sub redelivers it instead.
    fn settle<T>(&self, held: Entry<Held>, republished: QueueResult<T>) -> QueueResult<()> {
        match republished {
            Ok(_) => held.item.handler.ack(),
            Err(_) => held.item.handler.nack(),
        }
        self.notify.notify_waiters();
        republished.map(|_| ())
    }

    fn take_lease(&self, d: &Delivery) -> QueueResult<Entry<Held>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.release(&d.lease_token).ok_or(QueueError::LeaseLost)
    }
}

/// Streams messages into the local waiting list, reconnecting with backoff.
async fn consume(
    subscriber: Subscriber,
    path: String,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
) {
    let policy = ExponentialBuilder::default()
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times();
    let mut backoff = policy.build();
    loop {
        let mut stream = subscriber
            .subscribe(path.clone())
            .set_max_lease(Duration::from_secs(3600))
            .build();
        while let Some(item) = stream.next().await {
            match item {
                Ok((message, handler)) => {
                    backoff = policy.build();
                    let attr = |k: &str| message.attributes.get(k).cloned();
                    let payload = match serde_json::from_slice(&message.data) {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::error!(message_id = %message.message_id, error = %e, "unreadable job dropped");
                            handler.ack();
                            continue;
                        }
                    };
                    let key = attr(ATTR_KEY).unwrap_or_else(|| message.ordering_key.clone());
                    let not_before = attr(ATTR_NOT_BEFORE)
                        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.with_timezone(&Utc));
                    let held = Held {
                        payload,
                        message_id: message.message_id.clone(),
                        deliveries: attr(ATTR_DELIVERIES)
                            .and_then(|d| d.parse().ok())
                            .unwrap_or(0),
                        handler,
                    };
                    state
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .hold(key, not_before, held);
                    notify.notify_waiters();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Pub/Sub stream error");
                    break;
                }
            }
        }
        let delay = backoff.next().unwrap_or(Duration::from_secs(10));
        tracing::warn!(retry_in = ?delay, "Pub/Sub stream ended; reconnecting");
        tokio::time::sleep(delay).await;
    }
}

#[async_trait]
impl Queue for PubSubQueue {
    async fn enqueue(&self, job: NewJob) -> QueueResult<String> {
        self.publish(
            &self.publisher,
            &job.ordering_key,
            &job.payload,
            job.not_before,
            0,
        )
        .await
    }

    async fn receive(&self, _lease: Duration, max_wait: Duration) -> QueueResult<Option<Delivery>> {
        self.ensure_consumer().await;
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let notified = self.notify.notified();
            {
                let now = self.clock.now();
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let token = || uuid::Uuid::new_v4().to_string();
                if let Some((token, entry)) = s.lease_next(now, token) {
                    entry.item.deliveries += 1;
                    return Ok(Some(Delivery {
                        id: entry.item.message_id.clone(),
                        ordering_key: entry.key.clone(),
                        payload: entry.item.payload.clone(),
                        delivery_attempt: entry.item.deliveries,
                        lease_token: token,
                    }));
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let _ =
                tokio::time::timeout((deadline - now).min(Duration::from_millis(200)), notified)
                    .await;
        }
    }

    async fn ack(&self, d: &Delivery) -> QueueResult<()> {
        self.take_lease(d)?.item.handler.ack();
        self.notify.notify_waiters();
        Ok(())
    }

    async fn defer(&self, d: &Delivery, delay: Duration) -> QueueResult<()> {
        let held = self.take_lease(d)?;
        let due = self.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
        // Re-published with the same delivery count: waiting is not failing.
        let republished = self
            .publish(
                &self.publisher,
                &held.key,
                &held.item.payload,
                Some(due),
                held.item.deliveries.saturating_sub(1),
            )
            .await;
        self.settle(held, republished)
    }

    async fn nack(&self, d: &Delivery, delay: Duration) -> QueueResult<()> {
        let held = self.take_lease(d)?;
        let due = self.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let republished = if held.item.deliveries >= self.settings.max_deliveries {
            tracing::warn!(job = %held.item.message_id, ordering_key = %held.key, "job moved to the dead-letter topic");
            self.publish(
                &self.dead_letters,
                &held.key,
                &held.item.payload,
                None,
                held.item.deliveries,
            )
            .await
        } else {
            self.publish(
                &self.publisher,
                &held.key,
                &held.item.payload,
                Some(due),
                held.item.deliveries,
            )
            .await
        };
        self.settle(held, republished)
    }

    async fn extend_lease(&self, d: &Delivery, _lease: Duration) -> QueueResult<()> {
        // The client library extends ack deadlines itself while the message is held.
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_leased(&d.lease_token) {
            Ok(())
        } else {
            Err(QueueError::LeaseLost)
        }
    }

    async fn depth(&self) -> QueueResult<QueueDepth> {
        let now = self.clock.now();
        let counts = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .counts(now);
        Ok(QueueDepth {
            ready: counts.ready,
            delayed: counts.delayed,
            in_flight: counts.in_flight,
            dead: 0,
        })
    }
}
