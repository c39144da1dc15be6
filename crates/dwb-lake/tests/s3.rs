#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The lake on S3: a local moto server (PyPI `moto[server]`, which
//! `scripts/test` installs) on 127.0.0.1 stands in for S3. Ingest, append,
//! overwrite, query, files and presigned URLs, staged uploads, the sweep and
//! delete all work on a bucket as on a folder.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dwb_lake::{Column, ColumnType, Filter, FilterOp, Lake, RowQuery, TableSchema, WriteMode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A moto server on a free port, stopped on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let program = std::env::var("DWB_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let child = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program} ({e}): pip install 'moto[server]' (scripts/test does)")
        });
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(&moto.endpoint).send().await.is_ok() {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto did not start on {}", moto.endpoint);
}

fn options(endpoint: &str) -> HashMap<String, String> {
    [
        ("aws_endpoint", endpoint),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
        ("aws_region", "us-east-1"),
        ("aws_allow_http", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn schema() -> TableSchema {
    let mut time = Column::new("Time", ColumnType::DateTime).required();
    time.sortable = true;
    time.filterable = true;
    let mut channel = Column::new("Channel", ColumnType::String);
    channel.filterable = true;
    TableSchema::new(vec![
        time,
        channel,
        Column::new("Value", ColumnType::Double),
    ])
    .unwrap()
}

const CSV: &str = "Time,Channel,Value\n\
2026-01-01T00:00:00Z,A,1.5\n\
2026-01-01T01:00:00Z,B,2.5\n\
2026-01-01T02:00:00Z,A,3.5\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_on_s3_works_as_one_in_a_folder() {
    let moto = moto().await;
    let bucket = format!("{}/dwb-lake", moto.endpoint);
    let made = reqwest::Client::new().put(&bucket).send().await.unwrap();
    assert!(made.status().is_success(), "{}", made.status());
    let lake = Lake::open_with("s3://dwb-lake/tenants/one", options(&moto.endpoint)).unwrap();
    assert!(lake.is_cloud());
    assert_eq!(lake.root().as_str(), "s3://dwb-lake/tenants/one/");
    let debug = format!("{lake:?}");
    assert!(!debug.contains("test\""), "no credentials in {debug}");
    let s = schema();

    let made = lake
        .ingest_csv_as("t1", &s, CSV.as_bytes(), WriteMode::Create, Some("job-1"))
        .await
        .unwrap();
    assert_eq!(made.rows, 3);
    let bad = lake
        .ingest_csv(
            "t1",
            &s,
            "Time,Channel,Value\nnope,A,1\n".as_bytes(),
            WriteMode::Append,
        )
        .await;
    assert!(bad.is_err());
    lake.ingest_csv("t1", &s, CSV.as_bytes(), WriteMode::Append)
        .await
        .unwrap();
    assert_eq!(lake.row_count("t1").await.unwrap(), 6);
    assert_eq!(lake.committed_by("t1", "job-1").await.unwrap(), Some(3));
    let q = RowQuery {
        filters: vec![Filter {
            column: "Channel".into(),
            op: FilterOp::Equals,
            values: vec![json!("A")],
        }],
        ..RowQuery::default()
    };
    let page = lake.query("t1", &s, &q).await.unwrap();
    assert_eq!(page.total_count, 4);

    // Files: listed, read through the lake, and presigned for direct download.
    let files = lake.table_files("t1").await.unwrap();
    assert!(files.iter().any(|f| f.path.starts_with("_delta_log/")));
    let parquet = files.iter().find(|f| f.path.ends_with(".parquet")).unwrap();
    let mut read = Vec::new();
    let mut stream = lake.table_file("t1", &parquet.path).await.unwrap().bytes;
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        read.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(read.len() as u64, parquet.size);
    let url = lake
        .presign_file("t1", &parquet.path, Duration::from_secs(600))
        .await
        .unwrap()
        .unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/dwb-lake/tenants/one/t1/", moto.endpoint)),
        "{url}"
    );
    assert!(url.query().unwrap().contains("X-Amz-Signature="), "{url}");
    let direct = reqwest::get(url).await.unwrap();
    assert_eq!(direct.status(), 200);
    assert_eq!(direct.bytes().await.unwrap().len(), read.len());
    assert!(lake
        .presign_file("t1", "../t2/x", Duration::from_secs(60))
        .await
        .is_err());

    // Staged uploads.
    let mut w = lake.stage_writer("upload-1").unwrap();
    w.write_all(CSV.as_bytes()).await.unwrap();
    w.shutdown().await.unwrap();
    let mut back = String::new();
    lake.stage_reader("upload-1")
        .await
        .unwrap()
        .read_to_string(&mut back)
        .await
        .unwrap();
    assert_eq!(back, CSV);
    assert_eq!(lake.staged().await.unwrap().len(), 1);
    lake.unstage("upload-1").await.unwrap();
    assert!(lake.staged().await.unwrap().is_empty());

    // Overwrite, then the sweep removes the replaced files once old enough.
    lake.ingest_csv("t1", &s, CSV.as_bytes(), WriteMode::Overwrite)
        .await
        .unwrap();
    assert_eq!(lake.row_count("t1").await.unwrap(), 3);
    let later = chrono::Utc::now().timestamp_millis() + 2 * 3_600_000;
    assert_eq!(lake.sweep_table("t1", 3_600_000, later).await.unwrap(), 2);
    assert_eq!(
        lake.query("t1", &s, &RowQuery::default())
            .await
            .unwrap()
            .total_count,
        3
    );

    let names: Vec<_> = lake
        .tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["t1"]);
    lake.delete_table("t1").await.unwrap();
    assert!(lake.tables().await.unwrap().is_empty());
    assert!(lake.table_files("t1").await.is_err());
}

#[test]
fn unknown_lake_schemes_are_refused_by_name() {
    let e = Lake::open("ftp://example.org/lake")
        .unwrap_err()
        .to_string();
    assert!(e.contains("ftp") && e.contains("s3://"), "{e}");
}
