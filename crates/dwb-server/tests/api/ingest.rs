//! The ingest flow, derived data sets and read URLs over HTTP on both stores: signed upload and read links (expiry, tampering, another data set's path), Create/Append/Overwrite, rejected files, derived views that keep their restrictions, and who may write.

mod links;
mod recovery;
mod two_nodes;

use dwb_core::access::{Access, Level};
use dwb_store::{Backend, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::accounts::{account, call, token, Creds};
use crate::helpers::{spawn_app, TestApp};
use crate::on_both_stores;

const CSV: &str = "Time,Channel,Value\n\
2026-01-01T00:00:00Z,A,1.5\n\
2026-01-01T01:00:00Z,B,2.5\n\
2026-01-01T02:00:00Z,A,3.5\n\
2026-01-01T03:00:00Z,C,4.5\n\
2026-01-01T04:00:00Z,A,5.5\n";

const MORE: &str = "Time,Channel,Value\n\
2026-01-02T00:00:00Z,B,6.5\n\
2026-01-02T01:00:00Z,A,7.5\n";

/// An Admin account of the Demo workspace with a token (hostile.rs adds
/// its own calls to it).
pub(crate) struct Admin {
    pub(crate) ws: Uuid,
    pub(crate) creds: Creds,
    pub(crate) token: String,
}

impl Admin {
    pub(crate) async fn new(app: &TestApp) -> Admin {
        let ws = app.demo.id;
        let creds = account(app, ws, Access::Workspace(Level::Admin)).await;
        let token = token(app, &creds).await;
        Admin { ws, creds, token }
    }
    pub(crate) async fn call(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(
            app,
            method,
            &format!("/workspaces/{}{path}", self.ws),
            &self.creds.key,
            &self.token,
            body,
        )
        .await
    }
    /// The newest 100 ledger events of the workspace.
    async fn events(&self, app: &TestApp) -> Vec<dwb_store::Event> {
        let page = dwb_core::paging::Page {
            index: 1,
            size: 100,
        };
        app.store.workspace_events(self.ws, page).await.unwrap().0
    }
    /// A schema for `CSV`; answers its version 1.
    async fn schema(&self, app: &TestApp) -> String {
        let columns = json!([
            {"name": "Time", "type": "DateTime", "isRequired": true},
            {"name": "Channel", "type": "String"},
            {"name": "Value", "type": "Double"}
        ]);
        let (status, s) = self
            .call(
                app,
                "POST",
                "/schemas/add",
                Some(json!({"name": "Readings", "columns": columns})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        s["schemaVersions"][0]["id"].as_str().unwrap().to_string()
    }
}

async fn put(url: &str, body: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .put(url)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(url: &str) -> (StatusCode, Vec<u8>) {
    let r = reqwest::get(url).await.unwrap();
    (r.status(), r.bytes().await.unwrap().to_vec())
}

/// Polls a job until it ends.
async fn finished(app: &TestApp, admin: &Admin, job: &str) -> Value {
    for _ in 0..300 {
        let (status, j) = admin
            .call(app, "GET", &format!("/ingest/jobs/{job}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{j}");
        if j["status"] == "Succeeded" || j["status"] == "Failed" {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {job} did not end");
}

/// Creates a job with `body`, uploads `csv` to its URL and waits for its end.
async fn ingest(app: &TestApp, admin: &Admin, body: Value, csv: &str) -> Value {
    let (status, created) = admin.call(app, "POST", "/ingest/dataset", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, up) = put(created["sasToken"].as_str().unwrap(), csv).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    finished(app, admin, created["jobId"].as_str().unwrap()).await
}

fn create(name: &str, version: Option<&str>) -> Value {
    json!({"datasetName": name, "datasetDescription": "from a test", "schemaVersionId": version,
           "files": [{"fileName": "readings.csv", "operation": "Create"}],
           "tags": [{"Key": "site", "Values": ["north"]}], "provider": "test"})
}

fn into(id: &str, operation: &str) -> Value {
    json!({"datasetId": id, "files": [{"fileName": "more.csv", "operation": operation}]})
}

async fn rows(app: &TestApp, admin: &Admin, id: &str, body: Value) -> Value {
    let (status, page) = admin
        .call(app, "POST", &format!("/datasets/{id}/query"), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

async fn an_ingest_job_creates_a_data_set_through_its_signed_upload_url(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let version = admin.schema(&app).await;
    let job = ingest(&app, &admin, create("Readings", Some(&version)), CSV).await;
    assert_eq!(job["status"], "Succeeded", "{job}");
    assert_eq!(job["rowCount"], 5);
    assert_eq!(job["errors"], json!([]));
    let id = job["datasetId"].as_str().unwrap();
    let (_, d) = admin
        .call(&app, "GET", &format!("/datasets/{id}"), None)
        .await;
    assert_eq!(d["name"], "Readings");
    assert_eq!(d["rowCount"], 5);
    assert_eq!(d["tags"], json!({"site": ["north"]}));
    assert_eq!(d["schemaInfo"]["schemaVersionId"], version);
    let page = rows(&app, &admin, id, json!({"queryFilters": [{"column": "Channel", "filterType": "Equals", "filterValues": ["A"]}]})).await;
    assert_eq!(page["pagination"]["totalCount"], 3);

    // Without a schema version the schema is inferred; without startAutomatically the job waits.
    let mut body = create("Inferred", None);
    body["startAutomatically"] = json!(false);
    let (status, created) = admin
        .call(&app, "POST", "/ingest/dataset", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let job = created["jobId"].as_str().unwrap();
    let (status, early) = admin
        .call(&app, "POST", &format!("/ingest/jobs/{job}/start"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{early}");
    assert!(
        early["message"].as_str().unwrap().contains("upload"),
        "{early}"
    );
    let (status, up) = put(created["sasToken"].as_str().unwrap(), "a,b\n1,x\n2,y\n").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(up["status"], "Uploaded");
    let (status, _) = admin
        .call(&app, "POST", &format!("/ingest/jobs/{job}/start"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let done = finished(&app, &admin, job).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert_eq!(done["rowCount"], 2);
    let (status, again) = admin
        .call(&app, "POST", &format!("/ingest/jobs/{job}/start"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // Each ingest is in the ledger with its rows.
    let events = admin.events(&app).await;
    let created: Vec<_> = events
        .iter()
        .filter(|e| e.action == "DatasetCreated")
        .collect();
    assert_eq!(created.len(), 2);
    assert!(created.iter().any(|e| e.detail["rows"] == 5));
    // A job of another workspace, or no job, is not found.
    let (status, _) = admin
        .call(
            &app,
            "GET",
            &format!("/ingest/jobs/{}", Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
on_both_stores!(an_ingest_job_creates_a_data_set_through_its_signed_upload_url);

async fn append_and_overwrite_change_the_rows_of_a_data_set(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let version = admin.schema(&app).await;
    let job = ingest(&app, &admin, create("Readings", Some(&version)), CSV).await;
    let id = job["datasetId"].as_str().unwrap().to_string();

    let job = ingest(&app, &admin, into(&id, "Append"), MORE).await;
    assert_eq!(job["status"], "Succeeded", "{job}");
    assert_eq!(job["rowCount"], 2);
    assert_eq!(job["datasetId"], id);
    let (_, d) = admin
        .call(&app, "GET", &format!("/datasets/{id}"), None)
        .await;
    assert_eq!(d["rowCount"], 7);
    assert_eq!(
        rows(&app, &admin, &id, json!({})).await["pagination"]["totalCount"],
        7
    );

    // A file larger than the request body limit (1 MiB) streams through the upload URL.
    let mut big = String::from("Time,Channel,Value\n");
    for i in 0..50_000 {
        big.push_str(&format!("2026-02-01T00:00:{:02}Z,D,{i}.25\n", i % 60));
    }
    assert!(big.len() > 1024 * 1024);
    let job = ingest(&app, &admin, into(&id, "Append"), &big).await;
    assert_eq!(job["status"], "Succeeded", "{job}");
    assert_eq!(job["rowCount"], 50_000);
    let (_, d) = admin
        .call(&app, "GET", &format!("/datasets/{id}"), None)
        .await;
    assert_eq!(d["rowCount"], 50_007);

    let job = ingest(&app, &admin, into(&id, "Overwrite"), MORE).await;
    assert_eq!(job["status"], "Succeeded", "{job}");
    let (_, d) = admin
        .call(&app, "GET", &format!("/datasets/{id}"), None)
        .await;
    assert_eq!(d["rowCount"], 2);
    let page = rows(&app, &admin, &id, json!({"sorting": {"column": "Time"}})).await;
    assert_eq!(page["data"][0]["Channel"], "B");
    assert_eq!(page["pagination"]["totalCount"], 2);
    let events = admin.events(&app).await;
    assert!(events
        .iter()
        .any(|e| e.action == "DatasetAppended" && e.detail["rows"] == 2));
    assert!(events
        .iter()
        .any(|e| e.action == "DatasetOverwritten" && e.detail["rows"] == 2));

    // The target must be named, exist, and hold rows of its own.
    let (status, body) = admin
        .call(
            &app,
            "POST",
            "/ingest/dataset",
            Some(json!({"files": [{"fileName": "x.csv", "operation": "Append"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "datasetId");
    let (status, body) = admin
        .call(
            &app,
            "POST",
            "/ingest/dataset",
            Some(into(&Uuid::new_v4().to_string(), "Overwrite")),
        )
        .await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("datasetId"))
    );
    let (status, body) = admin
        .call(
            &app,
            "POST",
            "/ingest/dataset",
            Some(json!({"datasetId": id, "files": [{"fileName": "x.csv", "operation": "Merge"}]})),
        )
        .await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("files[0].operation"))
    );
    let (status, derived) = admin
        .call(
            &app,
            "POST",
            &format!("/datasets/{id}/derive"),
            Some(json!({"name": "View"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{derived}");
    let (status, body) = admin
        .call(
            &app,
            "POST",
            "/ingest/dataset",
            Some(into(derived["id"].as_str().unwrap(), "Append")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("view"), "{body}");
}
on_both_stores!(append_and_overwrite_change_the_rows_of_a_data_set);

async fn a_rejected_file_fails_the_job_and_leaves_nothing_visible(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let version = admin.schema(&app).await;
    let before = app.store.datasets(admin.ws).await.unwrap().len();
    let bad = "Time,Channel,Value\n2026-01-01T00:00:00Z,A,1\nnot a time,B,abc\n";
    let job = ingest(&app, &admin, create("Broken", Some(&version)), bad).await;
    assert_eq!(job["status"], "Failed", "{job}");
    assert!(job["datasetId"].is_null());
    let errors = job["errors"].to_string();
    assert!(errors.contains("line 3, column Time"), "{errors}");
    assert!(errors.contains("line 3, column Value"), "{errors}");
    assert_eq!(app.store.datasets(admin.ws).await.unwrap().len(), before);

    // A rejected append leaves the rows as they were.
    let ok = ingest(&app, &admin, create("Readings", Some(&version)), CSV).await;
    let id = ok["datasetId"].as_str().unwrap();
    let job = ingest(&app, &admin, into(id, "Append"), bad).await;
    assert_eq!(job["status"], "Failed", "{job}");
    assert_eq!(
        rows(&app, &admin, id, json!({})).await["pagination"]["totalCount"],
        5
    );
    let (_, d) = admin
        .call(&app, "GET", &format!("/datasets/{id}"), None)
        .await;
    assert_eq!(d["rowCount"], 5);
    let events = admin.events(&app).await;
    assert_eq!(
        events.iter().filter(|e| e.action == "IngestFailed").count(),
        2
    );
}
on_both_stores!(a_rejected_file_fails_the_job_and_leaves_nothing_visible);

async fn readers_and_selected_accounts_cannot_ingest(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let (_, job) = admin
        .call(
            &app,
            "POST",
            "/ingest/dataset",
            Some(create("Readings", None)),
        )
        .await;
    let job = job["jobId"].as_str().unwrap();
    let reader = account(&app, admin.ws, Access::Workspace(Level::Reader)).await;
    let selected = account(&app, admin.ws, Access::Datasets(vec![])).await;
    for who in [&reader, &selected] {
        let t = token(&app, who).await;
        let ws = admin.ws;
        let (status, body) = call(
            &app,
            "POST",
            &format!("/workspaces/{ws}/ingest/dataset"),
            &who.key,
            &t,
            Some(create("Mine", None)),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = call(
            &app,
            "GET",
            &format!("/workspaces/{ws}/ingest/jobs/{job}"),
            &who.key,
            &t,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = call(
            &app,
            "POST",
            &format!("/workspaces/{ws}/ingest/jobs/{job}/start"),
            &who.key,
            &t,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
on_both_stores!(readers_and_selected_accounts_cannot_ingest);
