//! The actions the status page offers (redeploy, retry, extend, keep, sleep, wake, destroy): asked
//! first without JavaScript, then done, and the page shown again with what went wrong if it did.

use axum::{
    Form,
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{Chrome, ConfirmPage, UiError, status_page::status_page};
use crate::service::Context;

/// An action's form: the confirmation, and the hours for `extend`.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub confirm: String,
    #[serde(default)]
    pub hours: String,
}

/// `POST /environments/{id}/{action}`: redeploy, retry, extend, keep, sleep, wake or destroy. Without
/// `confirm=yes` (a browser without JavaScript) it first asks.
pub async fn act(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    let (question, button) = match action.as_str() {
        "redeploy" => ("Redeploy this environment?", "Redeploy"),
        "retry" => ("Retry this failed environment?", "Retry"),
        "extend" => ("Extend this environment's expiry?", "Extend"),
        "keep" => (
            "Keep this environment from expiring? Closing the merge request still tears it down.",
            "Keep",
        ),
        "unkeep" => ("Let this environment expire again?", "Let it expire"),
        "sleep" => (
            "Put this environment to sleep? It scales to zero until woken; a visit wakes it.",
            "Sleep",
        ),
        "wake" => ("Wake this environment?", "Wake"),
        "destroy" => (
            "Destroy this environment? Its namespace and data are deleted.",
            "Destroy",
        ),
        other => {
            return Err(UiError::new(
                &chrome,
                crate::http::errors::ApiError::not_found(format!(
                    "no environment action {other:?}; use redeploy, retry, extend, keep, unkeep, sleep, wake or destroy"
                )),
            ));
        }
    };
    if form.confirm != "yes" {
        let page = ConfirmPage {
            question: format!("{question} ({id})"),
            action: format!("/environments/{id}/{action}"),
            button: button.to_owned(),
            hours: (action == "extend").then(|| form.hours.clone()),
            back: format!("/environments/{id}"),
            chrome,
        };
        return Ok(page.into_response());
    }
    let actor = chrome.actor();
    let result = match action.as_str() {
        "redeploy" => ctx.environments.redeploy(&id, None, &actor).await,
        "retry" => ctx.environments.retry(&id, &actor).await,
        "extend" => match form.hours.trim().parse::<i64>() {
            Ok(h) => ctx.environments.extend(&id, h, &actor).await,
            Err(_) => Err(crate::service::ServiceError::invalid(
                "hours",
                format!("must be a whole number of hours, not {:?}", form.hours),
            )),
        },
        "keep" => ctx.environments.keep(&id, true, &actor).await,
        "unkeep" => ctx.environments.keep(&id, false, &actor).await,
        "sleep" => ctx.environments.sleep(&id, true, &actor).await,
        "wake" => ctx.environments.sleep(&id, false, &actor).await,
        _ => {
            ctx.environments
                .request_teardown(&id, &actor, "destroyed from the web UI")
                .await
        }
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/environments/{id}?done={action}")).into_response()),
        Err(e) => {
            let status = crate::http::errors::ApiError::from(e);
            let code = status.status;
            let page = status_page(&ctx, chrome, &id, Some(status.detail)).await?;
            Ok((code, page).into_response())
        }
    }
}
