//! The Blobs port: named objects in a bucket (GCS) or a directory (the embedded default). The
//! archive of terminated environments is written through it.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// Worth trying again later: the bucket did not answer, or answered 429/5xx.
    #[error("archive storage unavailable: {0}")]
    Unavailable(String),
    /// Refused: no permission, no such bucket, a name it will not take.
    #[error("archive storage refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait Blobs: Send + Sync {
    /// Writes `bytes` as `name`, replacing what was there; returns where it went
    /// (`gs://bucket/name`, or a file path).
    async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<String, BlobError>;
    /// The object `name`, if there is one.
    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, BlobError>;
    /// Where `name` would be (for messages).
    fn location(&self, name: &str) -> String;
}
