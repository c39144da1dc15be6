//! Schema versions by id, kept for the life of the process: a version is
//! never changed nor deleted once written, so a row query reads its columns
//! without a store round trip (the data set itself is still read fresh, so
//! that deleting or unsharing it takes effect at once).

use std::sync::Arc;

use dwb_lake::TableSchema;
use dwb_store::SchemaVersion;
use uuid::Uuid;

use crate::bounded::Bounded;

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
    entries: Bounded<Uuid, Arc<KnownVersion>, MAX_VERSIONS>,
}

impl VersionCache {
    pub fn get(&self, id: Uuid) -> Option<Arc<KnownVersion>> {
        self.entries.get(&id)
    }

    pub fn keep(&self, known: KnownVersion) -> Arc<KnownVersion> {
        let known = Arc::new(known);
        self.entries.insert(known.version.id, known.clone());
        known
    }
}
