//! Blobs in a Google Cloud Storage bucket, through Google's `google-cloud-storage` crate (its
//! JSON API transport). The client retries what it knows to be safe; what still fails is
//! `Unavailable` (429, 5xx, no answer: worth a later try) or `Refused` (403, no such bucket).
//! With `--gcs-endpoint` (an emulator such as fake-gcs-server) anonymous credentials are used.

use std::time::Duration;

use async_trait::async_trait;
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_storage::{client::Storage, retry_policy::RetryableErrors};

use crate::ports::{BlobError, Blobs};

pub struct GcsBlobs {
    client: Storage,
    bucket: String,
    /// `projects/_/buckets/{bucket}`, as the client names buckets.
    resource: String,
}

impl GcsBlobs {
    pub async fn connect(bucket: &str, endpoint: Option<&str>) -> anyhow::Result<Self> {
        // The client retries what is safe to retry; bounded, so a job or a page read fails
        // within half a minute and is tried again later instead of holding on for five.
        let mut builder = Storage::builder()
            .with_retry_policy(RetryableErrors.with_time_limit(Duration::from_secs(30)));
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_credentials(
                    google_cloud_auth::credentials::anonymous::Builder::new().build(),
                );
        }
        let client = builder.build().await?;
        Ok(Self {
            client,
            bucket: bucket.to_owned(),
            resource: format!("projects/_/buckets/{bucket}"),
        })
    }
}

fn classify(what: &str, name: &str, e: &google_cloud_storage::Error) -> BlobError {
    let text = format!("{what} {name}: {e}");
    match e.http_status_code() {
        Some(429) | Some(500..=599) | None => BlobError::Unavailable(text),
        Some(_) => BlobError::Refused(text),
    }
}

#[async_trait]
impl Blobs for GcsBlobs {
    async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<String, BlobError> {
        let crc = crc32c::crc32c(&bytes);
        self.client
            .write_object(&self.resource, name, bytes::Bytes::from(bytes))
            // Sent with the object, so Cloud Storage refuses a body that changed on the way.
            .with_known_crc32c(crc)
            .set_content_type("application/json")
            .send_unbuffered()
            .await
            .map_err(|e| classify("writing", name, &e))?;
        Ok(self.location(name))
    }

    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let mut read = match self.client.read_object(&self.resource, name).send().await {
            Ok(read) => read,
            Err(e) if e.http_status_code() == Some(404) => return Ok(None),
            Err(e) => return Err(classify("reading", name, &e)),
        };
        let mut contents = Vec::new();
        while let Some(chunk) = read.next().await {
            contents.extend_from_slice(&chunk.map_err(|e| classify("reading", name, &e))?);
        }
        Ok(Some(contents))
    }

    fn location(&self, name: &str) -> String {
        format!("gs://{}/{name}", self.bucket)
    }
}
