//! The GitLab endpoints Blueberry needs that the `gitlab` crate does not have (it lists and reads
//! environments but cannot create, edit or stop one), written the crate's way: each one an
//! [`Endpoint`], so they travel through the same client as the crate's own.

use std::borrow::Cow;

use gitlab::api::{BodyError, Endpoint, FormParams};
use http::Method;

/// `POST /projects/:id/environments`
pub struct CreateEnvironment<'a> {
    pub project: u64,
    pub name: &'a str,
    pub external_url: &'a str,
}

impl Endpoint for CreateEnvironment<'_> {
    fn method(&self) -> Method {
        Method::POST
    }

    fn endpoint(&self) -> Cow<'static, str> {
        format!("projects/{}/environments", self.project).into()
    }

    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        let mut params = FormParams::default();
        params
            .push("name", self.name)
            .push("external_url", self.external_url);
        params.into_body()
    }
}

/// `PUT /projects/:id/environments/:environment_id`
pub struct EditEnvironment<'a> {
    pub project: u64,
    pub environment: u64,
    pub external_url: &'a str,
}

impl Endpoint for EditEnvironment<'_> {
    fn method(&self) -> Method {
        Method::PUT
    }

    fn endpoint(&self) -> Cow<'static, str> {
        format!(
            "projects/{}/environments/{}",
            self.project, self.environment
        )
        .into()
    }

    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        let mut params = FormParams::default();
        params.push("external_url", self.external_url);
        params.into_body()
    }
}

/// `POST /projects/:id/environments/:environment_id/stop`, forced: GitLab runs no stop job,
/// Blueberry has already torn the environment down.
pub struct StopEnvironment {
    pub project: u64,
    pub environment: u64,
}

impl Endpoint for StopEnvironment {
    fn method(&self) -> Method {
        Method::POST
    }

    fn endpoint(&self) -> Cow<'static, str> {
        format!(
            "projects/{}/environments/{}/stop",
            self.project, self.environment
        )
        .into()
    }

    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        let mut params = FormParams::default();
        params.push("force", true);
        params.into_body()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(e: &impl Endpoint) -> String {
        let (mime, body) = e.body().unwrap().unwrap();
        assert_eq!(mime, "application/x-www-form-urlencoded");
        String::from_utf8(body).unwrap()
    }

    #[test]
    fn environment_endpoints_name_their_paths_and_encode_their_fields() {
        let create = CreateEnvironment {
            project: 15,
            name: "review/pr-42",
            external_url: "https://pr-42.example.com/?a=b&c",
        };
        assert_eq!(create.method(), Method::POST);
        assert_eq!(create.endpoint(), "projects/15/environments");
        assert_eq!(
            body_of(&create),
            "name=review%2Fpr-42&external_url=https%3A%2F%2Fpr-42.example.com%2F%3Fa%3Db%26c"
        );
        let edit = EditEnvironment {
            project: 15,
            environment: 7,
            external_url: "https://x",
        };
        assert_eq!(edit.method(), Method::PUT);
        assert_eq!(edit.endpoint(), "projects/15/environments/7");
        let stop = StopEnvironment {
            project: 15,
            environment: 7,
        };
        assert_eq!(stop.endpoint(), "projects/15/environments/7/stop");
        assert_eq!(body_of(&stop), "force=true");
    }
}
