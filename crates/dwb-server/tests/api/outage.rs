//! The store goes away while dwb runs and comes back: PostgreSQL stopped
//! (connections closed, new ones refused) and a network partition (a black
//! hole: connections stay open, nothing answers). A small TCP proxy between
//! dwb and PostgreSQL plays both, so the machine's PostgreSQL never stops.
//! Every answer must come within a bound, as a 503 with `Retry-After`, and
//! dwb must recover by itself.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dwb_core::access::{Access, Level};
use dwb_core::paging::Page;
use dwb_core::Clock;
use dwb_server::ledger::Actor;
use dwb_server::service_accounts::Ops;
use dwb_store::testdb::fresh_database;
use dwb_store::{Backend, Store};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use uuid::Uuid;

use crate::accounts::{account, token, Creds, HOSTED_RESOURCE};
use crate::helpers::{spawn_app, spawn_app_on, Options, Portal, TestApp};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD};

/// What the issue asks: an answer within 10 s. Asserted with room to spare
/// so that a loaded machine cannot make the test flaky; times are printed.
const BOUND: Duration = Duration::from_secs(15);
/// `/readyz` must say it within about 3 s (it gives the store 2 s).
const READYZ_BOUND: Duration = Duration::from_secs(4);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    /// PostgreSQL stopped: open connections closed, new ones refused.
    Down,
    /// A partition: connections accepted and held, no byte goes through.
    BlackHole,
}

/// A TCP proxy in front of PostgreSQL whose link the test switches.
struct Proxy {
    addr: SocketAddr,
    link: watch::Sender<Link>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (link, rx) = watch::channel(Link::Up);
        tokio::spawn(listen(listener, addr, target, rx));
        Self { addr, link }
    }

    fn set(&self, link: Link) {
        println!("-- link {link:?}");
        self.link.send_replace(link);
    }
}

async fn listen(
    first: TcpListener,
    addr: SocketAddr,
    target: String,
    mut link: watch::Receiver<Link>,
) {
    let mut listener = Some(first);
    loop {
        let Some(l) = listener.as_ref() else {
            // Down: nothing listens on the port, so connecting is refused.
            if link.wait_for(|m| *m != Link::Down).await.is_err() {
                return;
            }
            listener = Some(rebind(addr).await);
            continue;
        };
        let for_conn = link.clone();
        let down = tokio::select! {
            accepted = l.accept() => {
                if let Ok((client, _)) = accepted {
                    tokio::spawn(serve(client, target.clone(), for_conn));
                }
                false
            }
            changed = link.wait_for(|m| *m == Link::Down) => changed.is_ok(),
        };
        if down {
            listener = None;
        }
    }
}

async fn rebind(addr: SocketAddr) -> TcpListener {
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Forwards while the link is up; a black hole stops forwarding but keeps
/// the connection open until the link changes again; then, or when the link
/// goes down, the connection is closed (as a restarted server would).
async fn serve(mut client: TcpStream, target: String, mut link: watch::Receiver<Link>) {
    let now = *link.borrow();
    if now == Link::Up {
        let Ok(mut server) = TcpStream::connect(&target).await else {
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = link.wait_for(|m| *m != Link::Up) => {}
        }
        hold(&mut link).await;
        drop(server);
    } else {
        hold(&mut link).await;
    }
}

async fn hold(link: &mut watch::Receiver<Link>) {
    let now = *link.borrow();
    if now == Link::BlackHole {
        let _ = link.wait_for(|m| *m != Link::BlackHole).await;
    }
}

/// One HTTP answer, with what an outage test looks at.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `req`, failing the test if no answer comes within 30 s, and
/// asserting (and printing) that it came within `bound`.
async fn timed(what: &str, bound: Duration, req: RequestBuilder) -> (Answer, Duration) {
    let started = Instant::now();
    let answer = within(what, async {
        let r = req.send().await.unwrap();
        let status = r.status();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body = r.text().await.unwrap();
        Answer {
            status,
            retry_after,
            body,
        }
    })
    .await;
    let took = started.elapsed();
    println!("   {what}: {} in {took:.2?}", answer.status);
    assert!(took <= bound, "{what} took {took:?} (bound {bound:?})");
    assert_ne!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{what}: {}",
        answer.body
    );
    (answer, took)
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 30 s"))
}

fn assert_unavailable(what: &str, a: &Answer) {
    assert_eq!(
        a.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        a.body
    );
    assert_eq!(a.retry_after.as_deref(), Some("5"), "{what}: Retry-After");
}

fn api(app: &TestApp, method: &str, path: &str, c: &Creds, token: &str) -> RequestBuilder {
    reqwest::Client::new()
        .request(method.parse().unwrap(), app.url(&format!("/api/v2{path}")))
        .header("Ocp-Apim-Subscription-Key", &c.key)
        .bearer_auth(token)
}

fn token_request(app: &TestApp, c: &Creds) -> RequestBuilder {
    reqwest::Client::new()
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.id.to_string()),
            ("client_secret", &c.secret),
            ("resource", HOSTED_RESOURCE),
        ])
}

fn page(p: &Portal, path: &str) -> RequestBuilder {
    p.client.get(format!("{}{path}", p.base))
}

fn readyz(app: &TestApp) -> RequestBuilder {
    reqwest::Client::new().get(app.url("/readyz"))
}

/// Who calls during the test.
struct Callers {
    /// A workspace admin account with a token the gateway has cached.
    admin: Creds,
    admin_token: String,
    /// A signed-in portal admin.
    portal: Portal,
}

/// While the store cannot be reached: every kind of request answers 503
/// with a clear message and `Retry-After`, within the bound.
async fn everything_answers_unavailable(app: &TestApp, who: &Callers, fresh: &Creds) {
    let ws = app.demo.id;
    // First, while the gateway still trusts its cached account (the first
    // 2 s): the call passes the gateway, fails in the handler, and is an
    // API call event to be written after recovery.

    let (r, _) = timed(
        "GET datasets (needs the store)",
        BOUND,
        api(
            app,
            "GET",
            &format!("/workspaces/{ws}/datasets"),
            &who.admin,
            &who.admin_token,
        ),
    )
    .await;
    assert_unavailable("API", &r);
    assert_eq!(r.json()["statusCode"], 503, "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("unavailable; try again shortly"),
        "{}",
        r.body
    );

    let (r, _) = timed("/readyz", READYZ_BOUND, readyz(app)).await;
    assert_unavailable("/readyz", &r);
    let reason = r.json()["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("control store"), "{}", r.body);

    let (r, _) = timed(
        "POST /oauth2/token, account not cached",
        BOUND,
        token_request(app, fresh),
    )
    .await;
    assert_unavailable("token", &r);
    assert_eq!(r.json()["error"], "temporarily_unavailable", "{}", r.body);

    let (r, _) = timed(
        "portal /workspaces",
        BOUND,
        page(&who.portal, "/workspaces"),
    )
    .await;
    assert_unavailable("portal", &r);
    assert!(r.body.contains("cannot reach its database"), "{}", r.body);

    // The checks above took longer than the account cache is trusted
    // without a successful read of the credential change log: a cached
    // account or token is not served either, so no revocation made
    // elsewhere meanwhile can be missed (see docs/outages.md).
    let (r, _) = timed(
        "GET workspace, cached account and workspace",
        BOUND,
        api(
            app,
            "GET",
            &format!("/workspaces/{ws}"),
            &who.admin,
            &who.admin_token,
        ),
    )
    .await;
    assert_unavailable("GET workspace, cached account", &r);
    let (r, _) = timed(
        "POST /oauth2/token, account cached",
        BOUND,
        token_request(app, &who.admin),
    )
    .await;
    assert_unavailable("token, cached account", &r);
}

/// After the link is back: ready within seconds, and the same calls succeed.
async fn everything_recovers(app: &TestApp, who: &Callers, fresh: &Creds) {
    let ws = app.demo.id;
    let started = Instant::now();
    loop {
        let (r, _) = timed("/readyz (recovering)", READYZ_BOUND, readyz(app)).await;
        if r.status == StatusCode::OK {
            break;
        }
        assert!(started.elapsed() < BOUND, "not ready again: {}", r.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("   ready again after {:.2?}", started.elapsed());
    let (r, _) = timed(
        "GET datasets",
        BOUND,
        api(
            app,
            "GET",
            &format!("/workspaces/{ws}/datasets"),
            &who.admin,
            &who.admin_token,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (r, _) = timed(
        "GET workspace",
        BOUND,
        api(
            app,
            "GET",
            &format!("/workspaces/{ws}"),
            &who.admin,
            &who.admin_token,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (r, _) = timed("POST /oauth2/token", BOUND, token_request(app, fresh)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (r, _) = timed(
        "portal /workspaces",
        BOUND,
        page(&who.portal, "/workspaces"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// The API calls answered during the outage were kept in memory and reach
/// the ledger once the store is back.
async fn outage_calls_reach_the_ledger(app: &TestApp) {
    let started = Instant::now();
    loop {
        let (events, _) = app
            .store
            .workspace_events(
                app.demo.id,
                Page {
                    index: 1,
                    size: 500,
                },
            )
            .await
            .unwrap();
        let answered_503 = events
            .iter()
            .filter(|e| e.action == "ApiCall" && e.detail["status"] == 503)
            .count();
        if answered_503 > 0 && app.state.usage.pending() == 0 {
            println!(
                "   ledger: {answered_503} API calls answered 503, written {:.2?} after recovery",
                started.elapsed()
            );
            return;
        }
        assert!(
            started.elapsed() < BOUND,
            "the calls made during the outage are missing ({} pending)",
            app.state.usage.pending()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fresh_account(app: &TestApp) -> Creds {
    account(app, app.demo.id, Access::Workspace(Level::Reader)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_outage_answers_503_quickly_and_dwb_recovers_by_itself() {
    let direct = fresh_database(Backend::Postgres)
        .await
        .expect("a fresh database");
    let mut url = reqwest::Url::parse(&direct).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    let app = spawn_app_on(Backend::Postgres, Options::default(), url.to_string()).await;
    let ws = app.demo.id;

    // With the store up, an account gets a token and calls the API.
    let admin = account(&app, ws, Access::Workspace(Level::Admin)).await;
    let admin_token = token(&app, &admin).await;
    let portal = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let who = Callers {
        admin,
        admin_token,
        portal,
    };
    let (r, _) = timed(
        "GET workspace",
        BOUND,
        api(
            &app,
            "GET",
            &format!("/workspaces/{ws}"),
            &who.admin,
            &who.admin_token,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // PostgreSQL stops.
    let fresh = fresh_account(&app).await;
    proxy.set(Link::Down);
    everything_answers_unavailable(&app, &who, &fresh).await;
    proxy.set(Link::Up);
    everything_recovers(&app, &who, &fresh).await;
    outage_calls_reach_the_ledger(&app).await;

    // A partition: a request already waiting on PostgreSQL when it starts
    // (held by a row lock taken outside dwb) never hears back; only the
    // store's deadline ends it.
    let fresh = fresh_account(&app).await;
    let victim = fresh_account(&app).await;
    let lock = hold_row_lock(&direct, victim.id, 4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let patch = {
        let req = api(
            &app,
            "PATCH",
            &format!("/workspaces/{ws}/serviceaccounts/{}", victim.id),
            &who.admin,
            &who.admin_token,
        )
        .json(&json!({"name": "renamed in a partition"}));
        tokio::spawn(
            async move { timed("PATCH in flight when the partition starts", BOUND, req).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.set(Link::BlackHole);
    let (r, took) = within("PATCH", patch).await.unwrap();
    assert_unavailable("PATCH in flight", &r);
    assert!(
        took >= Duration::from_secs(3),
        "it did wait on the lock: {took:?}"
    );
    if let Some(mut lock) = lock {
        let _ = lock.wait().await;
    }
    everything_answers_unavailable(&app, &who, &fresh).await;
    proxy.set(Link::Up);
    everything_recovers(&app, &who, &fresh).await;
    let (r, _) = timed(
        "PATCH after recovery",
        BOUND,
        api(
            &app,
            "PATCH",
            &format!("/workspaces/{ws}/serviceaccounts/{}", victim.id),
            &who.admin,
            &who.admin_token,
        )
        .json(&json!({"name": "renamed after"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    outage_calls_reach_the_ledger(&app).await;

    // The credential-change poll survived both outages: a regenerated
    // secret still ends the old token within a second or so.
    let demo = app.store.workspace(ws).await.unwrap().unwrap();
    let ops = Ops {
        store: app.store.as_ref(),
        master: &app.master,
        now: app.clock.now(),
    };
    ops.regenerate(&Actor::system(), &demo, who.admin.id)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let (r, _) = timed(
            "GET workspace with a revoked token",
            BOUND,
            api(
                &app,
                "GET",
                &format!("/workspaces/{ws}"),
                &who.admin,
                &who.admin_token,
            ),
        )
        .await;
        if r.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "revocation missed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("   revocation seen after {:.2?}", started.elapsed());
}

/// Holds a row lock on service account `id` for `secs` seconds through
/// `psql`, straight on PostgreSQL; `None` (and the check is weaker) when
/// `psql` is not installed.
fn hold_row_lock(url: &str, id: Uuid, secs: u64) -> Option<tokio::process::Child> {
    let sql = format!(
        "BEGIN; SELECT id FROM service_accounts WHERE id = '{id}' FOR UPDATE; \
         SELECT pg_sleep({secs}); ROLLBACK;"
    );
    match tokio::process::Command::new("psql")
        .args([url, "-q", "-c", &sql])
        .stdout(std::process::Stdio::null())
        .spawn()
    {
        Ok(child) => Some(child),
        Err(e) => {
            println!("   psql not available ({e}): the in-flight case is not held by a lock");
            None
        }
    }
}

/// SQLite has no outage to speak of, but a store error there is a 503 too
/// (here: the pool closed under the server).
#[tokio::test]
async fn a_store_error_on_sqlite_is_a_503_not_a_500() {
    let app = spawn_app(Backend::Sqlite).await;
    let ws = app.demo.id;
    let admin = account(&app, ws, Access::Workspace(Level::Admin)).await;
    let admin_token = token(&app, &admin).await;
    let fresh = fresh_account(&app).await;
    let portal = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.store.close().await;
    let (r, _) = timed(
        "GET datasets",
        BOUND,
        api(
            &app,
            "GET",
            &format!("/workspaces/{ws}/datasets"),
            &admin,
            &admin_token,
        ),
    )
    .await;
    assert_unavailable("API", &r);
    let (r, _) = timed("POST /oauth2/token", BOUND, token_request(&app, &fresh)).await;
    assert_unavailable("token", &r);
    let (r, _) = timed("portal /workspaces", BOUND, page(&portal, "/workspaces")).await;
    assert_unavailable("portal", &r);
    let (r, _) = timed("/readyz", READYZ_BOUND, readyz(&app)).await;
    assert_unavailable("/readyz", &r);
}
