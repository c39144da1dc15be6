//! A real `dwb serve` killed with SIGKILL around credential changes, on both
//! stores: after the restart a regenerated secret is either the old one or
//! the new one (never both, never neither) and a deleted account never comes
//! back.

use std::time::Duration;

use dwb_store::Backend;
use reqwest::StatusCode;
use serde_json::Value;

use crate::cli::{fixed_port, place, start, Server};
use crate::crash::Api;
use crate::on_both_stores;

async fn kill(server: Server) {
    let mut child = server.child;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// `method path` sent by `api` in the background; `None` when the server
/// died before it answered.
fn in_flight(
    api: &Api,
    method: &'static str,
    path: String,
) -> tokio::task::JoinHandle<Option<(StatusCode, Value)>> {
    let url = format!("{}{path}", api.ws_url);
    let key = api.key.clone();
    let token = api.token.clone();
    tokio::spawn(async move {
        let r = reqwest::Client::new()
            .request(method.parse().unwrap(), url)
            .header("Ocp-Apim-Subscription-Key", key)
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        let status = r.status();
        // A 204 has no body; a cut-off body means no answer.
        let body = r.text().await.ok()?;
        Some((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    })
}

/// When the victim's current secret was issued, as the API says.
async fn issued_at(admin: &Api, id: &str) -> String {
    let (status, a) = admin
        .call("GET", &format!("/serviceaccounts/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    a["secretIssuedAt"].as_str().unwrap().to_string()
}

/// Delays after which the server is killed, from "before the request is
/// read" to "after the answer".
const DELAYS_MS: [u64; 7] = [0, 1, 3, 6, 12, 25, 60];

async fn a_regeneration_cut_short_leaves_exactly_one_secret(backend: Backend) {
    let place = place(backend).await;
    let args = fixed_port(&place.args());
    let mut server = start(&args, &[]).await;
    let admin = Api::new(&server, &place.args()).await;
    let (mut victim, made) = Api::made(&server, &place.args(), "Victim", "reader").await;
    let mut secret = made.secret.clone();
    let mut outcomes = Vec::new();
    for delay in DELAYS_MS {
        let before = issued_at(&admin, &made.id).await;
        let change = in_flight(
            &admin,
            "POST",
            format!("/serviceaccounts/{}/secret", made.id),
        );
        tokio::time::sleep(Duration::from_millis(delay)).await;
        kill(server).await;
        let answer = change.await.unwrap();
        server = start(&args, &[]).await;

        let after = issued_at(&admin, &made.id).await;
        let changed = after != before;
        let old_secret = admin.token_for(&made.id, &secret).await;
        let (old_token, _) = victim.call("GET", "", None).await;
        assert_eq!(
            old_secret.is_ok(),
            !changed,
            "after {delay} ms: the old secret works exactly when no new one was committed"
        );
        assert_eq!(
            old_token == StatusCode::OK,
            !changed,
            "after {delay} ms: tokens of the old secret end with it"
        );
        match answer {
            Some((StatusCode::OK, body)) => {
                assert!(changed, "an answered regeneration was committed");
                secret = body["serviceAccountSecret"].as_str().unwrap().to_string();
                outcomes.push("answered");
            }
            Some((status, body)) => panic!("after {delay} ms: {status} {body}"),
            None if changed => {
                // Committed, but the caller never saw the secret: a new
                // regeneration gives them one that works.
                let (status, body) = admin
                    .call(
                        "POST",
                        &format!("/serviceaccounts/{}/secret", made.id),
                        None,
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                secret = body["serviceAccountSecret"].as_str().unwrap().to_string();
                outcomes.push("committed unseen");
            }
            None => outcomes.push("not committed"),
        }
        victim.token = admin
            .token_for(&made.id, &secret)
            .await
            .expect("the secret the caller knows works");
        let (status, _) = victim.call("GET", "", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    println!("regenerations cut short: {outcomes:?}");
    server.stop().await;
}
on_both_stores!(a_regeneration_cut_short_leaves_exactly_one_secret);

async fn a_deletion_cut_short_never_brings_an_account_back(backend: Backend) {
    let place = place(backend).await;
    let args = fixed_port(&place.args());
    let mut server = start(&args, &[]).await;
    let admin = Api::new(&server, &place.args()).await;
    let mut gone = Vec::new();
    let mut outcomes = Vec::new();
    for (round, delay) in DELAYS_MS.into_iter().enumerate() {
        let (victim, made) =
            Api::made(&server, &place.args(), &format!("Victim {round}"), "reader").await;
        let delete = in_flight(&admin, "DELETE", format!("/serviceaccounts/{}", made.id));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        kill(server).await;
        let answer = delete.await.unwrap();
        server = start(&args, &[]).await;

        let (listed, _) = admin
            .call("GET", &format!("/serviceaccounts/{}", made.id), None)
            .await;
        let secret_works = admin.token_for(&made.id, &made.secret).await.is_ok();
        let (token_status, _) = victim.call("GET", "", None).await;
        match answer {
            Some((StatusCode::NO_CONTENT, _)) => {
                assert_eq!(listed, StatusCode::NOT_FOUND, "an answered deletion stays");
                outcomes.push("answered");
            }
            Some((status, body)) => panic!("after {delay} ms: {status} {body}"),
            None => outcomes.push(if listed == StatusCode::OK {
                "not committed"
            } else {
                "committed unseen"
            }),
        }
        // All or nothing: listed, secret and token agree.
        let exists = listed == StatusCode::OK;
        assert!(exists || listed == StatusCode::NOT_FOUND, "{listed}");
        assert_eq!(
            secret_works, exists,
            "after {delay} ms: the secret follows the account"
        );
        assert_eq!(
            token_status == StatusCode::OK,
            exists,
            "after {delay} ms: the token follows the account"
        );
        if !exists {
            gone.push((victim, made));
        }
    }
    // One more restart: what was deleted stays deleted.
    kill(server).await;
    let server = start(&args, &[]).await;
    for (victim, made) in &gone {
        let (status, _) = admin
            .call("GET", &format!("/serviceaccounts/{}", made.id), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(admin.token_for(&made.id, &made.secret).await.is_err());
        let (status, _) = victim.call("GET", "", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    println!("deletions cut short: {outcomes:?}");
    server.stop().await;
}
on_both_stores!(a_deletion_cut_short_never_brings_an_account_back);

/// A small tmpfs mounted over `dir` for the life of the value.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "this test mounts a small tmpfs as the lake: run the tests as root, as scripts/test does"
        );
        Tmpfs(dir.to_path_buf())
    }

    fn remount(&self, mode: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A CSV of `n` rows whose values do not compress well.
fn noisy(n: u64, channel: &str) -> Vec<u8> {
    let mut csv = String::from("Time,Channel,Value\n");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        csv.push_str(&format!(
            "2026-04-01T{:02}:{:02}:{:02}Z,{channel}{},{}\n",
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60,
            x % 97,
            x as f64 / 7.0
        ));
    }
    csv.into_bytes()
}

/// Polls a job until it ends.
async fn ended(api: &Api, job: &str) -> Value {
    for _ in 0..600 {
        let j = api.status(job).await;
        if j["status"] == "Succeeded" || j["status"] == "Failed" {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {job} did not end");
}

/// Rows of data set `id` as the query API counts them, and as the catalogue does.
async fn counts(api: &Api, id: &str) -> (Value, Value) {
    let (status, page) = api
        .call(
            "POST",
            &format!("/datasets/{id}/query"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, d) = api.call("GET", &format!("/datasets/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    (
        page["pagination"]["totalCount"].clone(),
        d["rowCount"].clone(),
    )
}

#[tokio::test]
async fn a_full_or_read_only_lake_fails_ingests_clearly_and_keeps_data_readable() {
    let place = place(Backend::Sqlite).await;
    let lake = place.dir.join("small-lake");
    let fs = Tmpfs::mount(&lake, "6m");
    let mut args = place.args();
    args.extend([
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--lake-url".into(),
        lake.display().to_string(),
    ]);
    let server = start(&args, &[]).await;
    let api = Api::new(&server, &place.args()).await;
    let version = api.readings_schema().await;
    let job = api
        .job(
            serde_json::json!({"datasetName": "Readings", "schemaVersionId": version,
                   "files": [{"fileName": "r.csv", "operation": "Create"}]}),
            noisy(100, "A"),
        )
        .await;
    let done = ended(&api, &job).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    let id = done["datasetId"].as_str().unwrap().to_string();

    // An upload bigger than the disk: refused with a clear answer.
    let (status, created) = api
        .call(
            "POST",
            "/ingest/dataset",
            Some(serde_json::json!({"datasetId": id,
                "files": [{"fileName": "big.csv", "operation": "Append"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let up = reqwest::Client::new()
        .put(created["sasToken"].as_str().unwrap())
        .body(noisy(200_000, "B"))
        .send()
        .await
        .unwrap();
    let status = up.status();
    let body: Value = up.json().await.unwrap_or(Value::Null);
    println!("upload onto a full lake: {status} {body}");
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no space left"),
        "{body}"
    );
    assert_eq!(counts(&api, &id).await, (100.into(), 100.into()));

    // An upload that fits, then a disk filled up before its table files are written.
    let (status, created) = api
        .call(
            "POST",
            "/ingest/dataset",
            Some(
                serde_json::json!({"datasetId": id, "startAutomatically": false,
                "files": [{"fileName": "mid.csv", "operation": "Append"}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let up = reqwest::Client::new()
        .put(created["sasToken"].as_str().unwrap())
        .body(noisy(20_000, "C"))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), StatusCode::CREATED);
    let filler = lake.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![7u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
    }
    let job = created["jobId"].as_str().unwrap().to_string();
    let (status, started) = api
        .call("POST", &format!("/ingest/jobs/{job}/start"), None)
        .await;
    assert!(status.is_success(), "{status} {started}");
    let failed = ended(&api, &job).await;
    println!("ingest onto a full lake: {failed}");
    assert_eq!(failed["status"], "Failed", "{failed}");
    assert!(
        failed["errors"][0]
            .as_str()
            .unwrap()
            .contains("no space left"),
        "{failed}"
    );
    assert_eq!(counts(&api, &id).await, (100.into(), 100.into()));
    std::fs::remove_file(&filler).unwrap();

    // A read-only lake: writes fail by name, reads go on.
    fs.remount("ro");
    let (status, created) = api
        .call(
            "POST",
            "/ingest/dataset",
            Some(serde_json::json!({"datasetId": id,
                "files": [{"fileName": "small.csv", "operation": "Append"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let up = reqwest::Client::new()
        .put(created["sasToken"].as_str().unwrap())
        .body(noisy(10, "D"))
        .send()
        .await
        .unwrap();
    let status = up.status();
    let body: Value = up.json().await.unwrap_or(Value::Null);
    println!("upload onto a read-only lake: {status} {body}");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("read-only"),
        "{body}"
    );
    assert_eq!(counts(&api, &id).await, (100.into(), 100.into()));

    // Writable again: the next ingest lands, and the files of the failed
    // ones are swept.
    fs.remount("rw");
    let job = api
        .job(
            serde_json::json!({"datasetId": id,
                "files": [{"fileName": "small.csv", "operation": "Append"}]}),
            noisy(10, "E"),
        )
        .await;
    let done = ended(&api, &job).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert_eq!(counts(&api, &id).await, (110.into(), 110.into()));
    server.stop().await;
    drop(fs);
}
