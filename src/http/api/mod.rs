//! The REST API under `/api`, one file per resource.

pub mod config_sets;
pub mod deletions;
pub mod environment_models;
pub mod environments;
pub mod repositories;
pub mod subscriptions;
pub mod tokens;
