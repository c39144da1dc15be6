//! Data sets over HTTP on both stores: schemas, import, the catalogue, row
//! queries, derived data sets that cannot be bypassed, access of each kind
//! of account, rejected files, deletion.

use dwb_core::access::{Access, Level};
use dwb_core::Clock;
use dwb_store::{Backend, Dataset, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::accounts::{account, call, token};
use crate::helpers::{spawn_app, TestApp};
use crate::on_both_stores;

pub(crate) const CSV: &str = "Time,Channel,Value\n\
2026-01-01T00:00:00Z,A,1.5\n\
2026-01-01T01:00:00Z,B,2.5\n\
2026-01-01T02:00:00Z,A,3.5\n\
2026-01-01T03:00:00Z,C,4.5\n\
2026-01-01T04:00:00Z,A,5.5\n";

/// Imports `csv` as data set `name` the way `dwb datasets import` does.
async fn import(
    app: &TestApp,
    name: &str,
    csv: &str,
    version: Option<Uuid>,
) -> Result<Dataset, String> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_dwb"))
        .args([
            "datasets",
            "import",
            "--workspace",
            "Demo",
            "--name",
            name,
            "--json",
        ])
        .args([
            "--database-url",
            &app.database_url,
            "--lake-url",
            &app.lake_dir.display().to_string(),
        ])
        .args(
            version
                .map(|v| vec!["--schema-version".to_string(), v.to_string()])
                .unwrap_or_default(),
        )
        .arg("--csv")
        .arg({
            let p = app.lake_dir.with_extension(format!("{name}.csv"));
            std::fs::write(&p, csv).unwrap();
            p
        })
        .output()
        .await
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id: Uuid = v["id"].as_str().unwrap().parse().unwrap();
    Ok(app.store.dataset(id).await.unwrap().unwrap())
}

async fn data_sets_flow_from_schema_to_deletion(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.demo.id;
    let admin = account(&app, ws, Access::Workspace(Level::Admin)).await;
    let t = token(&app, &admin).await;

    // A schema, then an import against its version.
    let columns = json!([
        {"name": "Time", "type": "DateTime", "isRequired": true, "isSortable": true, "isFilterable": true},
        {"name": "Channel", "type": "String", "isFilterable": true},
        {"name": "Value", "type": "Double", "isSortable": true, "isFilterable": true}
    ]);
    let (status, schema) = call(&app, "POST", &format!("/workspaces/{ws}/schemas/add"), &admin.key, &t,
        Some(json!({"name": "Sensor readings", "shortName": "sr", "description": "d", "columns": columns}))).await;
    assert_eq!(status, StatusCode::CREATED, "{schema}");
    let version: Uuid = schema["schemaVersions"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(schema["defaultSchemaVersionId"], version.to_string());
    let (status, body) = call(
        &app,
        "POST",
        &format!("/workspaces/{ws}/schemas/add"),
        &admin.key,
        &t,
        Some(json!({"name": "Bad", "columns": [{"name": "x", "type": "Float"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "columns[0].type");

    let readings = import(&app, "Readings", CSV, Some(version)).await.unwrap();
    assert_eq!(readings.row_count, 5);
    let inferred = import(&app, "Inferred", "a,b\n1,x\n2,y\n", None)
        .await
        .unwrap();
    assert_eq!(inferred.row_count, 2);

    // A bad file is rejected whole, with line and column; nothing becomes visible.
    let before = app.store.datasets(ws).await.unwrap().len();
    let schemas_before = app.store.schemas(ws).await.unwrap().len();
    let err = import(
        &app,
        "Broken",
        "Time,Channel,Value\n2026-01-01T00:00:00Z,A,1\nnot a time,B,abc\n",
        Some(version),
    )
    .await
    .unwrap_err();
    assert!(err.contains("line 3, column Time"), "{err}");
    assert!(err.contains("line 3, column Value"), "{err}");
    assert_eq!(app.store.datasets(ws).await.unwrap().len(), before);
    assert_eq!(app.store.schemas(ws).await.unwrap().len(), schemas_before);

    // The catalogue.
    let (status, list) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}/datasets"),
        &admin.key,
        &t,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v2/workspaces/{ws}/datasets/query")))
        .header("Ocp-Apim-Subscription-Key", &admin.key)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "an empty body is allowed");
    let (_, page) = call(
        &app,
        "POST",
        &format!("/workspaces/{ws}/datasets/query"),
        &admin.key,
        &t,
        Some(json!({"datasetName": "read"})),
    )
    .await;
    assert_eq!(page["totalCount"], 1);
    assert_eq!(page["result"][0]["name"], "Readings");
    assert_eq!(
        page["result"][0]["schemaInfo"]["schemaName"],
        "Sensor readings"
    );
    assert_eq!(page["result"][0]["isBaseDataset"], true);

    // Rows: filters, sorting, paging, types.
    let rows_path = format!("/workspaces/{ws}/datasets/{}/query", readings.id);
    let (status, rows) = call(
        &app,
        "POST",
        &rows_path,
        &admin.key,
        &t,
        Some(json!({
            "pageIndex": 1, "pageSize": 2,
            "queryFilters": [{"column": "Channel", "filterType": "Equals", "filterValues": ["A"]}],
            "sorting": {"column": "Time", "order": "Descending"}
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    assert_eq!(
        rows["pagination"],
        json!({"pageIndex": 1, "pageSize": 2, "totalPages": 2, "totalCount": 3})
    );
    assert_eq!(
        rows["data"][0],
        json!({"Time": "2026-01-01T04:00:00Z", "Channel": "A", "Value": 5.5})
    );
    let (status, body) = call(
        &app,
        "POST",
        &rows_path,
        &admin.key,
        &t,
        Some(json!({
        "queryFilters": [{"column": "Nope", "filterType": "Equals", "filterValues": ["A"]}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "queryFilters[0].column");

    // A derived data set: only its rows and columns, whatever is asked.
    let derived = Dataset {
        id: Uuid::new_v4(),
        name: "Channel A values".into(),
        base_dataset_id: Some(readings.id),
        queries: json!([{"column": "Channel", "filterType": "Equals", "filterValues": ["A"]}]),
        columns: json!(["Time", "Value"]),
        ..readings.clone()
    };
    let e = dwb_server::ledger::system_event(
        app.demo.tenant_id,
        Some(ws),
        app.clock.now(),
        "DatasetCreated",
        "dataset",
        derived.id.to_string(),
        "d",
    );
    app.store.create_dataset(&derived, e).await.unwrap();
    let only = account(&app, ws, Access::Datasets(vec![derived.id])).await;
    let ot = token(&app, &only).await;
    let (status, list) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}/datasets"),
        &only.key,
        &ot,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Channel A values"],
        "a selected-data-sets account lists only its own"
    );
    let dpath = format!("/workspaces/{ws}/datasets/{}/query", derived.id);
    let (status, rows) = call(
        &app,
        "POST",
        &dpath,
        &only.key,
        &ot,
        Some(json!({
        "queryFilters": [{"column": "Value", "filterType": "Greater", "filterValues": [0]}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    assert_eq!(rows["pagination"]["totalCount"], 3);
    assert!(rows["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r.get("Channel").is_none()));
    for bypass in [
        json!({"columnFilter": ["Channel"]}),
        json!({"queryFilters": [{"column": "Channel", "filterType": "Equals", "filterValues": ["B"]}]}),
        json!({"sorting": {"column": "Channel"}}),
    ] {
        let (status, _) = call(&app, "POST", &dpath, &only.key, &ot, Some(bypass.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bypass}");
    }
    let (status, _) = call(&app, "POST", &rows_path, &only.key, &ot, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the base data set is not shared"
    );
    let (status, _) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}/schemas"),
        &only.key,
        &ot,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Readers read and change nothing.
    let reader = account(&app, ws, Access::Workspace(Level::Reader)).await;
    let rt = token(&app, &reader).await;
    let (status, _) = call(&app, "POST", &rows_path, &reader.key, &rt, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/workspaces/{ws}/datasets/{}", readings.id),
        &reader.key,
        &rt,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Deleting the base data set removes the derived one and the shares.
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/workspaces/{ws}/datasets/{}", readings.id),
        &admin.key,
        &t,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &app,
        "GET",
        &format!("/workspaces/{ws}/datasets/{}", derived.id),
        &admin.key,
        &t,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let acct = app.store.account_secrets(only.id).await.unwrap().unwrap();
    assert_eq!(acct.account.access, Access::Datasets(vec![]));
    assert!(
        !app.lake_dir.join(readings.id.to_string()).exists(),
        "the table's files are gone"
    );
}
on_both_stores!(data_sets_flow_from_schema_to_deletion);

async fn the_portal_shows_the_catalogue_a_data_set_and_who_it_is_shared_with(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.demo.id;
    let d = import(&app, "Readings", CSV, None).await.unwrap();
    let shared = account(&app, ws, Access::Datasets(vec![d.id])).await;
    let _ = shared;
    let reader = app.person("ann@example.org", "ann password 1", false).await;
    app.add_member(ws, reader, dwb_core::validate::Role::Reader)
        .await;
    let mut p = app.signed_in("ann@example.org", "ann password 1").await;
    let (status, body) = p.get(&format!("/workspaces/{ws}/datasets")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Data catalogue") && body.contains(">Readings</a>"),
        "{body}"
    );
    let (_, body) = p.get(&format!("/workspaces/{ws}/datasets?q=nothing")).await;
    assert!(body.contains("No data set matches"));
    let page = format!("/workspaces/{ws}/datasets/{}", d.id);
    let (status, body) = p.get(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Page 1 of 1 (5 rows)"), "{body}");
    assert!(body.contains("2026-01-01T04:00:00Z"));
    assert!(
        body.contains("robot (owner@example.org)"),
        "the Shared with list names the account"
    );
    let (_, body) = p
        .get(&format!("{page}?col=Channel&val=A&sort=Value&dir=desc"))
        .await;
    assert!(body.contains("(3 rows)"), "{body}");
    let first = body.find("5.5").unwrap();
    let last = body.find("1.5").unwrap();
    assert!(first < last, "sorted descending");
    let (status, body) = p.get(&format!("{page}?col=Nope&val=x")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("unknown column"), "{body}");
    let (status, _) = p
        .get(&format!("/workspaces/{ws}/datasets/{}", Uuid::new_v4()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = p.get(&page).await;
    assert!(
        !body.contains("Save as new data set"),
        "readers cannot derive"
    );

    // The column picker and "Save as new data set" (admins).
    let mut admin = app
        .signed_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let (_, body) = admin
        .get(&format!("{page}?col=Channel&val=A&show=Time&show=Value"))
        .await;
    assert!(
        body.contains("(3 rows)") && !body.contains(">Channel</a></th>"),
        "{body}"
    );
    let (status, body) = admin
        .post(
            &format!("{page}/derive"),
            &[
                ("name", "Channel A"),
                ("col", "Channel"),
                ("val", "A"),
                ("show", "Time"),
                ("show", "Value"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("<h2>Channel A</h2>")
            && body.contains("Derived")
            && body.contains("(3 rows)"),
        "{body}"
    );
    assert!(
        !body.contains(">Channel</a></th>"),
        "only the saved columns"
    );
    let (status, body) = admin
        .post(&format!("{page}/derive"), &[("name", " ")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("was not saved: name"), "{body}");
}
on_both_stores!(the_portal_shows_the_catalogue_a_data_set_and_who_it_is_shared_with);

/// A multipart body of `fields` and then `file` (as the portal's upload forms send it).
pub(crate) fn multipart(fields: &[(&str, &str)], file: &str) -> (String, Vec<u8>) {
    let boundary = "dwbtestboundary7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// Posts a multipart body from `multipart` with the portal client's cookies.
async fn send(
    p: &crate::helpers::Portal,
    url: &str,
    (ct, bytes): (String, Vec<u8>),
) -> reqwest::Response {
    p.client
        .post(url)
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn the_portal_imports_a_csv_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.demo.id;
    let mut p = app
        .signed_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let (_, body) = p.get(&format!("/workspaces/{ws}/datasets")).await;
    assert!(body.contains("Import CSV") && body.contains("Infer from the header and first rows"));
    let url = app.url(&format!("/workspaces/{ws}/datasets/import"));
    let (ct, bytes) = multipart(
        &[
            ("csrf", &p.csrf),
            ("name", "Uploaded"),
            ("description", "d"),
            ("tags", "site=Oslo"),
            ("schema_version", ""),
        ],
        CSV,
    );
    let r = send(&p, &url, (ct, bytes)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.url().path().contains("/datasets/"),
        "lands on the new data set"
    );
    let body = r.text().await.unwrap();
    assert!(
        body.contains("<h2>Uploaded</h2>")
            && body.contains("(5 rows)")
            && body.contains("site: Oslo"),
        "{body}"
    );
    let version = app.store.datasets(ws).await.unwrap()[0]
        .schema_version_id
        .to_string();
    let broken = "Time,Channel,Value\n2026-01-01T00:00:00Z,A,1\n2026-01-01T01:00:00Z,B,abc\n";
    let (ct, bytes) = multipart(
        &[
            ("csrf", &p.csrf),
            ("name", "Broken"),
            ("schema_version", &version),
        ],
        broken,
    );
    let r = send(&p, &url, (ct, bytes)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("The file was rejected; nothing was imported.")
            && body.contains("line 3, column Value"),
        "{body}"
    );
    // The form keeps what was typed and chosen.
    assert!(
        body.contains("value=\"Broken\"")
            && body.contains(&format!("<option value=\"{version}\" selected>")),
        "{body}"
    );
    assert_eq!(app.store.datasets(ws).await.unwrap().len(), 1);
    // Tags are bounded as on the API: 51 keys are refused, naming the field.
    let tags: Vec<String> = (0..51).map(|i| format!("k{i}=v")).collect();
    let tags = tags.join(", ");
    let (ct, bytes) = multipart(
        &[("csrf", &p.csrf), ("name", "Tagged"), ("tags", &tags)],
        CSV,
    );
    let r = send(&p, &url, (ct, bytes)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(body.contains("at most 50 tag keys, got 51"), "{body}");
    assert_eq!(app.store.datasets(ws).await.unwrap().len(), 1);
    let (ct, bytes) = multipart(&[("csrf", "forged"), ("name", "X")], CSV);
    let r = send(&p, &url, (ct, bytes)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
on_both_stores!(the_portal_imports_a_csv_file);

async fn admins_manage_schemas_in_the_portal(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.demo.id;
    let mut p = app
        .signed_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let path = format!("/workspaces/{ws}/schemas");
    let (status, body) = p.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No schemas yet") && body.contains(">Schemas</a>"));
    let (status, body) = p
        .post(
            &path,
            &[
                ("name", "Sensors"),
                ("columns", "Time, DateTime, required\nTemp, Float"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("Not created: columns[1].type") && body.contains("Temp, Float"),
        "{body}"
    );
    let (status, body) = p
        .post(
            &path,
            &[
                ("name", "Sensors"),
                ("short_name", "s"),
                ("columns", "Time, DateTime, required\nTemp, Double"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Created the schema Sensors.")
            && body.contains("Time (DateTime), required; Temp (Double)"),
        "{body}"
    );
    let schema = app.store.schemas(ws).await.unwrap().remove(0);
    let e = dwb_server::ledger::system_event(
        app.demo.tenant_id,
        Some(ws),
        app.clock.now(),
        "SchemaVersionAdded",
        "schema",
        schema.id.to_string(),
        "s",
    );
    let v2 = app
        .store
        .add_schema_version(
            schema.id,
            dwb_store::NewSchemaVersion {
                id: Uuid::new_v4(),
                name: "Version 2".into(),
                description: String::new(),
                columns: json!([]),
            },
            app.clock.now(),
            e,
        )
        .await
        .unwrap();
    let (_, body) = p.get(&path).await;
    assert!(body.contains("Make Version 2 of Sensors the default"));
    let (status, body) = p
        .post(
            &format!("{path}/{}/default", schema.id),
            &[("version", &v2.id.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Changed the default version of Sensors."));
    assert_eq!(
        app.store
            .schema(schema.id)
            .await
            .unwrap()
            .unwrap()
            .default_version_id,
        Some(v2.id)
    );
    // Readers have no Schemas tab.
    let ann = app.person("ann@example.org", "ann password 1", false).await;
    app.add_member(ws, ann, dwb_core::validate::Role::Reader)
        .await;
    let mut r = app.signed_in("ann@example.org", "ann password 1").await;
    let (status, _) = r.get(&path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
on_both_stores!(admins_manage_schemas_in_the_portal);
