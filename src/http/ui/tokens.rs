//! API token pages: the caller's tokens (every token for admins), creating one (the secret is
//! shown once) and revoking.

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
    domain::auth::Role,
    http::errors::ApiError,
    service::{Context, tokens::Principal},
};

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub expires_in_hours: String,
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub owner: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub revoked: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "tokens.html")]
pub struct TokensPage {
    pub chrome: Chrome,
    pub rows: Vec<TokenRow>,
    pub form: TokenForm,
    pub errors: FieldErrors,
    /// Roles the caller may hand out: their own and below.
    pub roles: Vec<Choice>,
    /// A token just created: its name and secret, shown this once.
    pub created: Option<(String, String)>,
}

fn caller(chrome: &Chrome) -> Result<Principal, UiError> {
    chrome.user.clone().ok_or_else(|| {
        UiError::new(
            chrome,
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "log in first"),
        )
    })
}

async fn page(
    ctx: &Context,
    chrome: Chrome,
    form: TokenForm,
    errors: FieldErrors,
    created: Option<(String, String)>,
) -> Result<TokensPage, UiError> {
    let me = caller(&chrome)?;
    let rows = ctx
        .tokens
        .list(&me)
        .await
        .or_page(&chrome)?
        .iter()
        .map(|t| TokenRow {
            id: t.id.clone(),
            name: t.name.clone(),
            role: t.role.to_string(),
            owner: t.owner.clone(),
            created: when(&t.created_at),
            expires: t.expires_at.as_ref().map_or_else(|| "never".into(), when),
            last_used: t.last_used_at.as_ref().map_or_else(|| "never".into(), when),
            revoked: t.revoked_at.as_ref().map(when),
        })
        .collect();
    let roles = choices(
        [Role::Viewer, Role::Developer, Role::Admin]
            .into_iter()
            .filter(|r| *r <= me.role)
            .map(|r| (r.to_string(), r.to_string())),
        &form.role,
    );
    Ok(TokensPage {
        chrome,
        rows,
        form,
        errors,
        roles,
        created,
    })
}

/// `GET /tokens`
pub async fn list(State(ctx): State<Context>, chrome: Chrome) -> Result<TokensPage, UiError> {
    let form = TokenForm {
        role: "viewer".into(),
        ..TokenForm::default()
    };
    page(&ctx, chrome, form, FieldErrors::default(), None).await
}

/// `POST /tokens`: mints a token and shows its secret once.
pub async fn create(
    State(ctx): State<Context>,
    chrome: Chrome,
    Form(form): Form<TokenForm>,
) -> Result<Response, UiError> {
    let me = caller(&chrome)?;
    let mut errors = FieldErrors::default();
    let hours = forms::optional_int(&mut errors, "expires_in_hours", &form.expires_in_hours);
    let role = Role::parse(&form.role);
    if role.is_none() {
        errors.add("role", "choose viewer, developer or admin");
    }
    if let (Some(role), true) = (role, errors.is_empty()) {
        match ctx.tokens.create(&me, form.name.trim(), role, hours).await {
            Ok((token, secret)) => {
                let fresh = TokenForm {
                    role: "viewer".into(),
                    ..TokenForm::default()
                };
                let shown = page(&ctx, chrome, fresh, errors, Some((token.name, secret))).await?;
                return Ok((StatusCode::CREATED, shown).into_response());
            }
            Err(e) => {
                errors = FieldErrors::from_service(e, &["name", "role", "expires_in_hours"])
                    .or_page(&chrome)?;
            }
        }
    }
    Ok(forms::rejected(
        page(&ctx, chrome, form, errors, None).await?,
    ))
}

/// `POST /tokens/{id}/revoke`: asks first without `confirm=yes`.
pub async fn revoke(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, UiError> {
    let me = caller(&chrome)?;
    if !form.confirmed() {
        let question = "Revoke this token? Scripts and sessions using it stop working at once.";
        let action = format!("/tokens/{id}/revoke");
        return Ok(ConfirmPage::ask(
            chrome,
            question.into(),
            action,
            "Revoke",
            "/tokens".into(),
        ));
    }
    ctx.tokens.revoke(&me, &id).await.or_page(&chrome)?;
    Ok(Redirect::to("/tokens?done=revoked").into_response())
}
