//! What a reader must know about a block before choosing the columns it reads: facts the
//! encoder records in the Parquet key-value metadata.

use parquet::file::metadata::ParquetMetaData;

use super::dedicated::{self, SlotMask};

/// Present (value [`EXACT`]) when every resource of the block has a non-empty string as its
/// first `service.name`: the `service_name` column then answers `resource.service.name`
/// without the `resource` column.
pub const SERVICE_NAMES_KEY: &str = "tracecore.resource.service_names";
pub const EXACT: &str = "exact";

/// The block-level facts column selection depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockLayout {
    /// The dedicated keys the generic list holds (`None`: `tc1`, every attribute in the list).
    pub spilled: Option<SlotMask>,
    /// See [`SERVICE_NAMES_KEY`].
    pub exact_service_names: bool,
}

impl BlockLayout {
    pub fn of(metadata: &ParquetMetaData) -> BlockLayout {
        let exact_service_names = metadata
            .file_metadata()
            .key_value_metadata()
            .and_then(|kvs| kvs.iter().find(|kv| kv.key == SERVICE_NAMES_KEY))
            .is_some_and(|kv| kv.value.as_deref() == Some(EXACT));
        BlockLayout {
            spilled: dedicated::spilled(metadata),
            exact_service_names,
        }
    }
}
