//! Raw files: a table's files listed and streamed (for signed read URLs), and
//! staged uploads kept in the lake's own storage beside the tables, so any
//! node can ingest what another received.

use std::io::{Seek, SeekFrom};

use bytes::Bytes;
use deltalake::logstore::object_store::buffered::BufWriter;
use deltalake::logstore::object_store::{self, GetResult, GetResultPayload, ObjectStoreExt};
use deltalake::Path;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_util::io::ReaderStream;

use crate::error::LakeError;
use crate::lake::Lake;

/// The folder under the lake root holding staged uploads (not a valid data set id).
pub(crate) const STAGING: &str = "_staging";

/// One file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFile {
    /// Relative to the table folder, `/`-separated (e.g. `_delta_log/00000000000000000000.json`).
    pub path: String,
    pub size: u64,
    /// Milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

/// An open file: its size and its bytes as a stream.
pub struct FileStream {
    pub size: u64,
    pub bytes: BoxStream<'static, Result<Bytes, LakeError>>,
}

impl std::fmt::Debug for FileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStream")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Bytes read from a local file at a time.
const READ_BYTES: usize = 1024 * 1024;

/// `got`'s bytes as a stream. object_store reads a local file 8 KiB at a
/// time, each read a trip to a blocking thread (some 47,000 trips for a
/// 371 MiB upload read back by its ingest); here a local file is read
/// 1 MiB at a time, and a file that ends before its length is an error,
/// never a shorter file. `what` names the file in errors.
fn byte_stream(got: GetResult, what: String) -> BoxStream<'static, Result<Bytes, LakeError>> {
    let GetResult { payload, range, .. } = got;
    let mut file = match payload {
        GetResultPayload::File(file, _) => file,
        GetResultPayload::Stream(s) => return s.map_err(move |e| storage(e, &what)).boxed(),
    };
    let len = range.end - range.start;
    let broken = move |e: std::io::Error| {
        LakeError::from(std::io::Error::new(e.kind(), format!("{what}: {e}")))
    };
    if let Err(e) = file.seek(SeekFrom::Start(range.start)) {
        return futures::stream::once(futures::future::ready(Err(broken(e)))).boxed();
    }
    let chunks = ReaderStream::with_capacity(tokio::fs::File::from_std(file).take(len), READ_BYTES);
    futures::stream::unfold(Some((chunks, 0u64)), move |state| {
        let broken = broken.clone();
        async move {
            let (mut chunks, seen) = state?;
            match chunks.next().await {
                Some(Ok(b)) => {
                    let seen = seen + b.len() as u64;
                    Some((Ok(b), Some((chunks, seen))))
                }
                Some(Err(e)) => Some((Err(broken(e)), None)),
                None if seen < len => {
                    let short = std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("the file ended after {seen} of its {len} bytes"),
                    );
                    Some((Err(broken(short)), None))
                }
                None => None,
            }
        }
    })
    .boxed()
}

fn storage(e: object_store::Error, what: &str) -> LakeError {
    match e {
        object_store::Error::NotFound { .. } => LakeError::NotFound(what.to_string()),
        other => crate::error::storage(other.to_string()),
    }
}

/// A relative path inside a table: no empty, `.` or `..` segments, no backslashes.
fn relative(path: &str) -> Result<Path, LakeError> {
    let ok = !path.is_empty()
        && !path.contains('\\')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if !ok {
        return Err(LakeError::bad("path", "not a file path inside the table"));
    }
    Path::parse(path).map_err(|_| LakeError::bad("path", "not a file path inside the table"))
}

impl Lake {
    /// Every file of `table` (data and log), sorted by path. `NotFound` when absent.
    pub async fn table_files(&self, table: &str) -> Result<Vec<TableFile>, LakeError> {
        let url = self.table_path(table)?;
        if self.load(table).await?.is_none() {
            return Err(LakeError::NotFound(table.to_string()));
        }
        let store = self.table_store(&url)?;
        let mut files: Vec<TableFile> = store
            .list(None)
            .map_ok(|m| TableFile {
                path: m.location.to_string(),
                size: m.size,
                modified_ms: m.last_modified.timestamp_millis(),
            })
            .try_collect()
            .await?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// For a cloud lake, a presigned URL from which file `path` (relative to
    /// the table folder) of `table` can be downloaded until `expires` from
    /// now, straight from the object store; `None` for a local lake.
    pub async fn presign_file(
        &self,
        table: &str,
        path: &str,
        expires: std::time::Duration,
    ) -> Result<Option<url::Url>, LakeError> {
        let Some(signer) = self.signer() else {
            return Ok(None);
        };
        let location = relative(path)?;
        let file = format!("{table}/{location}");
        self.table_path(table)?;
        crate::stores::presign(signer, self.root(), &file, expires)
            .await
            .map(Some)
    }

    /// Streams file `path` (relative to the table folder) of `table`.
    pub async fn table_file(&self, table: &str, path: &str) -> Result<FileStream, LakeError> {
        let url = self.table_path(table)?;
        let location = relative(path)?;
        let store = self.table_store(&url)?;
        let got = store.get(&location).await.map_err(|e| storage(e, path))?;
        let size = got.meta.size;
        let bytes = byte_stream(got, path.to_string());
        Ok(FileStream { size, bytes })
    }

    fn staged_path(name: &str) -> Result<Path, LakeError> {
        let ok = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(LakeError::bad(
                "name",
                "a staged file name is 1 to 128 of A-Z a-z 0-9 _ -",
            ));
        }
        Ok(Path::from(format!("{STAGING}/{name}")))
    }

    /// A writer for staged file `name`, uploaded in parts (bounded memory).
    /// Call `shutdown` to complete it; until then it does not exist.
    pub fn stage_writer(&self, name: &str) -> Result<impl AsyncWrite + Unpin + Send, LakeError> {
        let path = Self::staged_path(name)?;
        Ok(BufWriter::new(self.table_store(self.root())?, path))
    }

    /// Reads staged file `name` as a stream.
    pub async fn stage_reader(
        &self,
        name: &str,
    ) -> Result<impl AsyncRead + Unpin + Send, LakeError> {
        let path = Self::staged_path(name)?;
        let store = self.table_store(self.root())?;
        let got = store.get(&path).await.map_err(|e| storage(e, name))?;
        let stream = byte_stream(got, name.to_string()).map_err(std::io::Error::other);
        Ok(tokio_util::io::StreamReader::new(stream))
    }

    /// Removes staged file `name` (absent is fine).
    pub async fn unstage(&self, name: &str) -> Result<(), LakeError> {
        let path = Self::staged_path(name)?;
        let store = self.table_store(self.root())?;
        match store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(crate::error::storage(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_table() {
        assert!(relative("_delta_log/00000000000000000000.json").is_ok());
        assert!(relative("part-0001.parquet").is_ok());
        for bad in [
            "",
            "../x",
            "a/../../b",
            "/etc/passwd",
            "a//b",
            "a\\b",
            "./a",
        ] {
            assert!(relative(bad).is_err(), "{bad}");
        }
        assert!(Lake::staged_path("job-1").is_ok());
        assert!(Lake::staged_path("../x").is_err());
    }

    #[tokio::test]
    async fn a_staged_file_larger_than_the_write_buffer_reads_back_whole() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().display().to_string()).unwrap();
        let mut w = lake.stage_writer("big").unwrap();
        let mut written = Vec::new();
        // Past the 10 MiB buffer, so the upload goes in parts; and past
        // several of the reader's 1 MiB reads, each line different so that
        // bytes out of order would show.
        let mut i = 0u64;
        while written.len() < 12 * 1024 * 1024 {
            let line = format!("2026-01-01T00:00:00Z,A{i},{i}.5\n");
            w.write_all(line.as_bytes()).await.unwrap();
            written.extend_from_slice(line.as_bytes());
            i += 1;
        }
        w.shutdown().await.unwrap();
        let mut r = lake.stage_reader("big").await.unwrap();
        let mut read = Vec::new();
        r.read_to_end(&mut read).await.unwrap();
        assert_eq!(read.len(), written.len());
        assert!(read == written, "the staged file reads back as written");
        lake.unstage("big").await.unwrap();
        lake.unstage("big").await.unwrap();
        assert!(lake.stage_reader("big").await.is_err());
    }

    #[tokio::test]
    async fn a_staged_file_cut_short_while_read_is_an_error_not_a_shorter_file() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().display().to_string()).unwrap();
        let mut w = lake.stage_writer("cut").unwrap();
        w.write_all(&vec![b'x'; 3 * READ_BYTES]).await.unwrap();
        w.shutdown().await.unwrap();
        let mut r = lake.stage_reader("cut").await.unwrap();
        let on_disk = dir.path().join(STAGING).join("cut");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&on_disk)
            .unwrap()
            .set_len(READ_BYTES as u64 + 10)
            .unwrap();
        let mut read = Vec::new();
        let e = r.read_to_end(&mut read).await.unwrap_err();
        assert!(e.to_string().contains("ended after"), "{e}");
        assert!(e.to_string().contains("cut"), "names the file: {e}");
    }
}
