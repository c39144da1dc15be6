//! Signed links and views over HTTP on both stores: upload URLs and read URLs (listing and serving the Delta table) refuse changed links, other jobs' or data sets' paths and expiry; derived data sets are checked against their base and cannot be widened.

use dwb_core::access::Access;
use dwb_store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{create, get, ingest, put, Admin, CSV, MORE};
use crate::accounts::{account, call, token};
use crate::helpers::spawn_app;
use crate::on_both_stores;

async fn upload_urls_refuse_tampering_expiry_and_reuse(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let new_job = || {
        admin.call(
            &app,
            "POST",
            "/ingest/dataset",
            Some(create("Readings", None)),
        )
    };
    let (_, a) = new_job().await;
    let (_, b) = new_job().await;
    let url = a["sasToken"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/upload/", app.base)), "{url}");
    let message = |v: &Value| v["message"].as_str().unwrap_or_default().to_string();

    // A changed signature or expiry, or another job's path with this signature.
    let sig_at = url.find("sig=").unwrap() + 4;
    let flipped = if &url[sig_at..=sig_at] == "0" {
        "1"
    } else {
        "0"
    };
    let tampered = format!("{}{flipped}{}", &url[..sig_at], &url[sig_at + 1..]);
    let (status, body) = put(&tampered, CSV).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("signature"), "{body}");
    let later = url.replace("expires=", "expires=9");
    assert_eq!(put(&later, CSV).await.0, StatusCode::FORBIDDEN);
    let other = url.replace(a["jobId"].as_str().unwrap(), b["jobId"].as_str().unwrap());
    assert_eq!(put(&other, CSV).await.0, StatusCode::FORBIDDEN);
    let bare = url.split('?').next().unwrap().to_string();
    assert_eq!(put(&bare, CSV).await.0, StatusCode::FORBIDDEN);

    // Used once; a second upload is a conflict.
    assert_eq!(put(&url, CSV).await.0, StatusCode::CREATED);
    assert_eq!(put(&url, CSV).await.0, StatusCode::CONFLICT);

    // After an hour it has expired.
    app.clock.advance_secs(61 * 60);
    let (status, body) = put(b["sasToken"].as_str().unwrap(), CSV).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("expired"), "{body}");
}
on_both_stores!(upload_urls_refuse_tampering_expiry_and_reuse);

async fn derived_data_sets_keep_their_filters_and_columns(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let version = admin.schema(&app).await;
    let job = ingest(&app, &admin, create("Readings", Some(&version)), CSV).await;
    let id = job["datasetId"].as_str().unwrap();
    let dpath = format!("/datasets/{id}/derive");
    let derive = |body: Value| admin.call(&app, "POST", &dpath, Some(body));

    for (body, field) in [
        (json!({"name": "x", "columns": ["Nope"]}), "columns[0]"),
        (
            json!({"name": "x", "queries": [{"column": "Nope", "filterType": "Equals", "filterValues": ["A"]}]}),
            "queries[0].column",
        ),
        (
            json!({"name": "x", "queries": [{"column": "Value", "filterType": "Greater", "filterValues": ["abc"]}]}),
            "queries[0].filterValues[0]",
        ),
        (
            json!({"name": "x", "queries": [{"column": "Value", "filterType": "Like", "filterValues": ["1"]}]}),
            "queries[0].filterType",
        ),
        (json!({"name": "", "columns": ["Time"]}), "name"),
    ] {
        let (status, err) = derive(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert_eq!(err["field"], field, "{err}");
    }

    let (status, a_only) = derive(json!({"name": "Channel A", "description": "only A",
        "queries": [{"column": "Channel", "filterType": "Equals", "filterValues": ["A"]}],
        "columns": ["Time", "Value"]}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a_only}");
    assert_eq!(a_only["isBaseDataset"], false);
    assert_eq!(a_only["rowCount"], 3);
    assert_eq!(a_only["columns"], json!(["Time", "Value"]));
    let a_id = a_only["id"].as_str().unwrap();

    // A view of the view keeps both filters, and only the columns the view shows.
    let (status, err) = admin.call(&app, "POST", &format!("/datasets/{a_id}/derive"),
        Some(json!({"name": "y", "queries": [{"column": "Channel", "filterType": "Equals", "filterValues": ["B"]}]}))).await;
    assert_eq!(
        (status, err["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("queries[0].column"))
    );
    let (status, high) = admin.call(&app, "POST", &format!("/datasets/{a_id}/derive"),
        Some(json!({"name": "A high", "queries": [{"column": "Value", "filterType": "Greater", "filterValues": [2]}]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{high}");
    assert_eq!(high["rowCount"], 2);
    assert_eq!(high["columns"], json!(["Time", "Value"]));
    assert_eq!(high["queries"].as_array().unwrap().len(), 2);

    // Whoever holds only the view sees only its rows and columns.
    let holder = account(
        &app,
        admin.ws,
        Access::Datasets(vec![high["id"].as_str().unwrap().parse().unwrap()]),
    )
    .await;
    let t = token(&app, &holder).await;
    let (status, page) = call(&app, "POST", &format!("/workspaces/{}/datasets/{}/query", admin.ws, high["id"].as_str().unwrap()),
        &holder.key, &t, Some(json!({"queryFilters": [{"column": "Value", "filterType": "Greater", "filterValues": [0]}]}))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["pagination"]["totalCount"], 2);
    assert!(page["data"][0].get("Channel").is_none(), "{page}");
    let (status, _) = call(
        &app,
        "POST",
        &format!("/workspaces/{}/datasets/{id}/query", admin.ws),
        &holder.key,
        &t,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        "POST",
        &format!(
            "/workspaces/{}/datasets/{}/derive",
            admin.ws,
            high["id"].as_str().unwrap()
        ),
        &holder.key,
        &t,
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
on_both_stores!(derived_data_sets_keep_their_filters_and_columns);

async fn read_urls_list_and_serve_the_delta_table(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let job = ingest(&app, &admin, create("Readings", None), CSV).await;
    let id = job["datasetId"].as_str().unwrap().to_string();
    let other = ingest(&app, &admin, create("Other", None), MORE).await;
    let other_id = other["datasetId"].as_str().unwrap().to_string();

    let (status, sas) = admin
        .call(
            &app,
            "GET",
            &format!("/datasets/{id}/sas?durationInMinutes=60&type=dfs"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sas}");
    let url = sas["sasToken"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/lake/{id}?", app.base)),
        "{url}"
    );
    assert!(sas["expiresOn"].is_string());
    let (status, listing) = get(&url).await;
    assert_eq!(status, StatusCode::OK);
    let listing: Value = serde_json::from_slice(&listing).unwrap();
    let names: Vec<&str> = listing["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"_delta_log/00000000000000000000.json"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.ends_with(".parquet")), "{names:?}");
    let query = sas["query"].as_str().unwrap();
    let file = format!(
        "{}/lake/{id}/_delta_log/00000000000000000000.json?{query}",
        app.base
    );
    let (status, log) = get(&file).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&log).contains("\"protocol\""));
    let parquet = names.iter().find(|n| n.ends_with(".parquet")).unwrap();
    let (status, bytes) = get(&format!("{}/lake/{id}/{parquet}?{query}", app.base)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes.starts_with(b"PAR1"));

    // Another data set's path, a changed link, or a path out of the table: refused.
    let (status, body) = get(&url.replace(&id, &other_id)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(
        get(&url.replace("expires=", "expires=1")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(url.split('?').next().unwrap()).await.0,
        StatusCode::FORBIDDEN
    );
    let out = get(&format!(
        "{}/lake/{id}/..%2F{other_id}%2F_delta_log%2F00000000000000000000.json?{query}",
        app.base
    ))
    .await
    .0;
    assert!(
        out == StatusCode::NOT_FOUND || out == StatusCode::FORBIDDEN,
        "{out}"
    );
    assert_eq!(put(&url, "x").await.0, StatusCode::METHOD_NOT_ALLOWED);

    // Bounds, derived data sets, expiry.
    for q in [
        "durationInMinutes=0",
        "durationInMinutes=1441",
        "durationInMinutes=x",
        "type=file",
    ] {
        let (status, body) = admin
            .call(&app, "GET", &format!("/datasets/{id}/sas?{q}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
    }
    let (_, view) = admin
        .call(
            &app,
            "POST",
            &format!("/datasets/{id}/derive"),
            Some(json!({"name": "View"})),
        )
        .await;
    let (status, body) = admin
        .call(
            &app,
            "GET",
            &format!("/datasets/{}/sas", view["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("view"), "{body}");
    app.clock.advance_secs(61 * 60);
    let (status, body) = get(&file).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&body).contains("expired"));
}
on_both_stores!(read_urls_list_and_serve_the_delta_table);
