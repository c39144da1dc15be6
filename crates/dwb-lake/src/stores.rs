//! Lakes on S3 (and S3-compatible servers), Azure Blob Storage and Google
//! Cloud Storage: object stores registered with deltalake once, configured
//! from the environment (`AWS_*`, `AZURE_*`, `GOOGLE_*`) overlaid with the
//! lake's own options, and able to presign read URLs for single files.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::Duration;

use deltalake::logstore::{
    default_logstore, logstore_factories, object_store_factories, LogStore, LogStoreFactory,
    ObjectStoreFactory, ObjectStoreRef, StorageConfig,
};
use deltalake::{DeltaResult, DeltaTableError, Path};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::signer::Signer;
use object_store::ObjectStoreScheme;
use url::Url;

use crate::error::LakeError;

/// The kinds of cloud storage a lake URL may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cloud {
    S3,
    Azure,
    Gcs,
}

const SCHEMES: [(&str, Cloud); 8] = [
    ("s3", Cloud::S3),
    ("s3a", Cloud::S3),
    ("az", Cloud::Azure),
    ("azure", Cloud::Azure),
    ("abfs", Cloud::Azure),
    ("abfss", Cloud::Azure),
    ("adl", Cloud::Azure),
    ("gs", Cloud::Gcs),
];

impl Cloud {
    pub(crate) fn of(url: &Url) -> Option<Cloud> {
        SCHEMES
            .iter()
            .find(|(s, _)| *s == url.scheme())
            .map(|(_, c)| *c)
    }
}

/// Makes deltalake open `s3://`, `az://` and `gs://` URLs with our stores.
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (scheme, cloud) in SCHEMES {
            let Ok(url) = Url::parse(&format!("{scheme}://")) else {
                continue;
            };
            let factory = Arc::new(CloudFactory(cloud));
            object_store_factories().insert(url.clone(), factory.clone());
            logstore_factories().insert(url, factory);
        }
    });
}

/// Options whose names match the cloud's configuration keys (case-insensitive,
/// e.g. `aws_endpoint` or `AWS_ENDPOINT`); others are ignored.
fn keyed<K: FromStr>(options: &HashMap<String, String>) -> Vec<(K, String)> {
    options
        .iter()
        .filter_map(|(k, v)| Some((K::from_str(&k.to_ascii_lowercase()).ok()?, v.clone())))
        .collect()
}

fn s3(url: &Url, options: &HashMap<String, String>) -> AmazonS3Builder {
    keyed::<AmazonS3ConfigKey>(options).into_iter().fold(
        AmazonS3Builder::from_env().with_url(url.as_str()),
        |b, (k, v)| b.with_config(k, v),
    )
}

fn azure(url: &Url, options: &HashMap<String, String>) -> MicrosoftAzureBuilder {
    keyed::<AzureConfigKey>(options).into_iter().fold(
        MicrosoftAzureBuilder::from_env().with_url(url.as_str()),
        |b, (k, v)| b.with_config(k, v),
    )
}

fn gcs(url: &Url, options: &HashMap<String, String>) -> GoogleCloudStorageBuilder {
    keyed::<GoogleConfigKey>(options).into_iter().fold(
        GoogleCloudStorageBuilder::from_env().with_url(url.as_str()),
        |b, (k, v)| b.with_config(k, v),
    )
}

/// A store and a signer for the bucket or container of `url`.
fn build(
    cloud: Cloud,
    url: &Url,
    options: &HashMap<String, String>,
) -> Result<(ObjectStoreRef, Arc<dyn Signer>), object_store::Error> {
    Ok(match cloud {
        Cloud::S3 => {
            let s = Arc::new(s3(url, options).build()?);
            (s.clone(), s)
        }
        Cloud::Azure => {
            let s = Arc::new(azure(url, options).build()?);
            (s.clone(), s)
        }
        Cloud::Gcs => {
            let s = Arc::new(gcs(url, options).build()?);
            (s.clone(), s)
        }
    })
}

/// The path inside the bucket that `url` names.
fn path_in_bucket(url: &Url) -> Result<Path, LakeError> {
    let (_, path) =
        ObjectStoreScheme::parse(url).map_err(|e| LakeError::bad("url", e.to_string()))?;
    Path::parse(path.as_ref()).map_err(|e| LakeError::bad("url", e.to_string()))
}

/// Builds the stores deltalake asks for.
struct CloudFactory(Cloud);

impl ObjectStoreFactory for CloudFactory {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, Path)> {
        let (store, _) = build(self.0, url, &config.raw)?;
        let prefix = path_in_bucket(url).map_err(|e| DeltaTableError::GenericError {
            source: Box::new(e),
        })?;
        Ok((store, prefix))
    }
}

impl LogStoreFactory for CloudFactory {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        // Commits are conditional writes (create-if-absent), which S3, Azure
        // and GCS all offer: no external lock is needed.
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// The signer of a cloud lake at `root` (`None` for any other lake), built
/// once when the lake is opened.
pub(crate) fn signer(
    root: &Url,
    options: &HashMap<String, String>,
) -> Result<Option<Arc<dyn Signer>>, LakeError> {
    match Cloud::of(root) {
        Some(cloud) => Ok(Some(build(cloud, root, options)?.1)),
        None => Ok(None),
    }
}

/// A time-limited GET URL for the object at `file` under the lake `root`
/// (a cloud URL), signed by `signer`.
pub(crate) async fn presign(
    signer: &dyn Signer,
    root: &Url,
    file: &str,
    expires: Duration,
) -> Result<Url, LakeError> {
    let prefix = path_in_bucket(root)?;
    let full = prefix
        .parts()
        .chain(
            Path::parse(file)
                .map_err(|e| LakeError::bad("path", e.to_string()))?
                .parts(),
        )
        .collect::<Path>();
    Ok(signer.signed_url(http::Method::GET, &full, expires).await?)
}
