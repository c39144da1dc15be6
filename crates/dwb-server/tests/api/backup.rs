//! `dwb admin backup` and `dwb admin restore` on both stores: a workspace
//! backed up beside a running server and restored into a new place has every
//! row, event and credential it had, and the refusals explain themselves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dwb_core::paging::Page;
use dwb_store::backup::row_counts;
use dwb_store::{Backend, SqlStore, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::cli::{output, place, start, Place, Server};
use crate::on_both_stores;

/// The service account a test made, as its scripts would hold it.
struct Account {
    id: String,
    secret: String,
    key: String,
    /// `/api/v2/workspaces/{ws}`, without the server's address.
    ws_path: String,
}

struct Api<'a> {
    base: &'a str,
    account: &'a Account,
    token: String,
}

impl Api<'_> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = reqwest::Client::new()
            .request(
                method.parse().unwrap(),
                format!("{}{}{path}", self.base, self.account.ws_path),
            )
            .header("Ocp-Apim-Subscription-Key", &self.account.key)
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Every data set with every row of it, sorted by name.
    async fn everything(&self) -> Vec<(String, Value, Vec<Value>)> {
        let (status, list) = self
            .call("POST", "/datasets/query", Some(json!({"pageSize": 100})))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let mut all = Vec::new();
        for d in list["result"].as_array().unwrap() {
            let id = d["id"].as_str().unwrap();
            let mut rows: Vec<Value> = Vec::new();
            for index in 1.. {
                let (status, page) = self
                    .call(
                        "POST",
                        &format!("/datasets/{id}/query"),
                        Some(json!({"pageIndex": index, "pageSize": 1000})),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{page}");
                rows.extend(page["data"].as_array().unwrap().iter().cloned());
                if index >= page["pagination"]["totalPages"].as_i64().unwrap() {
                    assert_eq!(page["pagination"]["totalCount"], rows.len());
                    break;
                }
            }
            // The order of unsorted rows is the lake's business: compare as sets.
            rows.sort_by_key(|r| r.to_string());
            all.push((d["name"].as_str().unwrap().to_string(), d.clone(), rows));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

async fn token(base: &str, account: &Account) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", account.id.as_str()),
            ("client_secret", account.secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn create_account(server: &Server, extra: &[String]) -> Account {
    let (ok, out, err) = output(
        &[
            "service-accounts",
            "create",
            "--workspace",
            "Demo",
            "--name",
            "Nightly",
            "--email",
            "ops@example.org",
            "--access",
            "admin",
            "--json",
            "--public-url",
            &server.base,
        ],
        extra,
    )
    .await;
    assert!(ok, "{err}");
    let c: Value = serde_json::from_str(&out).unwrap();
    Account {
        id: c["serviceAccountId"].as_str().unwrap().into(),
        secret: c["serviceAccountSecret"].as_str().unwrap().into(),
        key: c["apiKey"].as_str().unwrap().into(),
        ws_path: c["endpointsBaseUrl"]
            .as_str()
            .unwrap()
            .trim_start_matches(&server.base)
            .into(),
    }
}

fn csv(from: usize, to: usize) -> String {
    let mut s = String::from("Time,Channel,Value\n");
    for i in from..to {
        let ch = ["A", "B", "C"][i % 3];
        s.push_str(&format!(
            "2026-01-01T{:02}:{:02}:00Z,{ch},{i}.5\n",
            i / 60,
            i % 60
        ));
    }
    s
}

/// Appends `body` to data set `id` with an ingest job and waits for it.
async fn append(api: &Api<'_>, id: &str, body: String) {
    let (status, created) = api
        .call(
            "POST",
            "/ingest/dataset",
            Some(json!({"datasetId": id, "files": [{"fileName": "more.csv", "operation": "Append"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let up = reqwest::Client::new()
        .put(created["sasToken"].as_str().unwrap())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), StatusCode::CREATED);
    let job = created["jobId"].as_str().unwrap();
    for _ in 0..400 {
        let (_, j) = api.call("GET", &format!("/ingest/jobs/{job}"), None).await;
        if j["status"] == "Succeeded" {
            return;
        }
        assert_ne!(j["status"], "Failed", "{j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the append did not finish");
}

fn database_url(place: &Place) -> String {
    place
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", place.dir.join("dwb.db").display()))
}

/// What the store holds, read through the store: rows per table, the
/// ledger, accounts with their credential digests, signing keys, data sets.
async fn store_state(place: &Place, workspace: uuid::Uuid) -> Vec<String> {
    let url = database_url(place);
    let mut state: Vec<String> = row_counts(&url)
        .await
        .unwrap()
        .iter()
        .map(|(t, n)| format!("{t}: {n} rows"))
        .collect();
    let db = SqlStore::connect(&url).await.unwrap();
    let (events, total) = db
        .workspace_events(
            workspace,
            Page {
                index: 1,
                size: 1000,
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len() as i64, total);
    state.extend(events.iter().map(|e| format!("{e:?}")));
    for a in db.service_accounts(workspace).await.unwrap() {
        let s = db.account_secrets(a.id).await.unwrap().unwrap();
        let sealed = db.api_key_sealed(a.id).await.unwrap();
        state.push(format!(
            "{a:?} {} {} {sealed:?}",
            s.secret_digest, s.api_key_digest
        ));
    }
    for k in db.signing_keys().await.unwrap() {
        state.push(format!(
            "key {} {} {} {}",
            k.kid, k.public_key, k.private_key_sealed, k.created_at.0
        ));
    }
    for d in db.datasets(workspace).await.unwrap() {
        state.push(format!("{d:?}"));
    }
    db.close().await;
    state
}

/// The files of each table folder in a lake, relative to the lake.
fn lake_files(lake: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo: Vec<PathBuf> = vec![lake.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(lake).unwrap().display().to_string();
                if !rel.starts_with("_staging") {
                    found.insert(rel);
                }
            }
        }
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn a_backup_taken_while_serving_restores_every_row_and_credential(backend: Backend) {
    let old = place(backend).await;
    // Both servers listen on one address: tokens name it as their audience.
    let listen = format!("127.0.0.1:{}", free_port());
    let with_listen = |p: &Place| {
        let mut a = p.args();
        a.extend(["--listen".into(), listen.clone()]);
        a
    };
    let server = start(&with_listen(&old), &[]).await;
    let base = server.base.clone();
    let account = create_account(&server, &old.args()).await;
    let (status, t) = token(&base, &account).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let api = Api {
        base: &base,
        account: &account,
        token: t["access_token"].as_str().unwrap().into(),
    };

    // A data set imported on the command line, appended to over the API, and a view of it.
    let file = old.dir.join("readings.csv");
    std::fs::write(&file, csv(0, 120)).unwrap();
    let (ok, out, err) = output(
        &[
            "datasets",
            "import",
            "--workspace",
            "Demo",
            "--name",
            "Readings",
            "--csv",
            &file.display().to_string(),
            "--json",
        ],
        &old.args(),
    )
    .await;
    assert!(ok, "{err}");
    let readings: Value = serde_json::from_str(&out).unwrap();
    let id = readings["id"].as_str().unwrap();
    append(&api, id, csv(120, 200)).await;
    let (status, derived) = api
        .call(
            "POST",
            &format!("/datasets/{id}/derive"),
            Some(json!({"name": "Channel A",
                "queries": [{"column": "Channel", "filterType": "Equals", "filterValues": ["A"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{derived}");
    let before = api.everything().await;
    let names: Vec<&str> = before.iter().map(|d| d.0.as_str()).collect();
    assert!(
        names.contains(&"Readings") && names.contains(&"Channel A"),
        "{names:?}"
    );
    let rows = |name: &str| before.iter().find(|d| d.0 == name).unwrap().2.len();
    assert_eq!(rows("Readings"), 200);
    assert_eq!(rows("Channel A"), 67);
    // Let the server record the account's last use before the copy.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let backup = old.dir.join("backup");
    let (ok, out, err) = output(
        &[
            "admin",
            "backup",
            "--to",
            &backup.display().to_string(),
            "--json",
        ],
        &old.args(),
    )
    .await;
    assert!(ok, "{err}");
    let manifest: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(manifest["formatVersion"], 1);
    assert_eq!(manifest["masterKey"], "file");
    let table = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == id)
        .unwrap_or_else(|| panic!("{manifest}"));
    assert_eq!(table["version"], 1, "created, then one append");
    assert_eq!(table["dataFiles"], 2);
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(backup.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk, manifest);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(backup.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the master key copy is private");
    }

    let (ok, _, err) = output(
        &["admin", "backup", "--to", &backup.display().to_string()],
        &old.args(),
    )
    .await;
    assert!(
        !ok && err.contains("the folder is not empty; back up into a new or empty folder"),
        "{err}"
    );
    let (ok, _, err) = output(
        &["admin", "restore", "--from", &backup.display().to_string()],
        &old.args(),
    )
    .await;
    assert!(
        !ok && err.contains("already holds") && err.contains("--force"),
        "{err}"
    );

    let ws = uuid::Uuid::parse_str(account.ws_path.rsplit('/').next().unwrap()).unwrap();
    let state = store_state(&old, ws).await;
    let files = lake_files(&old.dir.join("lake"));
    assert!(server.stop().await.success());

    // A brand-new place: data directory, database and lake.
    let new = place(backend).await;
    let (ok, _, err) = output(
        &["admin", "restore", "--from", &old.dir.display().to_string()],
        &new.args(),
    )
    .await;
    assert!(!ok && err.contains("not a dwb backup"), "{err}");
    let (ok, out, err) = output(
        &["admin", "restore", "--from", &backup.display().to_string()],
        &new.args(),
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("restored table {id} at version 1")),
        "{out}"
    );
    assert!(out.contains("restored the master key"), "{out}");
    assert_eq!(
        std::fs::read(new.dir.join("master.key")).unwrap(),
        std::fs::read(old.dir.join("master.key")).unwrap()
    );
    assert_eq!(store_state(&new, ws).await, state, "every row of the store");
    let restored_files = lake_files(&new.dir.join("lake"));
    assert_eq!(restored_files, files, "the tables' files");
    for f in &restored_files {
        assert_eq!(
            std::fs::read(new.dir.join("lake").join(f)).unwrap(),
            std::fs::read(old.dir.join("lake").join(f)).unwrap(),
            "{f}"
        );
    }

    let server = start(&with_listen(&new), &[]).await;
    assert_eq!(server.base, base);
    assert_eq!(
        api.everything().await,
        before,
        "the token issued before the backup still works, and every row is there"
    );
    let (status, t) = token(&server.base, &account).await;
    assert_eq!(status, StatusCode::OK, "the original secret: {t}");
    let again = Api {
        base: &server.base,
        account: &account,
        token: t["access_token"].as_str().unwrap().into(),
    };
    assert_eq!(
        again.everything().await,
        before,
        "the original API key with a new token"
    );
    let from = backup.display().to_string();
    if backend == Backend::Postgres {
        let (ok, _, err) = output(
            &["admin", "restore", "--force", "--from", &from],
            &new.args(),
        )
        .await;
        assert!(
            !ok && err.contains("stop every dwb server using it before restoring"),
            "{err}"
        );
    }
    // A stop writes the buffered usage events before the store closes.
    assert!(server.stop().await.success());

    // --force replaces what the second server changed (tokens issued, last use).
    assert_ne!(store_state(&new, ws).await, state);
    let (ok, _, err) = output(
        &["admin", "restore", "--force", "--from", &from],
        &new.args(),
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(store_state(&new, ws).await, state);
    assert_eq!(lake_files(&new.dir.join("lake")), files);
}
on_both_stores!(a_backup_taken_while_serving_restores_every_row_and_credential);
