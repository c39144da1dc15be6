//! Schema versions by id, kept for the life of the process: a version is
//! never changed nor deleted once written, so a row query reads its columns
//! without a store round trip (the data set itself is still read fresh, so
//! that deleting or unsharing it takes effect at once).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use dwb_lake::TableSchema;
use dwb_store::SchemaVersion;
use uuid::Uuid;

/// A schema version with its columns parsed, and the workspace it belongs to.
#[derive(Debug)]
pub struct KnownVersion {
    pub version: SchemaVersion,
    pub table: TableSchema,
    pub workspace_id: Uuid,
}

/// More versions than a server holds in practice; past it the cache starts over.
const MAX_VERSIONS: usize = 10_000;

#[derive(Default)]
pub struct VersionCache {
    entries: RwLock<HashMap<Uuid, Arc<KnownVersion>>>,
}

impl VersionCache {
    pub fn get(&self, id: Uuid) -> Option<Arc<KnownVersion>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    pub fn keep(&self, known: KnownVersion) -> Arc<KnownVersion> {
        let known = Arc::new(known);
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_VERSIONS {
            map.clear();
        }
        map.insert(known.version.id, known.clone());
        known
    }
}
