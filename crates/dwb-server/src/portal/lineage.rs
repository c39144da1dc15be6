//! Where a data set comes from, as its page says it: a derived data set's
//! base data set, its saved filters in words and its columns; a base data
//! set's derived data sets (which a Replace rows with another schema version
//! must keep working).

use dwb_store::{Dataset, Store};

use crate::datasets::parse_filters;
use crate::derived::{in_words, names};
use crate::error::PageError;
use crate::portal::views::DatasetLink;

/// What the page shows of a data set's lineage.
#[derive(Debug, Default)]
pub struct Lineage {
    /// The base data set of a derived one.
    pub base: Option<DatasetLink>,
    /// A derived data set's filters, each in words ("channel equals C").
    pub filters: Vec<String>,
    /// A derived data set's columns; empty when it shows all of its base's.
    pub columns: Vec<String>,
    /// The data sets derived from a base data set.
    pub derived: Vec<DatasetLink>,
}

fn link(d: &Dataset) -> DatasetLink {
    DatasetLink {
        id: d.id.to_string(),
        name: d.name.clone(),
    }
}

pub async fn of(store: &dyn Store, d: &Dataset) -> Result<Lineage, PageError> {
    let Some(base) = d.base_dataset_id else {
        let derived = store
            .datasets(d.workspace_id)
            .await?
            .iter()
            .filter(|v| v.base_dataset_id == Some(d.id))
            .map(link)
            .collect();
        return Ok(Lineage {
            derived,
            ..Lineage::default()
        });
    };
    let filters = parse_filters(&d.queries, "queries")
        .map(|f| f.iter().map(in_words).collect())
        .unwrap_or_default();
    Ok(Lineage {
        base: store.dataset(base).await?.as_ref().map(link),
        filters,
        columns: names(&d.columns),
        derived: Vec::new(),
    })
}
