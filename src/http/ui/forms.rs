//! Form handling shared by the pages: inline errors from service errors, and parsing of the
//! text fields a browser sends.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::Value;

use crate::service::ServiceError;

/// Errors to show next to the fields of a form, plus one for the form as a whole.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors {
    pub general: Option<String>,
    fields: Vec<(String, String)>,
}

impl FieldErrors {
    /// The message for `field` (or one of its sub-fields, like `filters.…`), if any.
    pub fn of(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| {
                f == field
                    || f.strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
            .map(|(_, m)| m.as_str())
    }

    /// `aria-invalid` for a field.
    pub fn invalid(&self, field: &str) -> &'static str {
        if self.of(field).is_some() {
            "true"
        } else {
            "false"
        }
    }

    pub fn is_empty(&self) -> bool {
        self.general.is_none() && self.fields.is_empty()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields.push((field.to_owned(), message.into()));
    }

    /// Sorts a service error into the form: field problems next to their field, conflicts and
    /// refusals at the top. Anything else (an outage, a bug) is not the form's business.
    pub fn from_service(e: ServiceError, fields: &[&str]) -> Result<Self, ServiceError> {
        let mut errors = Self::default();
        match e {
            ServiceError::Invalid { field, message }
            | ServiceError::Dangling { field, message }
                if fields
                    .iter()
                    .any(|f| field == *f || field.starts_with(&format!("{f}."))) =>
            {
                errors.add(&field, message);
            }
            ServiceError::Invalid { field, message }
            | ServiceError::Dangling { field, message } => {
                errors.general = Some(format!("{field}: {message}"));
            }
            ServiceError::Conflict(m)
            | ServiceError::BadRequest(m)
            | ServiceError::Forbidden(m) => {
                errors.general = Some(m);
            }
            ServiceError::NotFound(what) => errors.general = Some(format!("{what} not found")),
            other => return Err(other),
        }
        Ok(errors)
    }
}

/// The form of a deletion or revocation: confirmed or not yet.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub confirm: String,
}

impl ConfirmForm {
    pub fn confirmed(&self) -> bool {
        self.confirm == "yes"
    }
}

/// A form page answered with 422 because of what was typed.
pub fn rejected(page: impl IntoResponse) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

/// An optional text field: blank means absent.
pub fn optional(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

/// An optional whole number typed into a text or number box.
pub fn optional_int(errors: &mut FieldErrors, field: &str, value: &str) -> Option<i64> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    match v.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.add(field, format!("must be a whole number, not {v:?}"));
            None
        }
    }
}

/// An optional JSON object typed into a text area.
pub fn optional_object(errors: &mut FieldErrors, field: &str, value: &str) -> Option<Value> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    match serde_json::from_str::<Value>(v) {
        Ok(o @ Value::Object(_)) => Some(o),
        Ok(_) => {
            errors.add(field, "must be a JSON object, like {\"replicas\": 2}");
            None
        }
        Err(e) => {
            errors.add(field, format!("is not valid JSON: {e}"));
            None
        }
    }
}

/// A comma- or newline-separated list.
pub fn list(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Pretty JSON for a text area.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_match_sub_fields_but_not_lookalikes() {
        let mut e = FieldErrors::default();
        e.add("helm_values_override.namespace", "may not be set");
        assert_eq!(e.of("helm_values_override"), Some("may not be set"));
        assert_eq!(e.of("helm"), None);
        assert_eq!(e.invalid("helm_values_override"), "true");
        assert_eq!(e.invalid("name"), "false");
    }

    #[test]
    fn service_errors_sort_into_fields_or_the_top() {
        let e = FieldErrors::from_service(
            ServiceError::invalid("ttl_hours", "too long"),
            &["ttl_hours"],
        )
        .unwrap();
        assert_eq!(e.of("ttl_hours"), Some("too long"));
        let e = FieldErrors::from_service(ServiceError::Conflict("taken".into()), &[]).unwrap();
        assert_eq!(e.general.as_deref(), Some("taken"));
        let e =
            FieldErrors::from_service(ServiceError::invalid("other", "bad"), &["name"]).unwrap();
        assert_eq!(e.general.as_deref(), Some("other: bad"));
        assert!(
            FieldErrors::from_service(ServiceError::Internal(anyhow::anyhow!("x")), &[]).is_err()
        );
    }

    #[test]
    fn typed_values_are_checked() {
        let mut e = FieldErrors::default();
        assert_eq!(optional_int(&mut e, "ttl", " 12 "), Some(12));
        assert_eq!(optional_int(&mut e, "ttl", ""), None);
        assert_eq!(optional_int(&mut e, "ttl", "soon"), None);
        assert!(e.of("ttl").unwrap().contains("whole number"));
        assert!(optional_object(&mut e, "v", "{\"a\": 1}").is_some());
        assert!(optional_object(&mut e, "w", "[1]").is_none());
        assert!(optional_object(&mut e, "x", "{nope").is_none());
        assert!(e.of("w").unwrap().contains("JSON object"));
        assert!(e.of("x").unwrap().contains("not valid JSON"));
        assert_eq!(list("a, b\nc,,"), vec!["a", "b", "c"]);
    }
}
