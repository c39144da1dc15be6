//! Two servers on one store and one lake, on both stores: appends sent to
//! both at once all land (Delta commits serialise them) or fail with a
//! message, and no row is lost or counted twice.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use dwb_store::Backend;

use super::{create, finished, ingest, into, put, rows, Admin, CSV};
use crate::helpers::{spawn_app, spawn_second_node, TestApp};
use crate::on_both_stores;

/// A CSV of `n` rows whose channel names the job that sends it.
fn batch(channel: &str, n: usize) -> String {
    let mut csv = String::from("Time,Channel,Value\n");
    for i in 0..n {
        csv.push_str(&format!("2026-03-01T00:00:{:02}Z,{channel},{i}\n", i % 60));
    }
    csv
}

/// Creates an append job on `node` and uploads `csv` to it (it starts by itself).
async fn send(node: &TestApp, admin: &Admin, id: &str, csv: String) -> String {
    let (status, created) = admin
        .call(node, "POST", "/ingest/dataset", Some(into(id, "Append")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, up) = put(created["sasToken"].as_str().unwrap(), &csv).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    created["jobId"].as_str().unwrap().to_string()
}

async fn concurrent_appends_on_two_nodes_lose_no_rows(backend: Backend) {
    let one = spawn_app(backend).await;
    let two = spawn_second_node(&one).await;
    let admin = Admin::new(&one).await;
    let version = admin.schema(&one).await;
    let made = ingest(&one, &admin, create("Shared", Some(&version)), CSV).await;
    assert_eq!(made["status"], "Succeeded", "{made}");
    let id = made["datasetId"].as_str().unwrap().to_string();

    // Eight appends of different sizes, half to each node, all at once.
    let plan: Vec<(String, usize)> = (0..8).map(|j| (format!("J{j}"), 500 + 250 * j)).collect();
    let jobs = futures::future::join_all(plan.iter().enumerate().map(|(j, (channel, n))| {
        let node = if j % 2 == 0 { &one } else { &two };
        send(node, &admin, &id, batch(channel, *n))
    }))
    .await;
    let mut expected = 5;
    let mut landed = BTreeMap::new();
    for ((channel, n), job) in plan.iter().zip(&jobs) {
        let end = finished(&one, &admin, job).await;
        match end["status"].as_str() {
            Some("Succeeded") => {
                assert_eq!(end["rowCount"].as_u64(), Some(*n as u64), "{end}");
                expected += n;
                landed.insert(channel.clone(), *n);
            }
            _ => {
                // A clean failure names what happened; nothing of it is visible.
                let why = end["errors"][0].as_str().unwrap_or_default();
                assert!(!why.is_empty(), "a failed job says why: {end}");
                landed.insert(channel.clone(), 0);
            }
        }
    }
    assert!(
        landed.values().filter(|n| **n > 0).count() >= 1,
        "at least one append lands: {landed:?}"
    );
    for node in [&one, &two] {
        let page = rows(node, &admin, &id, json!({"pageSize": 1})).await;
        assert_eq!(page["pagination"]["totalCount"], expected, "{page}");
    }
    // The catalogue's count is stored by each node after its commit, with
    // the table version it was read at: the newest stands at once, whichever
    // node recorded last.
    for node in [&one, &two] {
        let (status, d) = admin
            .call(node, "GET", &format!("/datasets/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{d}");
        assert_eq!(d["rowCount"], expected, "the catalogue's count: {d}");
    }
    for (channel, n) in &landed {
        let page = rows(
            &two,
            &admin,
            &id,
            json!({"pageSize": 1, "queryFilters": [
                {"column": "Channel", "filterType": "Equals", "filterValues": [channel]}]}),
        )
        .await;
        assert_eq!(
            page["pagination"]["totalCount"],
            Value::from(*n),
            "rows of {channel}"
        );
    }
}
on_both_stores!(concurrent_appends_on_two_nodes_lose_no_rows);
