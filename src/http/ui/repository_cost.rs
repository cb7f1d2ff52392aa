//! `GET /repositories/{id}/cost`: what the repository's environments cost this week, one row
//! each, dearest first, with what sleeping saved.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};

use super::{
    Chrome, UiError,
    view::{OrPage, when},
};
use crate::service::Context;

pub struct Row {
    pub id: String,
    pub name: String,
    pub status: String,
    pub asleep: bool,
    pub awake_hours: String,
    pub asleep_hours: String,
    pub spent: String,
    pub saved: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "repositories/cost.html")]
pub struct CostPage {
    pub chrome: Chrome,
    pub path: String,
    pub week_start: String,
    pub rows: Vec<Row>,
    pub spent: String,
    pub saved: String,
    pub truncated: bool,
    pub rates: String,
}

fn dollars(x: f64) -> String {
    format!("${x:.2}")
}

pub async fn show(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
) -> Result<CostPage, UiError> {
    let repo = ctx.catalog.get_repository(&id).await.or_page(&chrome)?;
    let week = ctx
        .environments
        .week_of_repository(&repo.id)
        .await
        .or_page(&chrome)?;
    let rates = ctx.settings.cost_rates;
    Ok(CostPage {
        rows: week
            .rows
            .iter()
            .map(|r| Row {
                id: r.environment.id.to_string(),
                name: r.environment.name.to_string(),
                status: r.environment.status.to_string(),
                asleep: r.environment.asleep.is_some(),
                awake_hours: format!("{:.1}", r.awake_hours),
                asleep_hours: format!("{:.1}", r.asleep_hours),
                spent: dollars(r.spent_usd),
                saved: dollars(r.saved_usd),
            })
            .collect(),
        week_start: when(&week.week_start),
        spent: dollars(week.spent_usd),
        saved: dollars(week.saved_usd),
        truncated: week.truncated,
        rates: format!(
            "${} per vCPU-hour and ${} per GiB-hour requested",
            rates.vcpu_hour, rates.gib_hour
        ),
        path: repo.path_with_namespace,
        chrome,
    })
}
