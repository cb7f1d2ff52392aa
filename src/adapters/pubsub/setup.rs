//! Where Pub/Sub is, and creating the job topic, the dead-letter topic and the subscription
//! when asked (`--pubsub-create`: the emulator, development).

use google_cloud_pubsub::{
    client::{SubscriptionAdmin, TopicAdmin},
    model::DeadLetterPolicy,
};

/// Where and how to reach Pub/Sub.
#[derive(Debug, Clone)]
pub struct PubSubSettings {
    pub project: String,
    pub topic: String,
    pub subscription: String,
    pub dead_letter_topic: String,
    /// The emulator's URL; anonymous credentials are used with it.
    pub endpoint: Option<String>,
    /// Create the topics and the subscription when missing (emulator, development).
    pub create: bool,
    pub max_deliveries: u32,
    /// The subscription's ack deadline: how soon a crashed worker's job is redelivered.
    pub ack_deadline_secs: u32,
    /// Publish with Pub/Sub ordering keys (production). Off, the key travels as an attribute
    /// and is still served one job at a time per process; the emulator needs this, as it never
    /// redelivers ordered messages that a crashed subscriber held.
    pub ordering: bool,
}

impl PubSubSettings {
    pub(super) fn topic_path(&self, topic: &str) -> String {
        format!("projects/{}/topics/{topic}", self.project)
    }
    pub(super) fn subscription_path(&self) -> String {
        format!(
            "projects/{}/subscriptions/{}",
            self.project, self.subscription
        )
    }
}

fn already_exists(e: &google_cloud_pubsub::Error) -> bool {
    e.status()
        .is_some_and(|s| s.code == google_cloud_gax::error::rpc::Code::AlreadyExists)
}

/// Creates the job topic, the dead-letter topic and the ordered subscription if missing.
pub(super) async fn create_resources(s: &PubSubSettings) -> anyhow::Result<()> {
    let topics = with_target!(TopicAdmin::builder(), s).build().await?;
    for topic in [&s.topic, &s.dead_letter_topic] {
        match topics
            .create_topic()
            .set_name(s.topic_path(topic))
            .send()
            .await
        {
            Ok(_) => tracing::info!(topic, "created Pub/Sub topic"),
            Err(e) if already_exists(&e) => {}
            Err(e) => return Err(anyhow::anyhow!("creating topic {topic}: {e}")),
        }
    }
    let subscriptions = with_target!(SubscriptionAdmin::builder(), s)
        .build()
        .await?;
    let created = subscriptions
        .create_subscription()
        .set_name(s.subscription_path())
        .set_topic(s.topic_path(&s.topic))
        .set_enable_message_ordering(s.ordering)
        .set_ack_deadline_seconds(s.ack_deadline_secs.clamp(10, 600) as i32)
        .set_dead_letter_policy(
            DeadLetterPolicy::new()
                .set_dead_letter_topic(s.topic_path(&s.dead_letter_topic))
                .set_max_delivery_attempts(s.max_deliveries.clamp(5, 100) as i32),
        )
        .send()
        .await;
    match created {
        Ok(_) => tracing::info!(subscription = %s.subscription, "created Pub/Sub subscription"),
        Err(e) if already_exists(&e) => {}
        Err(e) => {
            return Err(anyhow::anyhow!(
                "creating subscription {}: {e}",
                s.subscription
            ));
        }
    }
    Ok(())
}
