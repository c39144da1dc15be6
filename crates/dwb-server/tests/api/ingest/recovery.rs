//! After a stop, on both stores: ingest jobs a stopped server left behind are
//! ended (or completed when their commit had landed), abandoned uploads and
//! lake files are swept once old enough and never while in use; an overwrite
//! may bring a new schema version unless a derived data set depends on what
//! it drops.

use dwb_core::{Clock, Timestamp};
use dwb_lake::WriteMode;
use dwb_server::sweep::{
    sweep_jobs, sweep_lake, Swept, KEEP_REPLACED_MS, STOPPED_AFTER_MS, UNSTARTED_GIVEN_UP_MS,
    UPLOAD_GIVEN_UP_MS,
};
use dwb_store::{Backend, IngestStatus, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{create, finished, ingest, into, put, rows, Admin, CSV, MORE};
use crate::helpers::{spawn_app, TestApp};
use crate::on_both_stores;

/// A job created and, when `csv` is given, uploaded, but not started.
async fn job(app: &TestApp, admin: &Admin, mut body: Value, csv: Option<&str>) -> Uuid {
    body["startAutomatically"] = json!(false);
    let (status, created) = admin.call(app, "POST", "/ingest/dataset", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    if let Some(csv) = csv {
        let (status, up) = put(created["sasToken"].as_str().unwrap(), csv).await;
        assert_eq!(status, StatusCode::CREATED, "{up}");
    }
    created["jobId"].as_str().unwrap().parse().unwrap()
}

/// Marks an uploaded job as running, as a server does when it starts it.
async fn mark_running(app: &TestApp, job: Uuid) {
    let now = app.clock.now();
    assert!(app
        .store
        .transition_ingest_job(job, IngestStatus::Uploaded, IngestStatus::Running, now)
        .await
        .unwrap());
}

async fn status_of(app: &TestApp, admin: &Admin, job: Uuid) -> Value {
    let (status, j) = admin
        .call(app, "GET", &format!("/ingest/jobs/{job}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{j}");
    j
}

async fn staged(app: &TestApp) -> Vec<String> {
    let found = app.state.lake.staged().await.unwrap();
    found.into_iter().map(|f| f.name).collect()
}

async fn jobs_a_stopped_server_left_are_ended_or_completed(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let version = admin.schema(&app).await;
    let done = ingest(&app, &admin, create("Readings", Some(&version)), CSV).await;
    let id = done["datasetId"].as_str().unwrap().to_string();

    // A: running when its server stopped, before its commit.
    let a = job(&app, &admin, into(&id, "Append"), Some(MORE)).await;
    mark_running(&app, a).await;
    // B: its commit landed, then its server stopped before recording it.
    let b = job(&app, &admin, into(&id, "Append"), Some(MORE)).await;
    mark_running(&app, b).await;
    let known = app
        .state
        .data()
        .version(&app.demo, version.parse().unwrap())
        .await
        .unwrap();
    let table = &known.table;
    app.state
        .lake
        .ingest_csv_as(
            &id,
            table,
            MORE.as_bytes(),
            WriteMode::Append,
            Some(&b.to_string()),
        )
        .await
        .unwrap();
    // C: its file never came. D: uploaded, never started.
    let c = job(&app, &admin, create("Never uploaded", None), None).await;
    let d = job(&app, &admin, create("Never started", None), Some(CSV)).await;
    assert!(staged(&app).await.contains(&d.to_string()));

    let start = app.clock.now().0;
    let at = |ms: i64| Timestamp(start + ms);
    assert_eq!(
        sweep_jobs(&app.state, at(STOPPED_AFTER_MS - 1000))
            .await
            .unwrap(),
        Swept::default(),
        "jobs still within their limits are left alone"
    );

    let swept = sweep_jobs(&app.state, at(STOPPED_AFTER_MS + 1))
        .await
        .unwrap();
    assert_eq!(
        (swept.jobs_completed, swept.jobs_failed),
        (1, 1),
        "{swept:?}"
    );
    let ja = status_of(&app, &admin, a).await;
    assert_eq!(ja["status"], "Failed", "{ja}");
    let why = ja["errors"][0].as_str().unwrap();
    assert!(why.contains("server stopped"), "{why}");
    let jb = status_of(&app, &admin, b).await;
    assert_eq!(
        (jb["status"].clone(), jb["rowCount"].clone()),
        (json!("Succeeded"), json!(2))
    );
    let (_, ds) = admin
        .call(&app, "GET", &format!("/datasets/{id}"), None)
        .await;
    assert_eq!(ds["rowCount"], 7, "B's rows are counted, A's never came");
    assert_eq!(
        rows(&app, &admin, &id, json!({})).await["pagination"]["totalCount"],
        7
    );
    let left = staged(&app).await;
    assert!(
        !left.contains(&a.to_string()) && !left.contains(&b.to_string()),
        "{left:?}"
    );

    let swept = sweep_jobs(&app.state, at(UPLOAD_GIVEN_UP_MS + 1))
        .await
        .unwrap();
    assert_eq!(swept.jobs_failed, 1, "{swept:?}");
    let jc = status_of(&app, &admin, c).await;
    assert_eq!(jc["status"], "Failed");
    assert!(
        jc["errors"][0]
            .as_str()
            .unwrap()
            .contains("upload URL expired"),
        "{jc}"
    );
    assert_eq!(status_of(&app, &admin, d).await["status"], "Uploaded");

    let swept = sweep_jobs(&app.state, at(UNSTARTED_GIVEN_UP_MS + 1))
        .await
        .unwrap();
    assert_eq!(swept.jobs_failed, 1, "{swept:?}");
    let jd = status_of(&app, &admin, d).await;
    assert_eq!(jd["status"], "Failed");
    assert!(
        jd["errors"][0].as_str().unwrap().contains("not started"),
        "{jd}"
    );
    assert!(!staged(&app).await.contains(&d.to_string()));
    assert_eq!(
        sweep_jobs(&app.state, at(UNSTARTED_GIVEN_UP_MS + 2))
            .await
            .unwrap(),
        Swept::default(),
        "a second sweep finds nothing"
    );
    let (status, body) = admin
        .call(&app, "POST", &format!("/ingest/jobs/{d}/start"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let events = admin.events(&app).await;
    let failed = events.iter().filter(|e| e.action == "IngestFailed").count();
    assert_eq!(failed, 3);
    assert!(events
        .iter()
        .any(|e| e.action == "DatasetAppended" && e.detail["job"] == json!(b)));
}
on_both_stores!(jobs_a_stopped_server_left_are_ended_or_completed);

async fn the_lake_sweep_removes_what_nothing_needs_and_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let version = admin.schema(&app).await;
    let done = ingest(&app, &admin, create("Readings", Some(&version)), CSV).await;
    let id = done["datasetId"].as_str().unwrap().to_string();
    let lake = &app.state.lake;
    let known = app
        .state
        .data()
        .version(&app.demo, version.parse().unwrap())
        .await
        .unwrap();
    let table = &known.table;

    // A table no data set owns: an import whose server stopped before recording it.
    let orphan = Uuid::new_v4().to_string();
    lake.ingest_csv(&orphan, table, CSV.as_bytes(), WriteMode::Create)
        .await
        .unwrap();
    // A data file an ingest wrote before its server stopped, never committed.
    let crashed = app
        .lake_dir
        .join(&id)
        .join("part-00000-crashed.snappy.parquet");
    std::fs::write(&crashed, b"not committed").unwrap();
    // A staged upload no job owns, and a folder that is not dwb's.
    let mut w = lake.stage_writer("left-over").unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut w, b"a,b\n")
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::shutdown(&mut w).await.unwrap();
    let foreign = app.lake_dir.join("notes").join("readme.txt");
    std::fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    std::fs::write(&foreign, b"someone else's").unwrap();

    // A derived data set made before an append, and a base whose stored
    // count a write that stopped halfway left behind.
    let (status, view) = admin
        .call(
            &app,
            "POST",
            &format!("/datasets/{id}/derive"),
            Some(json!({"name": "Values", "columns": ["Time", "Value"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let done = ingest(&app, &admin, into(&id, "Append"), MORE).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    let view_id: Uuid = view["id"].as_str().unwrap().parse().unwrap();
    let (_, v) = admin
        .call(&app, "GET", &format!("/datasets/{view_id}"), None)
        .await;
    assert_eq!(
        v["rowCount"], 7,
        "a derived data set's count follows its base"
    );
    let event = |action: &str| dwb_store::NewEvent {
        tenant_id: app.demo.tenant_id,
        workspace_id: Some(app.demo.id),
        at: app.clock.now(),
        principal_kind: "system".into(),
        principal_id: None,
        principal_name: "test".into(),
        action: action.into(),
        resource_kind: "dataset".into(),
        resource_id: Some(id.clone()),
        resource_name: "Readings".into(),
        outcome: "success".into(),
        detail: json!({}),
    };
    let base: Uuid = id.parse().unwrap();
    let stale = dwb_store::RowsChange {
        rows: 999,
        lake_version: None,
        schema_version_id: None,
    };
    app.store
        .set_dataset_rows(base, stale, "test", app.clock.now(), event("Stale"))
        .await
        .unwrap();

    let now = app.clock.now().0;
    assert_eq!(
        sweep_lake(&app.state, Timestamp(now)).await.unwrap(),
        Swept {
            recounted: 1,
            ..Swept::default()
        },
        "nothing is swept while it may be in use; counts are put right at once"
    );
    let count = |d: Uuid| {
        let store = app.store.clone();
        async move { store.dataset(d).await.unwrap().unwrap().row_count }
    };
    assert_eq!(count(base).await, 7);
    assert_eq!(
        count(view["id"].as_str().unwrap().parse().unwrap()).await,
        7
    );
    // Well past the keeping time of files written during this test.
    let swept = sweep_lake(&app.state, Timestamp(now + KEEP_REPLACED_MS + 3_600_000))
        .await
        .unwrap();
    assert_eq!(
        (
            swept.tables_removed,
            swept.files_removed,
            swept.staged_removed,
            swept.recounted
        ),
        (1, 1, 1, 0),
        "{swept:?}"
    );
    assert!(!app.lake_dir.join(&orphan).exists());
    assert!(!crashed.exists());
    assert!(
        foreign.exists(),
        "folders that are not data sets are left alone"
    );
    assert!(staged(&app).await.is_empty());
    let page = rows(&app, &admin, &id, json!({})).await;
    assert_eq!(page["pagination"]["totalCount"], 7, "the data set is whole");
    assert_eq!(page["data"].as_array().unwrap().len(), 7);
}
on_both_stores!(the_lake_sweep_removes_what_nothing_needs_and_nothing_else);

async fn an_overwrite_may_bring_a_new_schema_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let columns = json!([
        {"name": "Time", "type": "DateTime", "isRequired": true, "isSortable": true},
        {"name": "Channel", "type": "String", "isFilterable": true},
        {"name": "Value", "type": "Double"}
    ]);
    let (status, s) = admin
        .call(
            &app,
            "POST",
            "/schemas/add",
            Some(json!({"name": "Readings", "columns": columns})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let v1 = s["schemaVersions"][0]["id"].as_str().unwrap().to_string();
    let done = ingest(&app, &admin, create("Readings", Some(&v1)), CSV).await;
    let id = done["datasetId"].as_str().unwrap().to_string();
    let (status, view) = admin
        .call(
            &app,
            "POST",
            &format!("/datasets/{id}/derive"),
            Some(json!({"name": "Channel A", "queries": [
                {"column": "Channel", "filterType": "Equals", "filterValues": ["A"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");

    // Version 2 drops Channel (which the derived data set filters on) and adds Unit.
    let v2_columns = json!([
        {"name": "Time", "type": "DateTime", "isRequired": true, "isSortable": true},
        {"name": "Value", "type": "Double"},
        {"name": "Unit", "type": "String", "isFilterable": true}
    ]);
    let (status, v2) = admin
        .call(
            &app,
            "POST",
            "/schemas/schemaversions/add",
            Some(json!({"schemaId": s["id"], "columns": v2_columns})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v2}");
    let v2 = v2["id"].as_str().unwrap().to_string();
    let mut overwrite = into(&id, "Overwrite");
    overwrite["schemaVersionId"] = json!(v2);
    let (status, body) = admin
        .call(&app, "POST", "/ingest/dataset", Some(overwrite.clone()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "schemaVersionId");
    assert!(
        body["message"].as_str().unwrap().contains("Channel A"),
        "{body}"
    );
    let mut append = into(&id, "Append");
    append["schemaVersionId"] = json!(v2);
    let (status, body) = admin
        .call(&app, "POST", "/ingest/dataset", Some(append))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("overwrite"),
        "{body}"
    );

    let (status, _) = admin
        .call(
            &app,
            "DELETE",
            &format!("/datasets/{}", view["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, created) = admin
        .call(&app, "POST", "/ingest/dataset", Some(overwrite))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let csv = "Time,Value,Unit\n2026-03-01T00:00:00Z,1.25,C\n2026-03-01T01:00:00Z,2.5,F\n";
    let (status, up) = put(created["sasToken"].as_str().unwrap(), csv).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let job = finished(&app, &admin, created["jobId"].as_str().unwrap()).await;
    assert_eq!(job["status"], "Succeeded", "{job}");

    let (_, ds) = admin
        .call(&app, "GET", &format!("/datasets/{id}"), None)
        .await;
    assert_eq!(ds["schemaInfo"]["schemaVersionId"], json!(v2), "{ds}");
    assert_eq!(ds["rowCount"], 2);
    let page = rows(
        &app,
        &admin,
        &id,
        json!({"queryFilters": [{"column": "Unit", "filterType": "Equals", "filterValues": ["F"]}]}),
    )
    .await;
    assert_eq!(
        page["data"],
        json!([{"Time": "2026-03-01T01:00:00Z", "Value": 2.5, "Unit": "F"}])
    );
}
on_both_stores!(an_overwrite_may_bring_a_new_schema_version);
