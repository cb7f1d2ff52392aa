//! The pure domain: no I/O, no async, no framework types.

pub mod archive;
pub mod argo;
pub mod auth;
pub mod commands;
pub mod cost;
pub mod environment;
pub mod event;
pub mod feedback;
pub mod git;
pub mod gitlab;
pub mod job;
pub mod lifecycle;
pub mod manifest;
pub mod names;
pub mod notification;
pub mod overrides;
pub mod quota;
pub mod repository;
pub mod resources;
pub mod schedule;
pub mod secret;
pub mod status;
pub mod timestamp;
pub mod ttl;
pub mod webhook;
pub mod whole;

pub use environment::{
    ClusterObservation, Environment, GitLabFeedback, MergeRequest, NewEnvironment, Rollout,
};
pub use event::{EnvironmentEvent, EventKind, NewEvent};
pub use git::{BranchName, CommitSha};
pub use job::LifecycleJob;
pub use names::{EnvironmentId, EnvironmentName, RepositoryName};
pub use overrides::HelmValuesOverride;
pub use repository::{ChartSource, ConfigSet, Repository, RepositoryFilters};
pub use secret::Secret;
pub use status::Status;
pub use ttl::TtlHours;
