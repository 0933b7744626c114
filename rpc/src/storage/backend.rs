//! The bucket: `storage.trace.backend` → an `ObjectStore` (local filesystem for now).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

use super::StorageError;
use crate::config::TraceStorageConfig;

/// The configured bucket plus what durability needs to know about it.
#[derive(Clone)]
pub struct Bucket {
    pub store: Arc<dyn ObjectStore>,
    /// For the local backend: the root directory, so committed files can be fsynced.
    pub local_root: Option<PathBuf>,
}

impl Bucket {
    /// Opens the backend named in `config`.
    pub fn open(config: &TraceStorageConfig) -> Result<Bucket, StorageError> {
        match config.backend.as_str() {
            "local" => {
                let root = Path::new(&config.local.path);
                std::fs::create_dir_all(root).map_err(|source| StorageError::Io {
                    path: root.display().to_string(),
                    source,
                })?;
                let root = root.canonicalize().map_err(|source| StorageError::Io {
                    path: root.display().to_string(),
                    source,
                })?;
                let store = LocalFileSystem::new_with_prefix(&root)?;
                Ok(Bucket {
                    store: Arc::new(store),
                    local_root: Some(root),
                })
            }
            other => Err(StorageError::Config(format!(
                "storage backend {other:?} is not available yet"
            ))),
        }
    }
}
