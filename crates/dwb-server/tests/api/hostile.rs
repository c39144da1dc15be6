//! Hostile input over HTTP: generated token forms, row and catalogue
//! queries and CSV files never get a 5xx (a 4xx always carries a message),
//! every documented limit answers with the field at fault, and names and
//! values with quotes, `;`, unicode or `../` stay data, never SQL or paths.
//!
//! Case counts default to a quick run; `PROPTEST_CASES=1000` runs longer.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dwb_store::Backend;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};
use crate::ingest::Admin;
use crate::on_both_stores;

/// `default` cases, or `PROPTEST_CASES` when set.
fn config(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `check` on `cases` generated inputs (more with `PROPTEST_CASES`)
/// against one app on SQLite, with a data set of `CSV` when `with_data`.
fn run_cases<S, F, Fut>(cases: u32, with_data: bool, strategy: S, check: F)
where
    S: Strategy,
    F: Fn(Ctx, S::Value) -> Fut,
    Fut: Future<Output = Result<(), TestCaseError>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ctx = rt.block_on(async {
        let app = spawn_app(Backend::Sqlite).await;
        let admin = Admin::new(&app).await;
        let dataset = if with_data {
            let version = admin.schema_with(&app, &columns()).await;
            let job = admin.ingest(&app, create("Readings", &version), CSV).await;
            assert_eq!(job["status"], "Succeeded", "{job}");
            job["datasetId"].as_str().unwrap().to_string()
        } else {
            String::new()
        };
        Ctx {
            app: Arc::new(app),
            admin: Arc::new(admin),
            dataset: dataset.into(),
        }
    });
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&strategy, |input| rt.block_on(check(ctx.clone(), input)));
    drop(ctx);
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// What a generated case may call.
#[derive(Clone)]
struct Ctx {
    app: Arc<TestApp>,
    admin: Arc<Admin>,
    dataset: Arc<str>,
}

/// Calls of the hostile-input tests on top of the ingest tests' `Admin`.
impl Admin {
    /// Posts `body` as it is (any bytes) to `path` under the workspace.
    async fn post_raw(&self, app: &TestApp, path: &str, body: Vec<u8>) -> (StatusCode, String) {
        let r = reqwest::Client::new()
            .post(app.url(&format!("/api/v2/workspaces/{}{path}", self.ws)))
            .header("Ocp-Apim-Subscription-Key", &self.creds.key)
            .header("Content-Type", "application/json")
            .bearer_auth(&self.token)
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Creates a schema with `columns`; answers its version 1.
    async fn schema_with(&self, app: &TestApp, columns: &Value) -> String {
        let body = json!({"name": format!("s{}", Uuid::new_v4().simple()), "columns": columns});
        let (status, s) = self.call(app, "POST", "/schemas/add", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        s["schemaVersions"][0]["id"].as_str().unwrap().to_string()
    }

    /// Creates a job with `body`, uploads `csv` and waits for the job's end.
    async fn ingest(&self, app: &TestApp, body: Value, csv: impl Into<reqwest::Body>) -> Value {
        let (status, created) = self.call(app, "POST", "/ingest/dataset", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let r = reqwest::Client::new()
            .put(created["sasToken"].as_str().unwrap())
            .body(csv)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let up = r.text().await.unwrap();
        assert!(status.as_u16() < 500, "{status}: {up}");
        let job = created["jobId"].as_str().unwrap();
        for _ in 0..600 {
            let (status, j) = self
                .call(app, "GET", &format!("/ingest/jobs/{job}"), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{j}");
            if j["status"] == "Succeeded" || j["status"] == "Failed" {
                return j;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("job {job} did not end");
    }
}

const CSV: &str = "Time,Channel,Value,\"q\"\"u';o ../\"\n\
2026-01-01T00:00:00Z,A,1.5,x\n\
2026-01-01T01:00:00Z,B,2.5,y\n\
2026-01-01T02:00:00Z,A,3.5,z\n";

fn columns() -> Value {
    json!([
        {"name": "Time", "type": "DateTime", "isRequired": true},
        {"name": "Channel", "type": "String"},
        {"name": "Value", "type": "Double"},
        {"name": "q\"u';o ../", "type": "String"}
    ])
}

fn create(name: &str, version: &str) -> Value {
    json!({"datasetName": name, "schemaVersionId": version,
           "files": [{"fileName": "f.csv", "operation": "Create"}]})
}

/// A 4xx carries a JSON body with a message; a 5xx is a failure.
fn answered(status: StatusCode, body: &str) -> Result<(), TestCaseError> {
    prop_assert!(status.as_u16() < 500, "{status}: {body}");
    if status.is_client_error() {
        let v: Value = serde_json::from_str(body)
            .map_err(|_| TestCaseError::fail(format!("{status} without JSON: {body}")))?;
        prop_assert_eq!(v["statusCode"].as_u64(), Some(u64::from(status.as_u16())));
        prop_assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            body
        );
        prop_assert!(v.get("field").is_none_or(Value::is_string), "{}", body);
    }
    Ok(())
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ".{0,24}",
        1 => Just("'; DROP TABLE datasets; --".to_string()),
        1 => Just("../../../etc/passwd".to_string()),
        1 => Just("\"),(\"".to_string()),
        1 => Just("%_\\".to_string()),
        1 => Just("\u{0}\u{202e}".to_string()),
        1 => Just("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 名前".to_string()),
        1 => Just("9".repeat(400)),
        1 => Just("Time".to_string()),
        1 => Just("q\"u';o ../".to_string()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        hostile_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::hash_map(hostile_text(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value, or one of a few likely ones for `key`.
fn field(likely: Vec<Value>) -> impl Strategy<Value = Option<Value>> {
    proptest::option::weighted(
        0.7,
        prop_oneof![2 => proptest::sample::select(likely), 1 => json_value()],
    )
}

fn filter() -> impl Strategy<Value = Value> {
    let names = ["Time", "Channel", "Value", "q\"u';o ../", "nope"].map(Value::from);
    let ops = [
        "Equals",
        "List",
        "Greater",
        "GreaterOrEqual",
        "Less",
        "LessOrEqual",
        "Contains",
        "Between",
        "between",
        "Like",
    ]
    .map(Value::from);
    let values = proptest::collection::vec(json_value(), 0..4).prop_map(Value::Array);
    (
        field(names.to_vec()),
        field(ops.to_vec()),
        proptest::option::weighted(0.8, values),
    )
        .prop_map(|(c, o, v)| {
            let mut f = serde_json::Map::new();
            for (k, v) in [("column", c), ("filterType", o), ("filterValues", v)] {
                if let Some(v) = v {
                    f.insert(k.into(), v);
                }
            }
            Value::Object(f)
        })
}

fn row_query() -> impl Strategy<Value = Value> {
    let pages = [0, 1, 2, -1, 10_000, 10_001, i64::MAX, i64::MIN].map(Value::from);
    let sorting = (
        field(vec![json!("Time"), json!("Value"), json!("nope")]),
        field(vec![json!("Ascending"), json!("desc"), json!("up")]),
    )
        .prop_map(|(c, o)| json!({"column": c, "order": o}));
    let filters = prop_oneof![4 => proptest::collection::vec(filter(), 0..4).prop_map(Value::Array), 1 => json_value()];
    (
        field(pages.to_vec()),
        field(pages.to_vec()),
        field(vec![
            json!(["Time"]),
            json!([]),
            json!(["Time", "Time"]),
            json!(["nope"]),
        ]),
        proptest::option::weighted(0.8, filters),
        proptest::option::weighted(0.5, prop_oneof![3 => sorting, 1 => json_value()]),
    )
        .prop_map(|(pi, ps, cf, qf, s)| {
            let mut q = serde_json::Map::new();
            for (k, v) in [
                ("pageIndex", pi),
                ("pageSize", ps),
                ("columnFilter", cf),
                ("queryFilters", qf),
                ("sorting", s),
            ] {
                if let Some(v) = v {
                    q.insert(k.into(), v);
                }
            }
            Value::Object(q)
        })
}

/// A body: a generated query, any JSON, or text that is not quite JSON.
fn body(query: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => query.prop_map(|q| q.to_string().into_bytes()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => proptest::sample::select(vec![
            "", "{", "{\"pageSize\": 1e400}", "{\"pageIndex\": 99999999999999999999999}",
            "{\"queryFilters\": [{\"column\": \"Value\", \"filterType\": \"Greater\", \"filterValues\": [1e308]}]}",
            "[]", "null", "\"x\"", "{\"pageSize\": 10} trailing", "\u{feff}{}",
        ]).prop_map(|s| s.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

#[test]
fn row_queries_of_any_shape_get_rows_or_a_message() {
    run_cases(
        64,
        true,
        body(row_query()),
        |ctx: Ctx, body: Vec<u8>| async move {
            let path = format!("/datasets/{}/query", ctx.dataset);
            let (status, text) = ctx.admin.post_raw(&ctx.app, &path, body).await;
            answered(status, &text)
        },
    );
}

fn catalogue_query() -> impl Strategy<Value = Value> {
    (
        field(vec![
            json!(1),
            json!(0),
            json!(1000),
            json!(1001),
            json!(i64::MAX),
        ]),
        field(vec![json!("name"), json!("createdOn"), json!("nope")]),
        field(vec![json!("Descending"), json!("sideways")]),
        field(vec![
            json!({"site": ["north"]}),
            json!({"k": "v"}),
            json!([]),
            json!({"": []}),
        ]),
        field(vec![json!("2026-01-01T00:00:00Z"), json!("yesterday")]),
        field(vec![json!("Read"), json!("%"), json!("../")]),
        field(vec![json!([Uuid::nil()]), json!(["not a uuid"])]),
        field(vec![json!(true), json!("yes")]),
    )
        .prop_map(|(ps, sc, sd, tags, after, name, ids, base)| {
            let mut q = serde_json::Map::new();
            let all = [
                ("pageSize", ps),
                ("sortColumn", sc),
                ("sortDirection", sd),
                ("tags", tags),
                ("createdAfter", after),
                ("datasetName", name),
                ("schemaVersionIds", ids),
                ("isBaseDataset", base),
            ];
            for (k, v) in all {
                if let Some(v) = v {
                    q.insert(k.into(), v);
                }
            }
            Value::Object(q)
        })
}

#[test]
fn catalogue_queries_of_any_shape_get_a_page_or_a_message() {
    run_cases(
        64,
        true,
        body(catalogue_query()),
        |ctx: Ctx, body: Vec<u8>| async move {
            let (status, text) = ctx.admin.post_raw(&ctx.app, "/datasets/query", body).await;
            answered(status, &text)
        },
    );
}

/// A raw form: keys and values encoded properly, raw, or cut mid-escape.
fn token_form() -> impl Strategy<Value = (String, Option<String>)> {
    let key = prop_oneof![
        proptest::sample::select(vec![
            "grant_type",
            "client_id",
            "client_secret",
            "resource",
            "scope"
        ])
        .prop_map(String::from),
        hostile_text(),
    ];
    let value = prop_oneof![
        Just("client_credentials".to_string()),
        Just(Uuid::new_v4().to_string()),
        Just("dwbs_".to_string() + &"x".repeat(43)),
        hostile_text(),
        Just("y".repeat(5000)),
    ];
    let pair = (key, value, 0..3u8).prop_map(|(k, v, enc)| match enc {
        0 => serde_urlencoded::to_string([(k, v)]).unwrap_or_default(),
        1 => format!("{k}={v}"),
        _ => format!("{k}=%{}", v.chars().take(1).collect::<String>()),
    });
    let basic = prop_oneof![
        Just("Basic ".to_string() + "%%%"),
        hostile_text().prop_map(|t| {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(t)
            )
        }),
        hostile_text().prop_map(|t| format!("Basic {t}")),
    ];
    (
        proptest::collection::vec(pair, 0..7),
        proptest::option::weighted(0.2, basic),
        any::<bool>(),
    )
        .prop_map(|(pairs, basic, dup)| {
            let mut form = pairs.join("&");
            if dup {
                form.push_str("&grant_type=client_credentials&grant_type=client_credentials");
            }
            (form, basic)
        })
}

#[test]
fn token_forms_of_any_shape_get_an_oauth_error() {
    run_cases(
        64,
        false,
        token_form(),
        |ctx: Ctx, (form, basic): (String, Option<String>)| async move {
            let mut req = reqwest::Client::new()
                .post(ctx.app.url("/oauth2/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form.clone());
            if let Some(b) = basic.and_then(|b| reqwest::header::HeaderValue::from_str(&b).ok()) {
                req = req.header("Authorization", b);
            }
            let r = req.send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            prop_assert!(status.is_client_error(), "{status} for {form}: {text}");
            let v: Value =
                serde_json::from_str(&text).map_err(|_| TestCaseError::fail(text.clone()))?;
            prop_assert!(
                v["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{}",
                text
            );
            prop_assert!(
                v["error_description"]
                    .as_str()
                    .is_some_and(|e| !e.is_empty()),
                "{}",
                text
            );
            // A parameter given twice is refused whatever else the form says.
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(&form).unwrap_or_default();
            let twice = pairs
                .iter()
                .enumerate()
                .any(|(i, (k, _))| pairs[..i].iter().any(|(k2, _)| k2 == k));
            if twice {
                prop_assert_eq!(status, StatusCode::BAD_REQUEST);
                prop_assert_eq!(v["error"].as_str(), Some("invalid_request"));
            }
            Ok(())
        },
    );
}

fn csv_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => ".{0,10}",
        1 => Just("2026-01-01T00:00:00Z".to_string()),
        1 => Just("1.5".to_string()),
        1 => Just("\"quoted, with \"\"quotes\"\"\"".to_string()),
        1 => Just("\"open quote".to_string()),
        1 => Just("'; DROP TABLE datasets; --".to_string()),
        1 => Just("../../x".to_string()),
        1 => Just(String::new()),
    ]
}

fn csv_body() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        3 => Just("Time,Channel,Value,\"q\"\"u';o ../\"".to_string()),
        1 => Just("Channel,Time,\"q\"\"u';o ../\",Value".to_string()),
        1 => Just("Time,Time,Value".to_string()),
        1 => Just(String::new()),
        1 => ".{0,20}",
    ];
    let rows = proptest::collection::vec(proptest::collection::vec(csv_cell(), 0..6), 0..8);
    prop_oneof![
        6 => (header, rows, any::<bool>()).prop_map(|(h, rows, crlf)| {
            let end = if crlf { "\r\n" } else { "\n" };
            let mut text = h + end;
            for r in rows {
                text.push_str(&r.join(","));
                text.push_str(end);
            }
            text.into_bytes()
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

#[test]
fn csv_files_of_any_shape_are_ingested_or_rejected_by_line() {
    run_cases(24, true, csv_body(), |ctx: Ctx, csv: Vec<u8>| async move {
        let into = json!({"datasetId": &*ctx.dataset, "files": [{"fileName": "f.csv", "operation": "Append"}]});
        let job = ctx.admin.ingest(&ctx.app, into, csv).await;
        if job["status"] == "Failed" {
            let errors = job["errors"].as_array().cloned().unwrap_or_default();
            prop_assert!(!errors.is_empty(), "{}", job);
            for e in &errors {
                let e = e.as_str().unwrap_or_default();
                prop_assert!(!e.is_empty() && !e.starts_with("internal error"), "{}", job);
            }
        } else {
            prop_assert_eq!(job["status"].as_str(), Some("Succeeded"));
        }
        Ok(())
    });
}

/// A data set of `CSV` with an Admin; answers the app, the admin and the data set id.
async fn with_data(backend: Backend) -> (TestApp, Admin, String) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let version = admin.schema_with(&app, &columns()).await;
    let job = admin.ingest(&app, create("Readings", &version), CSV).await;
    assert_eq!(job["status"], "Succeeded", "{job}");
    let id = job["datasetId"].as_str().unwrap().to_string();
    (app, admin, id)
}

fn refused(status: StatusCode, body: &Value, field: &str, words: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], field, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{body}");
}

fn equals(column: &str, values: Value) -> Value {
    json!({"column": column, "filterType": "List", "filterValues": values})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_limit_answers_400_naming_the_field() {
    let (app, admin, id) = with_data(Backend::Sqlite).await;
    let path = format!("/datasets/{id}/query");
    let rows = |body: Value| admin.call(&app, "POST", &path, Some(body));

    let (s, b) = rows(json!({"queryFilters": vec![equals("Channel", json!(["A"])); 100]})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["pagination"]["totalCount"], 2);
    let (s, b) = rows(json!({"queryFilters": vec![equals("Channel", json!(["A"])); 101]})).await;
    refused(s, &b, "queryFilters", "at most 100 filters");
    let (s, b) = rows(json!({"queryFilters": [equals("Channel", json!(vec!["A"; 1000]))]})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = rows(json!({"queryFilters": [equals("Channel", json!(vec!["A"; 1001]))]})).await;
    refused(s, &b, "queryFilters[0].filterValues", "at most 1000 values");
    let (s, b) =
        rows(json!({"queryFilters": [equals("Channel", json!(["ü".repeat(1001)]))]})).await;
    refused(
        s,
        &b,
        "queryFilters[0].filterValues[0]",
        "at most 1000 characters",
    );
    let (s, b) = rows(json!({"pageSize": 10_001})).await;
    refused(s, &b, "pageSize", "1 to 10000");
    let (s, b) = rows(json!({"pageIndex": -1})).await;
    refused(s, &b, "pageIndex", "1 or more");
    let (s, b) = rows(json!({"pageIndex": i64::MAX, "pageSize": 10_000})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"], json!([]));
    let (s, b) = rows(json!({"sorting": [{"column": "Time"}]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["message"].as_str().unwrap().contains("JSON body"), "{b}");
    let (s, b) = rows(json!({"sorting": {"column": "Time", "order": "sideways"}})).await;
    refused(s, &b, "sorting.order", "Ascending or Descending");
    let (s, b) = rows(json!({"columnFilter": ["Time", "Time"]})).await;
    refused(s, &b, "columnFilter[1]", "listed twice");

    // The catalogue query.
    let catalogue = |body: Value| admin.call(&app, "POST", "/datasets/query", Some(body));
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!([]))).collect();
    let (s, b) = catalogue(json!({"tags": many})).await;
    refused(s, &b, "tags", "at most 50 tag keys");
    let (s, b) = catalogue(json!({"tags": {"site": vec!["x"; 51]}})).await;
    refused(s, &b, "tags", "at most 50");
    let (s, b) = catalogue(json!({"tags": {"site": ["x".repeat(101)]}})).await;
    refused(s, &b, "tags", "longer than 100 characters");
    let (s, b) = catalogue(json!({"datasetName": "n".repeat(101)})).await;
    refused(s, &b, "datasetName", "at most 100 characters");
    let (s, b) = catalogue(json!({"schemaVersionIds": vec![Uuid::nil(); 1001]})).await;
    refused(s, &b, "schemaVersionIds", "at most 1000 ids");
    let (s, b) = catalogue(json!({"pageSize": 1001})).await;
    refused(s, &b, "PageSize", "between 1 and 1000");
    let (s, b) = catalogue(json!({"tags": {"site": ["north"]}, "datasetName": "Read"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // A data set's own tags, given at ingest, within the same bounds.
    let ingest_tags = |tags: Value| {
        admin.call(
            &app,
            "POST",
            "/ingest/dataset",
            Some(json!({"datasetName": "Tagged", "tags": tags,
                        "files": [{"fileName": "t.csv", "operation": "Create"}]})),
        )
    };
    let (s, b) = ingest_tags(json!({"site": ["x".repeat(101)]})).await;
    refused(s, &b, "tags", "longer than 100 characters");
    let (s, b) = ingest_tags(json!([{"Key": "site", "Values": vec!["x"; 51]}])).await;
    refused(s, &b, "tags", "at most 50");
    let (s, b) = ingest_tags(json!([{"Key": "site", "Values": ["north"]}])).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_name_and_csv_limits_answer_naming_the_field_or_line() {
    let (app, admin, id) = with_data(Backend::Sqlite).await;
    let add = |columns: Value| {
        admin.call(
            &app,
            "POST",
            "/schemas/add",
            Some(json!({"name": "s", "columns": columns})),
        )
    };
    let wide: Vec<Value> = (0..501)
        .map(|i| json!({"name": format!("c{i}"), "type": "String"}))
        .collect();
    let (s, b) = add(json!(wide)).await;
    refused(s, &b, "columns", "1 to 500 columns");
    let (s, b) = add(json!([{"name": "c".repeat(129), "type": "String"}])).await;
    refused(s, &b, "columns[0].name", "1 to 128 characters");
    let (s, b) =
        add(json!([{"name": "a", "type": "String"}, {"name": "A", "type": "String"}])).await;
    refused(s, &b, "columns[1].name", "duplicate");
    let (s, b) = admin
        .call(
            &app,
            "POST",
            "/schemas/add",
            Some(json!({"name": "n".repeat(101), "columns": columns()})),
        )
        .await;
    refused(s, &b, "name", "at most 100 characters");

    let mut job = json!({"datasetName": "d".repeat(101), "files": [{"fileName": "f.csv"}]});
    let (s, b) = admin
        .call(&app, "POST", "/ingest/dataset", Some(job.clone()))
        .await;
    refused(s, &b, "datasetName", "at most 100 characters");
    job["datasetName"] = json!("ok");
    job["datasetDescription"] = json!("d".repeat(1001));
    let (s, b) = admin.call(&app, "POST", "/ingest/dataset", Some(job)).await;
    refused(s, &b, "datasetDescription", "at most 1000 characters");
    let (s, b) = admin
        .call(
            &app,
            "POST",
            "/serviceaccounts",
            Some(json!({"name": "n".repeat(101), "contactEmail": "a@b.org"})),
        )
        .await;
    refused(s, &b, "name", "at most 100 characters");

    // A CSV line over 1 MiB rejects the file by line number; 1 MiB exactly is taken.
    let append = json!({"datasetId": id, "files": [{"fileName": "f.csv", "operation": "Append"}]});
    let head = "Time,Channel,Value,\"q\"\"u';o ../\"\n2026-01-02T00:00:00Z,A,1,x\n";
    let line = |n: usize| format!("2026-01-02T00:00:00Z,A,1,{}\n", "x".repeat(n - 25));
    let fits = format!("{head}{}", &line(dwb_lake::MAX_LINE_BYTES));
    assert_eq!(
        line(dwb_lake::MAX_LINE_BYTES).len(),
        dwb_lake::MAX_LINE_BYTES + 1
    );
    let j = admin.ingest(&app, append.clone(), fits).await;
    assert_eq!(j["status"], "Succeeded", "{j}");
    let too_long = format!("{head}{}", &line(dwb_lake::MAX_LINE_BYTES + 1));
    let j = admin.ingest(&app, append, too_long).await;
    assert_eq!(j["status"], "Failed", "{j}");
    assert!(
        j["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("line 3: longer than 1048576 bytes"),
        "{j}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_get_413_with_a_json_message() {
    let (app, admin, id) = with_data(Backend::Sqlite).await;
    let max = dwb_server::config::Config::default().max_body_bytes;
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(max));
    let client = reqwest::Client::new();
    let ws = admin.ws;
    for path in [
        format!("/datasets/{id}/query"),
        "/schemas/add".into(),
        "/datasets/query".into(),
    ] {
        let r = client
            .post(app.url(&format!("/api/v2/workspaces/{ws}{path}")))
            .header("Ocp-Apim-Subscription-Key", &admin.creds.key)
            .header("Content-Type", "application/json")
            .bearer_auth(&admin.token)
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["statusCode"], 413);
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .contains("larger than 1048576 bytes"),
            "{b}"
        );
    }
    // The same body sent in chunks, with no length announced, is cut off at
    // the limit with the same answer.
    let url = format!("/api/v2/workspaces/{ws}/datasets/{id}/query");
    let (status, body) = chunked_post(&app.base, &url, &admin, big.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("larger than 1048576 bytes"), "{body}");
    // Just under the limit is read (and refused for what it says).
    let under = format!("{{\"x\": \"{}\"}}", "a".repeat(max - 20));
    let (s, b) = admin
        .post_raw(&app, &format!("/datasets/{id}/query"), under.into_bytes())
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let r = client
        .post(app.url("/oauth2/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&x={}",
            "a".repeat(max)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"], "invalid_request", "{b}");
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("larger than"),
        "{b}"
    );

    // A form of many distinct keys just under the limit is answered at once.
    let mut form = String::from("grant_type=client_credentials");
    let mut i = 0;
    while form.len() < max - 32 {
        form.push_str(&format!("&k{i}="));
        i += 1;
    }
    let started = Instant::now();
    let r = client
        .post(app.url("/oauth2/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

const NAMES: [&str; 7] = [
    "a\"b'c",
    "x'; DROP TABLE datasets; --",
    "naïve 名前 🚀",
    "../../etc",
    "semi;colon,comma",
    "100%_\\",
    "\"; SELECT 1; --",
];

const VALUES: [[&str; 6]; 4] = [
    [
        "it's \"quoted\"",
        "'; DROP TABLE datasets; --",
        "名前 🚀 ünï",
        "../../../etc/passwd",
        "a;b;c",
        "100%",
    ],
    [
        "plain",
        "x\"); DELETE FROM users; --",
        "ÅÄÖ",
        "..\\..\\win",
        "';'",
        "50_50",
    ],
    [
        "",
        "`backtick`",
        "\u{202e}rtl",
        "/absolute/path",
        ";",
        "back\\slash",
    ],
    ["%", "_", "\\", "..", "NULL", "1 OR 1=1"],
];

/// A CSV cell, quoted with its quotes doubled.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

async fn hostile_names_and_values_stay_data(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Admin::new(&app).await;
    let mut cols: Vec<Value> = NAMES[..6]
        .iter()
        .map(|n| json!({"name": n, "type": "String"}))
        .collect();
    cols.push(json!({"name": NAMES[6], "type": "Int64"}));
    let version = admin.schema_with(&app, &json!(cols)).await;
    let mut csv = NAMES.map(quoted).join(",") + "\n";
    for (i, row) in VALUES.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| quoted(v)).collect();
        csv.push_str(&format!("{},{}\n", cells.join(","), i));
    }
    let name = format!("../../outside-{}", Uuid::new_v4().simple());
    let job = admin.ingest(&app, create(&name, &version), csv).await;
    assert_eq!(job["status"], "Succeeded", "{job}");
    let id = job["datasetId"].as_str().unwrap();
    let (_, d) = admin
        .call(&app, "GET", &format!("/datasets/{id}"), None)
        .await;
    assert_eq!(d["name"], name);
    let path = format!("/datasets/{id}/query");
    let rows = |body: Value| admin.call(&app, "POST", &path, Some(body));

    // Every value, filtered on exactly, comes back exactly, under its exact column name.
    for (i, row) in VALUES.iter().enumerate() {
        for (c, value) in row.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
            let body = json!({"queryFilters": [{"column": NAMES[c], "filterType": "Equals", "filterValues": [value]}]});
            let (s, page) = rows(body).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            assert_eq!(
                page["pagination"]["totalCount"], 1,
                "{} = {value}: {page}",
                NAMES[c]
            );
            assert_eq!(page["data"][0][NAMES[c]], *value);
            assert_eq!(page["data"][0][NAMES[6]], i);
        }
    }
    // `%`, `_` and `\` in Contains are literal characters, not patterns.
    for (needle, count) in [("%", 1), ("_", 1), ("\\", 1), (";", 3), ("'", 1)] {
        let column = if ";'".contains(needle) {
            NAMES[4]
        } else {
            NAMES[5]
        };
        let body = json!({"queryFilters": [{"column": column, "filterType": "Contains", "filterValues": [needle]}]});
        let (s, page) = rows(body).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        assert_eq!(
            page["pagination"]["totalCount"], count,
            "{column} contains {needle}: {page}"
        );
    }
    let (s, page) = rows(json!({"columnFilter": [NAMES[1], NAMES[6]], "sorting": {"column": NAMES[1], "order": "Descending"}})).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let first = page["data"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut wanted = vec![NAMES[1], NAMES[6]];
    wanted.sort_unstable();
    assert_eq!(keys, wanted);
    assert_eq!(first[NAMES[1]], "x\"); DELETE FROM users; --");
    let (s, page) = rows(json!({"queryFilters": [{"column": NAMES[6], "filterType": "Equals", "filterValues": ["1; DROP TABLE datasets"]}]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{page}");
    assert_eq!(page["field"], "queryFilters[0].filterValues[0]");

    // An account and a schema named like paths are names only.
    let (s, b) = admin
        .call(
            &app,
            "POST",
            "/serviceaccounts",
            Some(json!({"name": "../../acct", "contactEmail": "a@b.org",
                        "access": {"type": "workspace", "level": "Reader"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["name"], "../../acct");

    // Nothing was written outside the lake, and no name became a path.
    let lake = app.lake_dir.canonicalize().unwrap();
    let parent = lake.parent().unwrap();
    for e in std::fs::read_dir(parent).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !n.contains("outside") && !n.contains("acct") && n != "etc",
            "{n} beside the lake"
        );
    }
    let mut stack = vec![lake.clone()];
    while let Some(dir) = stack.pop() {
        // Background clean-ups may remove files meanwhile: what is gone is skipped.
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if let Ok(real) = path.canonicalize() {
                assert!(real.starts_with(&lake), "{}", path.display());
            }
            let n = path.file_name().unwrap().to_string_lossy().into_owned();
            for word in ["outside", "acct", "DROP", "etc", "passwd", "..", "名前"] {
                assert!(!n.contains(word), "{} in the lake", path.display());
            }
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
}
on_both_stores!(hostile_names_and_values_stay_data);

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length) over a
/// raw connection; returns the status and the body of the answer.
async fn chunked_post(base: &str, path: &str, who: &Admin, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Ocp-Apim-Subscription-Key: {}\r\nAuthorization: Bearer {}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        who.creds.key, who.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        let sent = async {
            s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            s.write_all(chunk).await?;
            s.write_all(b"\r\n").await
        };
        // The server may answer and close before the whole body is sent.
        if sent.await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer)
}
