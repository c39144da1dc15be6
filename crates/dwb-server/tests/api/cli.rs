//! The `dwb` binary as users run it: first start, configuration precedence,
//! admin commands beside a running server, clear start-up errors, shutdown.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use dwb_store::testdb::fresh_database;
use dwb_store::Backend;
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::Portal;
use crate::on_both_stores;

const BIN: &str = env!("CARGO_BIN_EXE_dwb");

pub(crate) fn dwb() -> Command {
    let mut c = Command::new(BIN);
    for var in [
        "DWB_LISTEN",
        "DWB_DATA_DIR",
        "DWB_PUBLIC_URL",
        "DWB_DATABASE_URL",
        "DWB_CONFIG",
        "DWB_ADMIN_EMAIL",
        "DWB_ADMIN_PASSWORD",
    ] {
        c.env_remove(var);
    }
    c.env("RUST_LOG", "warn").kill_on_drop(true);
    c
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir()
        .join("dwb-tests")
        .join(format!("cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Where a test's server keeps its data: a data directory, plus a database URL for PostgreSQL.
pub(crate) struct Place {
    pub(crate) dir: PathBuf,
    pub(crate) database_url: Option<String>,
}

pub(crate) async fn place(backend: Backend) -> Place {
    let dir = temp_dir();
    let database_url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(fresh_database(backend).await.unwrap()),
    };
    Place { dir, database_url }
}

impl Place {
    pub(crate) fn args(&self) -> Vec<String> {
        let mut a = vec!["--data-dir".to_string(), self.dir.display().to_string()];
        if let Some(u) = &self.database_url {
            a.extend(["--database-url".to_string(), u.clone()]);
        }
        a
    }
}

/// The arguments of `place`, listening on a port chosen once, so that a
/// restarted server has the same address: tokens name it as their audience.
pub(crate) fn fixed_port(place_args: &[String]) -> Vec<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args = place_args.to_vec();
    args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    args
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    stdout: Vec<String>,
}

/// Starts `dwb serve` with `args` and waits for it to say where it listens.
pub(crate) async fn start(args: &[String], envs: &[(&str, &str)]) -> Server {
    start_logging(args, envs, None).await
}

/// Like `start`, with the server's log written to `log`.
async fn start_logging(args: &[String], envs: &[(&str, &str)], log: Option<&Path>) -> Server {
    let mut cmd = dwb();
    let stderr = match log {
        Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
        None => Stdio::null(),
    };
    cmd.arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            stdout.push(line.clone());
            if let Some(rest) = line.strip_prefix("dwb is listening on ") {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("dwb serve ended early: {stdout:?}");
    })
    .await
    .expect("dwb serve starts within 60 s");
    Server {
        child,
        base,
        stdout,
    }
}

impl Server {
    /// SIGTERM, then the exit status.
    pub(crate) async fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("stops within 20 s of SIGTERM")
            .unwrap()
    }

    fn portal(&self) -> Portal {
        Portal {
            base: self.base.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            csrf: String::new(),
        }
    }
}

pub(crate) async fn output(args: &[&str], extra: &[String]) -> (bool, String, String) {
    let out = dwb().args(args).args(extra).output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_first_start_prints_a_one_time_password_once(backend: Backend) {
    let place = place(backend).await;
    let mut args = place.args();
    args.extend(["--listen".into(), "127.0.0.1:0".into()]);
    let server = start(&args, &[]).await;
    let line = server
        .stdout
        .iter()
        .find(|l| l.starts_with("One-time password for admin@dwb.local"))
        .unwrap_or_else(|| panic!("no password line in {:?}", server.stdout));
    let password = line.rsplit(' ').next().unwrap().to_string();
    assert_eq!(password.len(), 20);
    let mut p = server.portal();
    let (status, body) = p.sign_in("admin@dwb.local", &password).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("one-time password"),
        "the admin chooses a password first"
    );
    let (ok, out, err) = output(
        &["datasets", "list", "--workspace", "Demo", "--json"],
        &place.args(),
    )
    .await;
    assert!(ok, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        list[0]["name"], "Sensor readings January 2026",
        "the sample data set is there"
    );
    assert_eq!(list[0]["rows"], 3600);
    assert!(server.stop().await.success(), "SIGTERM ends dwb cleanly");
    if backend == Backend::Sqlite {
        assert!(place.dir.join("dwb.db").exists());
    }

    let again = start(&args, &[]).await;
    assert!(
        !again
            .stdout
            .iter()
            .any(|l| l.contains("password") || l.contains("First start")),
        "{:?}",
        again.stdout
    );
    let mut p = again.portal();
    let (status, _) = p.sign_in("admin@dwb.local", &password).await;
    assert_eq!(status, StatusCode::OK, "the same store is reused");
    again.stop().await;
}
on_both_stores!(the_first_start_prints_a_one_time_password_once);

async fn admin_commands_work_beside_a_running_server(backend: Backend) {
    let place = place(backend).await;
    let mut args = place.args();
    args.extend(["--listen".into(), "127.0.0.1:0".into()]);
    let server = start(
        &args,
        &[
            ("DWB_ADMIN_EMAIL", "boss@example.org"),
            ("DWB_ADMIN_PASSWORD", "boss password 1"),
        ],
    )
    .await;
    assert!(!server
        .stdout
        .iter()
        .any(|l| l.contains("One-time password")));
    let extra = place.args();

    let (ok, out, err) = output(
        &[
            "admin",
            "create-workspace",
            "--name",
            "Ships",
            "--description",
            "Vessels",
            "--json",
        ],
        &extra,
    )
    .await;
    assert!(ok, "{err}");
    let ws: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ws["name"], "Ships");
    assert!(ws["id"].as_str().unwrap().len() == 36);
    let (ok, _, err) = output(&["admin", "create-workspace", "--name", "Ships"], &extra).await;
    assert!(!ok);
    assert!(
        err.contains("--name: a workspace named \"Ships\" already exists"),
        "{err}"
    );
    let (ok, out, _) = output(&["admin", "list-workspaces", "--json"], &extra).await;
    assert!(ok);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let names: Vec<_> = list.iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Demo", "Ships"]);
    assert!(list.iter().all(|w| w["id"].is_string()));

    let (ok, out, err) = output(
        &[
            "admin",
            "create-user",
            "--email",
            "ann@example.org",
            "--json",
        ],
        &extra,
    )
    .await;
    assert!(ok, "{err}");
    let user: serde_json::Value = serde_json::from_str(&out).unwrap();
    let otp = user["oneTimePassword"].as_str().unwrap().to_string();
    let (ok, _, err) = output(&["admin", "create-user", "--email", "not an email"], &extra).await;
    assert!(!ok && err.contains("--email"), "{err}");
    let (ok, out, err) = output(
        &[
            "admin",
            "reset-password",
            "--email",
            "ann@example.org",
            "--password",
            "ann password 2",
        ],
        &extra,
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("reset the password of ann@example.org"));
    let (ok, _, err) = output(
        &["admin", "reset-password", "--email", "nobody@example.org"],
        &extra,
    )
    .await;
    assert!(
        !ok && err.contains("no user has the email nobody@example.org"),
        "{err}"
    );

    // The running server sees what the commands did.
    let mut boss = server.portal();
    let (_, body) = boss.sign_in("boss@example.org", "boss password 1").await;
    assert!(body.contains("Ships"), "{body}");
    let mut ann = server.portal();
    let (status, _) = ann.sign_in("ann@example.org", &otp).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the reset replaced the one-time password"
    );
    let (status, _) = ann.sign_in("ann@example.org", "ann password 2").await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}
on_both_stores!(admin_commands_work_beside_a_running_server);

/// Everything the store holds, as bytes: the SQLite files, or a `pg_dump`.
async fn dump(place: &Place) -> Vec<u8> {
    match &place.database_url {
        None => {
            let mut all = Vec::new();
            for f in ["dwb.db", "dwb.db-wal"] {
                all.extend(std::fs::read(place.dir.join(f)).unwrap_or_default());
            }
            all
        }
        Some(url) => {
            let out = Command::new("pg_dump")
                .arg(url)
                .output()
                .await
                .expect("pg_dump runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn service_account_commands_reach_a_running_server_and_leave_no_secret_behind(
    backend: Backend,
) {
    let place = place(backend).await;
    let mut args = place.args();
    args.extend(["--listen".into(), "127.0.0.1:0".into()]);
    let log = place.dir.join("server.log");
    let server = start_logging(&args, &[("RUST_LOG", "debug")], Some(&log)).await;
    let extra = place.args();
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
        &extra,
    )
    .await;
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = created["serviceAccountId"].as_str().unwrap().to_string();
    let secret = created["serviceAccountSecret"]
        .as_str()
        .unwrap()
        .to_string();
    let key = created["apiKey"].as_str().unwrap().to_string();
    assert_eq!(created["tokenUrl"], format!("{}/oauth2/token", server.base));
    let http = reqwest::Client::new();
    let token_of = |secret: String| {
        let http = http.clone();
        let (url, id) = (format!("{}/oauth2/token", server.base), id.clone());
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", id.as_str()),
                    ("client_secret", secret.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = token_of(secret.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let ws_url = created["endpointsBaseUrl"].as_str().unwrap().to_string();
    let get = |k: String, t: String| {
        let http = http.clone();
        let url = ws_url.clone();
        async move {
            http.get(url)
                .header("Ocp-Apim-Subscription-Key", k)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(get(key.clone(), token.clone()).await, StatusCode::OK);
    let (ok, out, _) = output(
        &["service-accounts", "list", "--workspace", "Demo", "--json"],
        &extra,
    )
    .await;
    assert!(ok && out.contains("Nightly") && !out.contains(&secret));

    let (ok, out, err) = output(
        &[
            "service-accounts",
            "sample-python",
            "--workspace",
            "Demo",
            &id,
            "--public-url",
            &server.base,
        ],
        &extra,
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        out.contains(&id)
            && out.contains(&key)
            && !out.contains(&secret)
            && out.contains("import requests")
    );

    // A regenerate on the command line ends the running server's token within a second.
    let (ok, out, err) = output(
        &[
            "service-accounts",
            "regenerate-secret",
            "--workspace",
            "Demo",
            &id,
            "--json",
        ],
        &extra,
    )
    .await;
    assert!(ok, "{err}");
    let regenerated: serde_json::Value = serde_json::from_str(&out).unwrap();
    let secret2 = regenerated["serviceAccountSecret"]
        .as_str()
        .unwrap()
        .to_string();
    let started = std::time::Instant::now();
    while get(key.clone(), token.clone()).await == StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "revocation took more than a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(token_of(secret.clone()).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = token_of(secret2.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let token2 = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(get(key.clone(), token2.clone()).await, StatusCode::OK);

    let (ok, _, err) = output(
        &["service-accounts", "delete", "--workspace", "Demo", &id],
        &extra,
    )
    .await;
    assert!(ok, "{err}");
    let started = std::time::Instant::now();
    while get(key.clone(), token2.clone()).await == StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "deletion took more than a second to reach the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (ok, _, err) = output(
        &["service-accounts", "show", "--workspace", "Demo", &id],
        &extra,
    )
    .await;
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, _, err) = output(
        &[
            "service-accounts",
            "create",
            "--workspace",
            "Nope",
            "--name",
            "x",
            "--email",
            "a@b.org",
            "--access",
            "reader",
        ],
        &extra,
    )
    .await;
    assert!(!ok && err.contains("--workspace"), "{err}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(server.stop().await.success());

    let logs = std::fs::read(&log).unwrap();
    assert!(contains(&logs, "answered"), "the log was captured");
    let db = dump(&place).await;
    assert!(
        contains(&db, "Nightly"),
        "the dump holds the account's data"
    );
    for s in [&secret, &secret2, &key, &token, &token2] {
        assert!(!contains(&logs, s), "a secret is in the log");
        assert!(!contains(&db, s), "a secret is in the database");
    }
}
on_both_stores!(service_account_commands_reach_a_running_server_and_leave_no_secret_behind);

#[tokio::test]
async fn print_default_shows_every_key() {
    let (ok, out, _) = output(&["config", "print-default"], &[]).await;
    assert!(ok);
    for key in [
        "listen",
        "data_dir",
        "public_url",
        "database_url",
        "session_hours",
        "max_body_bytes",
        "log_format",
    ] {
        assert!(
            out.contains(&format!("{key} =")),
            "{key} missing from {out}"
        );
    }
}

#[tokio::test]
async fn flags_beat_the_environment_which_beats_the_file() {
    let dir = temp_dir();
    let file = dir.join("dwb.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:1\"\ndata_dir = \"{}\"\npublic_url = \"https://file.example\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let cfg = ["--config".to_string(), file.display().to_string()];
    let s = start(&cfg, &[("DWB_LISTEN", "127.0.0.1:0")]).await;
    assert!(
        s.stdout
            .iter()
            .any(|l| l.contains("public URL https://file.example")),
        "{:?}",
        s.stdout
    );
    s.stop().await;
    let mut args = cfg.to_vec();
    args.extend(["--public-url".into(), "https://flag.example".into()]);
    let s = start(
        &args,
        &[
            ("DWB_LISTEN", "127.0.0.1:0"),
            ("DWB_PUBLIC_URL", "https://env.example"),
        ],
    )
    .await;
    assert!(
        s.stdout
            .iter()
            .any(|l| l.contains("public URL https://flag.example")),
        "{:?}",
        s.stdout
    );
    s.stop().await;
    let s = start(
        &cfg,
        &[
            ("DWB_LISTEN", "127.0.0.1:0"),
            ("DWB_PUBLIC_URL", "https://env.example"),
        ],
    )
    .await;
    assert!(
        s.stdout
            .iter()
            .any(|l| l.contains("public URL https://env.example")),
        "{:?}",
        s.stdout
    );
    s.stop().await;
}

#[tokio::test]
async fn start_up_problems_are_explained() {
    let dir = temp_dir();
    let data = ["--data-dir".to_string(), dir.display().to_string()];
    let s = start(
        &[
            data[0].clone(),
            data[1].clone(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ],
        &[],
    )
    .await;
    let taken = s.base.trim_start_matches("http://").to_string();
    let (ok, _, err) = output(&["serve", "--listen", &taken], &data).await;
    assert!(!ok);
    assert!(
        err.contains(&format!("cannot listen on {taken}")) && err.contains("already in use"),
        "{err}"
    );
    s.stop().await;

    let (ok, _, err) = output(
        &[
            "admin",
            "list-workspaces",
            "--database-url",
            "postgres://postgres:hunter2@127.0.0.1:5432/dwb_no_such_db",
        ],
        &[],
    )
    .await;
    assert!(!ok);
    assert!(
        err.contains(
            "cannot open the database postgres://postgres:***@127.0.0.1:5432/dwb_no_such_db"
        ),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
    let (ok, _, err) = output(
        &["admin", "list-workspaces", "--database-url", "mysql://x"],
        &[],
    )
    .await;
    assert!(
        !ok && err.contains("must start with sqlite:// or postgres://"),
        "{err}"
    );
    let blocker = dir.join("file");
    std::fs::write(&blocker, "x").unwrap();
    let (ok, _, err) = output(
        &[
            "admin",
            "list-workspaces",
            "--data-dir",
            &blocker.join("sub").display().to_string(),
        ],
        &[],
    )
    .await;
    assert!(
        !ok && err.contains("cannot create the data directory"),
        "{err}"
    );
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "listen = 5").unwrap();
    let (ok, _, err) = output(&["serve", "--config", &bad.display().to_string()], &[]).await;
    assert!(!ok && err.contains("is not valid"), "{err}");
    let _ = Path::new(&dir);
}
