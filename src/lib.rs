//! Blueberry: per-merge-request Kubernetes environments delivered through Argo CD.
//!
//! # Layout
//!
//! - [`domain`]: pure rules — names and ids, TTL, the status state machine, the lifecycle
//!   decision and Argo CD verdicts, quota admission, cost, sleep schedules, overrides, the
//!   Application builder, jobs as data. No I/O.
//! - [`ports`]: traits for the outside world — the metadata stores by aggregate
//!   (EnvironmentStore, CatalogStore, TokenStore, SubscriptionStore, AuditLog, DeliveryLog,
//!   Outbox), Queue, Bus, Leases, Sessions, Shared, Cluster, GitHost, Identity, Blobs, Traffic.
//! - [`adapters`]: implementations of the ports — SQLite store and queue, Firestore, Pub/Sub,
//!   Redis bus and cache, kube cluster client, GitLab (the `gitlab` crate), Cloud Storage and
//!   files for archives, Firebase (Identity), Prometheus (ingress traffic).
//! - [`service`]: use cases over the ports (environments and their keep, expiry warnings and
//!   archives, quotas and their line, repositories, config sets, tokens, sessions, webhooks,
//!   the deletion limit).
//! - [`http`]: the axum router — REST API, SSE, the web UI, health, metrics, OpenAPI, and the
//!   pages a sleeping environment's visitors get (wake on visit).
//! - [`worker`]: the lifecycle controller (one shared watch, a work queue, short reconciles),
//!   the durable job consumers (one file per job), the reaper and the outbox relay.
//! - [`sim`]: the simulated Kubernetes API for Argo CD Applications and the simulated Argo CD
//!   controller that watches it.
//! - [`app`]: wires adapters from [`config`] and runs everything until shutdown.
//! - [`client`]: `blueberry env …`, a client of a server's REST API and SSE stream, and
//!   `blueberry login`/`logout`.
//!
//! ARCHITECTURE.md at the repository root is the longer map.

pub mod adapters;
pub mod app;
pub mod client;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod ports;
pub mod service;
pub mod sim;
pub mod telemetry;
pub mod worker;
