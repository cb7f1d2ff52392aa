//! What a repository's environments cost this week (from Monday 00:00 UTC), one row each.

use super::EnvironmentService;
use crate::{
    domain::{Environment, cost::week_start},
    ports::{EnvironmentFilter, PageRequest},
    service::ServiceError,
};

/// At most this many of a repository's environments are read for the week's figures.
const MAX_ENVIRONMENTS: usize = 5_000;

/// One environment's week.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekCost {
    pub environment: Environment,
    pub awake_hours: f64,
    pub asleep_hours: f64,
    pub spent_usd: f64,
    pub saved_usd: f64,
}

/// A repository's week: the environments that ran in it, dearest first, and the totals.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositoryWeek {
    pub week_start: chrono::DateTime<chrono::Utc>,
    pub rows: Vec<WeekCost>,
    pub spent_usd: f64,
    pub saved_usd: f64,
    /// More environments than were read: the figures are a lower bound.
    pub truncated: bool,
}

impl EnvironmentService {
    /// This week's cost of each environment of `repository_id` that was up during it.
    pub async fn week_of_repository(
        &self,
        repository_id: &str,
    ) -> Result<RepositoryWeek, ServiceError> {
        let now = self.now();
        let rates = self.settings.cost_rates;
        let filter = EnvironmentFilter {
            repository_id: Some(repository_id.to_owned()),
            ..Default::default()
        };
        let ports = &self.writer.ports;
        let (mut rows, mut read, mut cursor) = (Vec::new(), 0, None);
        let truncated = loop {
            let page = ports
                .environments
                .list_environments(&filter, &PageRequest { limit: 200, cursor })
                .await?;
            read += page.items.len();
            for env in page.items {
                let Some(meter) = &env.meter else { continue };
                let (awake, asleep) =
                    meter.this_week(now, env.status.is_live(), env.asleep.is_some());
                if awake + asleep == 0 {
                    continue;
                }
                rows.push(WeekCost {
                    awake_hours: awake as f64 / 3600.0,
                    asleep_hours: asleep as f64 / 3600.0,
                    spent_usd: rates.price(meter.requests, awake),
                    saved_usd: rates.price(meter.requests, asleep),
                    environment: env,
                });
            }
            match page.next {
                Some(next) if read < MAX_ENVIRONMENTS => cursor = Some(next),
                Some(_) => break true,
                None => break false,
            }
        };
        rows.sort_by(|a, b| b.spent_usd.total_cmp(&a.spent_usd));
        Ok(RepositoryWeek {
            week_start: week_start(now),
            spent_usd: rows.iter().map(|r| r.spent_usd).sum(),
            saved_usd: rows.iter().map(|r| r.saved_usd).sum(),
            rows,
            truncated,
        })
    }
}
