//! Adapters: implementations of the ports, chosen once at start-up in `crate::app`.

pub mod gitlab_disabled;
pub mod kube;
pub mod local_bus;
pub mod sqlite;
