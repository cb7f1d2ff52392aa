//! Config sets: the chart (Helm repository or git path), revision and values environments
//! deploy with.

use serde_json::{Map, Value};

use super::{CatalogService, relative_path, text};
use crate::{
    domain::{ChartSource, ConfigSet},
    service::ServiceError,
};

/// Largest accepted config-set `values`, serialized as JSON.
const MAX_VALUES_BYTES: usize = 256 * 1024;

/// A config set as submitted (create or full update).
#[derive(Debug, Clone)]
pub struct ConfigSetInput {
    pub name: String,
    pub repo_url: String,
    pub chart: Option<String>,
    pub path: Option<String>,
    pub target_revision: String,
    pub values: Option<Value>,
}

impl CatalogService {
    fn check_config_set(
        input: &ConfigSetInput,
    ) -> Result<(ChartSource, Map<String, Value>), ServiceError> {
        text("name", &input.name, 100)?;
        text("repo_url", &input.repo_url, 2048)?;
        let url_ok = ["https://", "http://", "ssh://", "git@", "oci://"]
            .iter()
            .any(|p| input.repo_url.starts_with(p))
            && !input.repo_url.chars().any(char::is_whitespace);
        if !url_ok {
            return Err(ServiceError::invalid(
                "repo_url",
                "must be an https, http, ssh, git@ or oci URL without spaces",
            ));
        }
        let source = match (&input.chart, &input.path) {
            (Some(chart), None) => {
                text("chart", chart, 255)?;
                ChartSource::Chart(chart.clone())
            }
            (None, Some(path)) => {
                relative_path("path", path)?;
                ChartSource::Path(path.clone())
            }
            _ => {
                return Err(ServiceError::invalid(
                    "chart",
                    "give exactly one of `chart` (Helm repository) or `path` (git directory)",
                ));
            }
        };
        text("target_revision", &input.target_revision, 255)?;
        if input.target_revision.chars().any(char::is_whitespace) {
            return Err(ServiceError::invalid(
                "target_revision",
                "must not contain spaces",
            ));
        }
        let values = match &input.values {
            None => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => return Err(ServiceError::invalid("values", "must be a JSON object")),
        };
        let size = serde_json::to_vec(&values)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_VALUES_BYTES {
            return Err(ServiceError::invalid(
                "values",
                format!("must be at most {MAX_VALUES_BYTES} bytes as JSON"),
            ));
        }
        Ok((source, values))
    }

    pub async fn create_config_set(
        &self,
        input: ConfigSetInput,
        actor: &str,
    ) -> Result<ConfigSet, ServiceError> {
        let (source, values) = Self::check_config_set(&input)?;
        let now = self.ports.clock.now();
        let set = ConfigSet {
            id: uuid::Uuid::new_v4().to_string(),
            name: input.name,
            repo_url: input.repo_url,
            source,
            target_revision: input.target_revision,
            values,
            created_at: now,
            updated_at: now,
        };
        self.ports.catalog.create_config_set(&set).await?;
        self.directory.invalidate();
        self.audit(actor, "config_set.create", &set.id, set.name.clone())
            .await?;
        Ok(set)
    }

    pub async fn get_config_set(&self, id: &str) -> Result<ConfigSet, ServiceError> {
        self.ports
            .catalog
            .get_config_set(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("config set `{id}`")))
    }

    pub async fn list_config_sets(&self) -> Result<Vec<ConfigSet>, ServiceError> {
        Ok(self.ports.catalog.list_config_sets().await?)
    }

    pub async fn update_config_set(
        &self,
        id: &str,
        input: ConfigSetInput,
        actor: &str,
    ) -> Result<ConfigSet, ServiceError> {
        let mut set = self.get_config_set(id).await?;
        let (source, values) = Self::check_config_set(&input)?;
        set.name = input.name;
        set.repo_url = input.repo_url;
        set.source = source;
        set.target_revision = input.target_revision;
        set.values = values;
        set.updated_at = self.ports.clock.now();
        self.ports.catalog.update_config_set(&set).await?;
        self.directory.invalidate();
        self.audit(actor, "config_set.update", id, set.name.clone())
            .await?;
        Ok(set)
    }

    pub async fn delete_config_set(&self, id: &str, actor: &str) -> Result<(), ServiceError> {
        self.ports.catalog.delete_config_set(id).await?;
        self.directory.invalidate();
        self.audit(actor, "config_set.delete", id, String::new())
            .await
    }
}
