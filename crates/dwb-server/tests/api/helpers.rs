//! `spawn_app`: the real application on port 0 with a fresh database, and a
//! portal client that signs in and posts forms with the session's CSRF token.

use std::net::SocketAddr;
use std::sync::Arc;

use dwb_core::crypto::MasterKey;
use dwb_core::password::hash_password;
use dwb_core::validate::Role;
use dwb_core::{Clock, ManualClock, SystemClock};
use dwb_server::app::build_router;
use dwb_server::bootstrap::first_start;
use dwb_server::config::Config;
use dwb_server::serve::run;
use dwb_server::state::{AppState, Settings};
use dwb_store::testdb::fresh_database;
use dwb_store::{Backend, MemberTarget, NewUser, SqlStore, Store, Workspace};
use reqwest::StatusCode;
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@example.org";
pub const ADMIN_PASSWORD: &str = "admin password 1";

pub struct TestApp {
    pub base: String,
    pub backend: Backend,
    pub database_url: String,
    pub store: Arc<SqlStore>,
    pub clock: Arc<ManualClock>,
    pub demo: Workspace,
    pub master: MasterKey,
    pub lake_dir: std::path::PathBuf,
    /// The server's own state, for calling its operations directly.
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Options for `spawn_app_with`.
#[derive(Default)]
pub struct Options {
    pub public_url: Option<String>,
}

/// A second node on the same database as `first`, with the same master key.
pub async fn spawn_second_node(first: &TestApp) -> TestApp {
    let store = Arc::new(
        SqlStore::connect(&first.database_url)
            .await
            .expect("store opens"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let cfg = Config {
        public_url: Some(first.base.clone()),
        ..Config::default()
    };
    let lake = dwb_lake::Lake::open(&first.lake_dir.display().to_string()).expect("lake opens");
    let state = AppState::build(
        store.clone(),
        first.clock.clone(),
        Settings::new(&cfg, addr),
        first.master.clone(),
        lake,
    )
    .await
    .expect("state builds");
    state.spawn_background();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(run(listener, build_router(state.clone()), async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        lake_dir: first.lake_dir.clone(),
        backend: first.backend,
        database_url: first.database_url.clone(),
        store,
        clock: first.clock.clone(),
        demo: first.demo.clone(),
        master: first.master.clone(),
        state,
        shutdown: Some(tx),
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Options) -> TestApp {
    let database_url = fresh_database(backend).await.expect("a fresh database");
    spawn_app_on(backend, options, database_url).await
}

/// The application on `database_url`, an empty database of `backend` (e.g.
/// a fresh one reached through a test proxy).
pub async fn spawn_app_on(backend: Backend, options: Options, database_url: String) -> TestApp {
    let store = Arc::new(SqlStore::connect(&database_url).await.expect("store opens"));
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    first_start(
        store.as_ref(),
        clock.as_ref(),
        Some(ADMIN_EMAIL),
        Some(ADMIN_PASSWORD),
    )
    .await
    .expect("first start");
    let tenant = store.default_tenant().await.unwrap().unwrap();
    let demo = store
        .workspace_by_name(tenant.id, "Demo")
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let cfg = Config {
        public_url: options.public_url,
        ..Config::default()
    };
    let master = MasterKey::generate();
    let lake_dir = std::env::temp_dir()
        .join("dwb-tests")
        .join(format!("lake-{}", Uuid::new_v4().simple()));
    let lake = dwb_lake::Lake::open(&lake_dir.display().to_string()).expect("lake opens");
    let state = AppState::build(
        store.clone(),
        clock.clone(),
        Settings::new(&cfg, addr),
        master.clone(),
        lake,
    )
    .await
    .expect("state builds");
    state.spawn_background();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(run(listener, build_router(state.clone()), async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        lake_dir,
        backend,
        database_url,
        store,
        clock,
        demo,
        master,
        state,
        shutdown: Some(tx),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A person in the default tenant with a known password (no change required).
    pub async fn person(&self, email: &str, password: &str, tenant_admin: bool) -> Uuid {
        let tenant = self.store.default_tenant().await.unwrap().unwrap();
        let id = Uuid::new_v4();
        let user = NewUser {
            id,
            tenant_id: tenant.id,
            email: email.into(),
            name: String::new(),
            password_hash: hash_password(password),
            tenant_admin,
            must_change_password: false,
            now: self.clock.now(),
        };
        self.store
            .create_user(
                user,
                dwb_server::ledger::system_event(
                    tenant.id,
                    None,
                    self.clock.now(),
                    "UserCreated",
                    "user",
                    id.to_string(),
                    email,
                ),
            )
            .await
            .unwrap();
        id
    }

    /// Adds `user` to `ws` with `role`, straight in the store.
    pub async fn add_member(&self, ws: Uuid, user: Uuid, role: Role) {
        let tenant = self.store.default_tenant().await.unwrap().unwrap();
        let e = dwb_server::ledger::system_event(
            tenant.id,
            Some(ws),
            self.clock.now(),
            "MemberAdded",
            "member",
            user.to_string(),
            "x",
        );
        self.store
            .add_member(ws, MemberTarget::Existing(user), role, self.clock.now(), e)
            .await
            .unwrap();
    }

    /// A browser-like client with no session yet.
    pub fn portal(&self) -> Portal {
        Portal {
            base: self.base.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            csrf: String::new(),
        }
    }

    /// A client signed in as `email`; panics when signing in fails.
    pub async fn signed_in(&self, email: &str, password: &str) -> Portal {
        let mut p = self.portal();
        let (status, body) = p.sign_in(email, password).await;
        assert_eq!(status, StatusCode::OK, "sign-in of {email} failed: {body}");
        p
    }
}

/// The value of the first `name="csrf"` hidden field in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &html[i..];
    Some(rest[..rest.find('"')?].to_string())
}

/// A portal client keeping cookies like a browser.
pub struct Portal {
    pub base: String,
    pub client: reqwest::Client,
    pub csrf: String,
}

impl Portal {
    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        if let Some(c) = csrf_in(&body) {
            self.csrf = c;
        }
        (status, body)
    }

    /// Posts a form with the session's CSRF token added.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        all.push(("csrf", &csrf));
        self.post_raw(path, &all).await
    }

    /// Posts exactly `fields`.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        if let Some(c) = csrf_in(&body) {
            self.csrf = c;
        }
        (status, body)
    }

    /// Opens the sign-in page and signs in; returns the final page.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> (StatusCode, String) {
        let (status, _) = self.get("/").await;
        assert_eq!(status, StatusCode::OK);
        self.post("/signin", &[("email", email), ("password", password)])
            .await
    }
}

/// Runs a test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_stores {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name(dwb_store::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name(dwb_store::Backend::Postgres).await;
            }
        }
    };
}
