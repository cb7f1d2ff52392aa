//! The Blobs contract (archives), on files and on Cloud Storage (fake-gcs-server).

use std::sync::Arc;

use blueberry::{
    adapters::{archive_files::FileBlobs, gcs::GcsBlobs},
    ports::Blobs,
};

use crate::emulators;

async fn objects_are_written_replaced_and_read_back(blobs: Arc<dyn Blobs>, unique: &str) {
    let name = format!("environments/{unique}/2026-12-03T06:00:00.000000Z.json");
    assert_eq!(blobs.get(&name).await.unwrap(), None, "nothing there yet");
    let at = blobs.put(&name, b"{\"a\":1}".to_vec()).await.unwrap();
    assert!(at.ends_with(&name), "{at}");
    assert_eq!(blobs.get(&name).await.unwrap().unwrap(), b"{\"a\":1}");
    blobs.put(&name, b"{\"a\":2}".to_vec()).await.unwrap();
    assert_eq!(blobs.get(&name).await.unwrap().unwrap(), b"{\"a\":2}");
    // Larger than one read chunk.
    let big = vec![b'x'; 3 * 1024 * 1024];
    blobs.put(&name, big.clone()).await.unwrap();
    assert_eq!(blobs.get(&name).await.unwrap().unwrap(), big);
}

#[tokio::test]
async fn on_files() {
    let dir = tempfile::tempdir().unwrap();
    objects_are_written_replaced_and_read_back(Arc::new(FileBlobs::new(dir.path())), "files").await;
}

#[tokio::test]
async fn on_cloud_storage() {
    let blobs = GcsBlobs::connect("blueberry-archive", Some(emulators::gcs()))
        .await
        .unwrap();
    let unique = emulators::unique("gcs");
    assert_eq!(
        blobs.location("x"),
        "gs://blueberry-archive/x",
        "locations name the bucket"
    );
    objects_are_written_replaced_and_read_back(Arc::new(blobs), &unique).await;
}
