//! Repositories and config sets: what environments are created from. Connecting repositories is
//! `repositories.rs`, config sets `config_sets.rs`; the checks both share are here.

mod config_sets;
mod repositories;

pub use config_sets::ConfigSetInput;
pub use repositories::{ConnectedRepository, RepositoryInput};

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Ports, ServiceError};
use crate::ports::AuditEntry;

#[derive(Clone)]
pub struct CatalogService {
    ports: Ports,
    directory: std::sync::Arc<super::directory::ProjectDirectory>,
}

/// SHA-256 of a secret, hex-encoded: what the store keeps instead of the secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh secret: `prefix` + 32 random bytes, hex-encoded.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

fn text(field: &str, value: &str, max: usize) -> Result<(), ServiceError> {
    if value.trim().is_empty() {
        return Err(ServiceError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ServiceError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn relative_path(field: &str, value: &str) -> Result<(), ServiceError> {
    text(field, value, 255)?;
    if value.starts_with('/')
        || value.ends_with('/')
        || value.split('/').any(|s| s.is_empty() || s == "..")
    {
        return Err(ServiceError::invalid(
            field,
            "must be a relative path without empty or '..' segments",
        ));
    }
    Ok(())
}

impl CatalogService {
    pub fn new(
        ports: Ports,
        directory: std::sync::Arc<super::directory::ProjectDirectory>,
    ) -> Self {
        Self { ports, directory }
    }

    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: String,
    ) -> Result<(), ServiceError> {
        let entry = AuditEntry {
            at: self.ports.clock.now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
        };
        Ok(self.ports.audit.append_audit(&entry).await?)
    }
}
