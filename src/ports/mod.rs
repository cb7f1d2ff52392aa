//! Ports: the traits through which the service and the workers reach the outside world.
//! Adapters (in `crate::adapters`) implement them; handlers and jobs only see these traits.

pub mod blobs;
pub mod bus;
pub mod cluster;
pub mod githost;
pub mod identity;
pub mod lease;
pub mod queue;
pub mod sessions;
pub mod shared;
pub mod store;
pub mod traffic;

pub use blobs::{BlobError, Blobs};
pub use bus::{Bus, BusError, BusMessage, Since};
pub use cluster::{Cluster, ClusterError, ClusterEvent, ObservedApplication};
pub use githost::GitHost;
pub use identity::{Identity, VerifiedUser};
pub use lease::Leases;
pub use queue::{Delivery, NewJob, Queue, QueueDepth, QueueError};
pub use sessions::Sessions;
pub use shared::Shared;
pub use store::{
    AuditEntry, AuditLog, CatalogStore, DeliveryLog, EnvironmentChange, EnvironmentFilter,
    EnvironmentStore, IngestOutcome, MergeRequestMark, MetadataStore, Occupancy, Outbox,
    OutboxEntry, Page, PageRequest, Saved, StoreError, SubscriptionStore, TokenStore,
    WebhookIngest,
};
