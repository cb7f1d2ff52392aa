//! Blobs as files under a directory: the embedded default keeps archives in
//! `{data-dir}/archive/`. A write goes to a temporary file first and is renamed into place, so a
//! reader (or a crash) never sees half an object.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;

use crate::ports::{BlobError, Blobs};

pub struct FileBlobs {
    root: PathBuf,
}

impl FileBlobs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file for `name`; a name that would leave the root is refused.
    fn path(&self, name: &str) -> Result<PathBuf, BlobError> {
        let relative = Path::new(name);
        let plain = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if name.is_empty() || !plain {
            return Err(BlobError::Refused(format!("object name {name:?}")));
        }
        Ok(self.root.join(relative))
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> BlobError {
    BlobError::Unavailable(format!("{what} {}: {e}", path.display()))
}

#[async_trait]
impl Blobs for FileBlobs {
    async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<String, BlobError> {
        let path = self.path(name)?;
        let dir = path.parent().unwrap_or(&self.root).to_owned();
        let target = path.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
            let tmp = tempfile_in(&dir, &target);
            std::fs::write(&tmp, &bytes).map_err(|e| io("writing", &tmp, e))?;
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| io("syncing", &tmp, e))?;
            std::fs::rename(&tmp, &target).map_err(|e| io("renaming into", &target, e))
        })
        .await
        .map_err(|e| BlobError::Unavailable(format!("archive writer: {e}")))??;
        Ok(path.display().to_string())
    }

    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.path(name)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &path, e)),
        }
    }

    fn location(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }
}

/// A name beside `target` no reader looks for.
fn tempfile_in(dir: &Path, target: &Path) -> PathBuf {
    let file = target
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{file}.{}.tmp", uuid::Uuid::new_v4().simple()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_are_written_whole_read_back_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FileBlobs::new(dir.path());
        assert_eq!(blobs.get("environments/a/latest").await.unwrap(), None);
        let at = blobs
            .put("environments/a/latest", b"one".to_vec())
            .await
            .unwrap();
        assert!(at.ends_with("environments/a/latest"), "{at}");
        blobs
            .put("environments/a/latest", b"two".to_vec())
            .await
            .unwrap();
        assert_eq!(
            blobs.get("environments/a/latest").await.unwrap(),
            Some(b"two".to_vec())
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("environments/a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["latest"], "no temporary file is left behind");
    }

    #[tokio::test]
    async fn names_that_leave_the_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FileBlobs::new(dir.path().join("archive"));
        for name in ["../escape", "/etc/passwd", "", "a/../../b"] {
            assert!(
                matches!(blobs.put(name, vec![]).await, Err(BlobError::Refused(_))),
                "{name}"
            );
        }
    }
}
