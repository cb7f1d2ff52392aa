//! Adapters: implementations of the ports, chosen once at start-up in `crate::app`.

pub mod archive_files;
pub mod firebase;
pub mod firestore;
pub mod gcs;
pub mod gitlab;
pub mod gitlab_disabled;
pub mod kube;
pub mod local_bus;
pub mod local_leases;
pub mod prometheus;
pub mod pubsub;
pub mod redis_bus;
pub mod redis_cache;
pub mod sqlite;
