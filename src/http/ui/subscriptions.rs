//! Notification pages (admins): subscriptions with their last deliveries, subscribing (the
//! signing secret is shown once) and unsubscribing.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    Chrome, ConfirmPage, UiError,
    forms::{self, ConfirmForm, FieldErrors},
    view::{Choice, OrPage, choices, when},
};
use crate::{
    domain::notification::{Format, Topic, redact_url},
    service::{Context, notifications::SubscriptionInput},
};

/// The subscribe form as typed; an event's checkbox is present when ticked.
#[derive(Debug, Default, Deserialize)]
pub struct SubscriptionForm {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub repository_id: String,
    #[serde(default)]
    pub ready: Option<String>,
    #[serde(default)]
    pub failed: Option<String>,
    #[serde(default)]
    pub expiring: Option<String>,
    #[serde(default)]
    pub terminated: Option<String>,
}

impl SubscriptionForm {
    fn events(&self) -> Vec<String> {
        [
            (Topic::Ready, &self.ready),
            (Topic::Failed, &self.failed),
            (Topic::Expiring, &self.expiring),
            (Topic::Terminated, &self.terminated),
        ]
        .into_iter()
        .filter(|(_, ticked)| ticked.is_some())
        .map(|(t, _)| t.as_str().to_owned())
        .collect()
    }
}

pub struct DeliveryRow {
    pub at: String,
    pub topic: &'static str,
    pub environment_id: String,
    pub attempt: u32,
    /// `delivered`, `retrying` or `gave up`, and as a CSS class.
    pub outcome: &'static str,
    pub class: &'static str,
    pub detail: String,
}

pub struct SubscriptionRow {
    pub id: String,
    pub receiver: String,
    pub format: &'static str,
    pub events: String,
    pub scope: String,
    pub created: String,
    pub deliveries: Vec<DeliveryRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "subscriptions.html")]
pub struct SubscriptionsPage {
    pub chrome: Chrome,
    pub rows: Vec<SubscriptionRow>,
    pub form: SubscriptionForm,
    pub errors: FieldErrors,
    pub repositories: Vec<Choice>,
    pub formats: Vec<Choice>,
    /// A subscription just made with Standard Webhooks: its signing secret, shown this once.
    pub created: Option<String>,
}

async fn page(
    ctx: &Context,
    chrome: Chrome,
    form: SubscriptionForm,
    errors: FieldErrors,
    created: Option<String>,
) -> Result<SubscriptionsPage, UiError> {
    let repos = ctx.catalog.list_repositories().await.or_page(&chrome)?;
    let name_of = |id: &str| {
        repos
            .iter()
            .find(|r| r.id == id)
            .map_or_else(|| format!("{id} (disconnected)"), |r| r.name.to_string())
    };
    let rows = ctx
        .notifications
        .list()
        .await
        .or_page(&chrome)?
        .iter()
        .map(|s| SubscriptionRow {
            id: s.id.clone(),
            receiver: redact_url(&s.url),
            format: match s.format {
                Format::StandardWebhooks => "Standard Webhooks",
                Format::Slack => "Slack",
            },
            events: s
                .topics
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            scope: s
                .repository_id
                .as_deref()
                .map_or_else(|| "every repository".into(), name_of),
            created: when(&s.created_at),
            deliveries: s
                .deliveries
                .iter()
                .map(|d| DeliveryRow {
                    at: when(&d.at),
                    topic: d.topic.as_str(),
                    environment_id: d.environment_id.clone(),
                    attempt: d.attempt,
                    outcome: match (d.delivered, d.last) {
                        (true, _) => "delivered",
                        (false, true) => "gave up",
                        (false, false) => "retrying",
                    },
                    class: match (d.delivered, d.last) {
                        (true, _) => "ok",
                        (false, true) => "bad",
                        (false, false) => "wait",
                    },
                    detail: d
                        .error
                        .clone()
                        .or_else(|| d.status.map(|s| format!("answered {s}")))
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    let repositories = choices(
        std::iter::once((String::new(), "every repository".to_owned()))
            .chain(repos.iter().map(|r| (r.id.clone(), r.name.to_string()))),
        &form.repository_id,
    );
    let formats = choices(
        [
            ("standard_webhooks", "Standard Webhooks (signed JSON)"),
            ("slack", "Slack incoming webhook"),
        ],
        &form.format,
    );
    Ok(SubscriptionsPage {
        chrome,
        rows,
        form,
        errors,
        repositories,
        formats,
        created,
    })
}

fn fresh() -> SubscriptionForm {
    SubscriptionForm {
        ready: Some("on".into()),
        failed: Some("on".into()),
        ..SubscriptionForm::default()
    }
}

/// `GET /subscriptions`
pub async fn list(
    State(ctx): State<Context>,
    chrome: Chrome,
) -> Result<SubscriptionsPage, UiError> {
    page(&ctx, chrome, fresh(), FieldErrors::default(), None).await
}

/// `POST /subscriptions`: subscribes and shows the signing secret once.
pub async fn create(
    State(ctx): State<Context>,
    chrome: Chrome,
    Form(form): Form<SubscriptionForm>,
) -> Result<Response, UiError> {
    let input = SubscriptionInput {
        repository_id: forms::optional(&form.repository_id),
        url: form.url.clone(),
        events: form.events(),
        format: forms::optional(&form.format),
    };
    match ctx.notifications.create(input, &chrome.actor()).await {
        Ok(created) => {
            let shown = page(
                &ctx,
                chrome,
                fresh(),
                FieldErrors::default(),
                created.secret.or_else(|| Some(String::new())),
            )
            .await?;
            Ok((StatusCode::CREATED, shown).into_response())
        }
        Err(e) => {
            let errors =
                FieldErrors::from_service(e, &["url", "events", "format", "repository_id"])
                    .or_page(&chrome)?;
            Ok(forms::rejected(
                page(&ctx, chrome, form, errors, None).await?,
            ))
        }
    }
}

/// `POST /subscriptions/{id}/delete`: asks first without `confirm=yes`.
pub async fn delete(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, UiError> {
    if !form.confirmed() {
        return Ok(ConfirmPage::ask(
            chrome,
            "Unsubscribe? Its receiver hears nothing more, and its delivery log goes with it."
                .into(),
            format!("/subscriptions/{id}/delete"),
            "Unsubscribe",
            "/subscriptions".into(),
        ));
    }
    ctx.notifications
        .delete(&id, &chrome.actor())
        .await
        .or_page(&chrome)?;
    Ok(Redirect::to("/subscriptions?done=deleted").into_response())
}
