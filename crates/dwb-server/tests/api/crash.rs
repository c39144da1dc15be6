//! A server killed with SIGKILL in the middle of an ingest, on both stores:
//! after a restart the data set is exactly as before, the job is ended as
//! stopped, and the files the killed ingest wrote are swept away.

use std::time::Duration;

use dwb_store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::cli::{fixed_port, output, place, start, Server};
use crate::on_both_stores;

/// A service account's way in, made with the command line.
pub(crate) struct Api {
    pub(crate) base: String,
    pub(crate) ws_url: String,
    pub(crate) key: String,
    pub(crate) token: String,
}

/// What `dwb service-accounts create --json` printed: id, secret and key.
pub(crate) struct Made {
    pub(crate) id: String,
    pub(crate) secret: String,
}

impl Api {
    /// An Admin account named Loader.
    pub(crate) async fn new(server: &Server, extra: &[String]) -> Api {
        Api::made(server, extra, "Loader", "admin").await.0
    }

    /// An account of the Demo workspace named `name` with `access`, and its credentials.
    pub(crate) async fn made(
        server: &Server,
        extra: &[String],
        name: &str,
        access: &str,
    ) -> (Api, Made) {
        let (ok, out, err) = output(
            &[
                "service-accounts",
                "create",
                "--workspace",
                "Demo",
                "--name",
                name,
                "--email",
                "ops@example.org",
                "--access",
                access,
                "--json",
                "--public-url",
                &server.base,
            ],
            extra,
        )
        .await;
        assert!(ok, "{err}");
        let c: Value = serde_json::from_str(&out).unwrap();
        let made = Made {
            id: c["serviceAccountId"].as_str().unwrap().to_string(),
            secret: c["serviceAccountSecret"].as_str().unwrap().to_string(),
        };
        let mut api = Api {
            base: server.base.clone(),
            ws_url: c["endpointsBaseUrl"].as_str().unwrap().to_string(),
            key: c["apiKey"].as_str().unwrap().to_string(),
            token: String::new(),
        };
        api.token = api
            .token_for(&made.id, &made.secret)
            .await
            .expect("a new account gets a token");
        (api, made)
    }

    /// A token for `id` and `secret`, or the refusal's status.
    pub(crate) async fn token_for(&self, id: &str, secret: &str) -> Result<String, StatusCode> {
        let r = reqwest::Client::new()
            .post(format!("{}/oauth2/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::OK {
            return Err(r.status());
        }
        let t: Value = r.json().await.unwrap();
        Ok(t["access_token"].as_str().unwrap().to_string())
    }

    /// Schema "Readings" (Time, Channel, Value); answers its version 1's id.
    pub(crate) async fn readings_schema(&self) -> Value {
        let columns = json!([
            {"name": "Time", "type": "DateTime", "isRequired": true},
            {"name": "Channel", "type": "String"},
            {"name": "Value", "type": "Double"}
        ]);
        let (status, schema) = self
            .call(
                "POST",
                "/schemas/add",
                Some(json!({"name": "Readings", "columns": columns})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{schema}");
        schema["schemaVersions"][0]["id"].clone()
    }

    /// The same account against a restarted server (new address).
    pub(crate) fn at(&self, server: &Server) -> Api {
        Api {
            base: server.base.clone(),
            ws_url: self.ws_url.replace(&self.base, &server.base),
            key: self.key.clone(),
            token: self.token.clone(),
        }
    }

    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let c = reqwest::Client::new();
        let mut r = c
            .request(method.parse().unwrap(), format!("{}{path}", self.ws_url))
            .header("Ocp-Apim-Subscription-Key", &self.key)
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates a job, uploads `csv` to it (it starts by itself); answers its id.
    pub(crate) async fn job(&self, body: Value, csv: Vec<u8>) -> String {
        let (status, created) = self.call("POST", "/ingest/dataset", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let up = reqwest::Client::new()
            .put(created["sasToken"].as_str().unwrap())
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(up.status(), StatusCode::CREATED);
        created["jobId"].as_str().unwrap().to_string()
    }

    pub(crate) async fn status(&self, job: &str) -> Value {
        let (status, j) = self.call("GET", &format!("/ingest/jobs/{job}"), None).await;
        assert_eq!(status, StatusCode::OK, "{j}");
        j
    }
}

fn parquet_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".parquet"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn an_ingest_killed_midway_leaves_the_data_set_as_it_was(backend: Backend) {
    let place = place(backend).await;
    // Short limits so that the restarted server sweeps at once.
    let config = place.dir.join("dwb.toml");
    std::fs::write(
        &config,
        "ingest_stopped_after_secs = 1\nlake_keep_unreferenced_secs = 0\n",
    )
    .unwrap();
    let mut args = fixed_port(&place.args());
    args.extend(["--config".into(), config.display().to_string()]);
    let server = start(&args, &[]).await;
    let api = Api::new(&server, &place.args()).await;
    let version = api.readings_schema().await;
    let small = "Time,Channel,Value\n2026-01-01T00:00:00Z,A,1.5\n2026-01-01T01:00:00Z,B,2.5\n";
    let first = api
        .job(
            json!({"datasetName": "Readings", "schemaVersionId": version,
                   "files": [{"fileName": "r.csv", "operation": "Create"}]}),
            small.as_bytes().to_vec(),
        )
        .await;
    let mut done = api.status(&first).await;
    for _ in 0..200 {
        if done["status"] == "Succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        done = api.status(&first).await;
    }
    assert_eq!(done["status"], "Succeeded", "{done}");
    let id = done["datasetId"].as_str().unwrap().to_string();
    let table = place.dir.join("lake").join(&id);
    let before = parquet_files(&table);
    assert_eq!(before.len(), 1);

    // A file of several million rows: the ingest writes a Parquet file per
    // million rows, so a new file in the folder means it is midway.
    let mut big = String::from("Time,Channel,Value\n");
    for i in 0..3_000_000u64 {
        big.push_str(&format!("2026-02-01T00:00:00Z,C,{i}\n"));
    }
    let job = api
        .job(
            json!({"datasetId": id, "files": [{"fileName": "big.csv", "operation": "Append"}]}),
            big.into_bytes(),
        )
        .await;
    let mut midway = false;
    for _ in 0..600 {
        if parquet_files(&table).len() > before.len() {
            midway = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        midway,
        "the ingest never wrote a file: {:?}",
        api.status(&job).await
    );
    let mut child = server.child;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    assert!(
        parquet_files(&table).len() > before.len(),
        "the killed ingest left files"
    );
    // Past `ingest_stopped_after_secs`, so that the sweep at start sees the job as stopped.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let server = start(&args, &[]).await;
    let api = api.at(&server);
    let mut ended = api.status(&job).await;
    for _ in 0..200 {
        if ended["status"] != "Running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        ended = api.status(&job).await;
    }
    assert_eq!(ended["status"], "Failed", "{ended}");
    assert!(
        ended["errors"][0]
            .as_str()
            .unwrap()
            .contains("server stopped"),
        "{ended}"
    );
    let (_, d) = api.call("GET", &format!("/datasets/{id}"), None).await;
    assert_eq!(d["rowCount"], 2, "{d}");
    let (status, page) = api
        .call("POST", &format!("/datasets/{id}/query"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["pagination"]["totalCount"], 2);
    // The restarted server swept what the killed ingest wrote.
    let mut left = parquet_files(&table);
    for _ in 0..200 {
        if left == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = parquet_files(&table);
    }
    assert_eq!(left, before, "only the committed file is left");
    assert!(std::fs::read_dir(place.dir.join("lake").join("_staging"))
        .map(|d| d.count() == 0)
        .unwrap_or(true));
    server.stop().await;
}
on_both_stores!(an_ingest_killed_midway_leaves_the_data_set_as_it_was);
