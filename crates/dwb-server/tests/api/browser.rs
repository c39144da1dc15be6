//! The portal driven in a real headless Chromium, by the labels a person sees.
//!
//! Each test starts its own `chromedriver` on a free port and a Chromium with
//! a fresh profile. Elements are found the way a person finds them: fields by
//! their label, buttons by their name, links by their text. A screenshot is
//! saved after each important step, and one when a step fails, in
//! `test-artifacts/screenshots/<test>-<backend>-<step>.png` at the workspace root.

// Setting up the browser may fail loudly: a test has nothing better to do.
#![allow(clippy::expect_used)]

use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dwb_store::Backend;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::on_both_stores;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
const INSTALL_HINT: &str = "run the README's test command, `scripts/test`, which installs \
     the Debian packages chromium and chromium-driver when they are missing";
/// How long a step may wait for the page to show what it expects.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);
pub(crate) const POLL: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

async fn a_person_signs_in_and_out(backend: Backend) {
    let app = spawn_app(backend).await;
    in_browser("a_person_signs_in_and_out", &app, |b| async move {
        b.goto("/").await;
        b.expect_heading("Sign in").await;
        b.shot("01-sign-in-page").await;

        b.fill_by_label("Email", ADMIN_EMAIL).await;
        b.fill_by_label("Password", "not the password").await;
        b.click_button("Sign in").await;
        b.expect_text("The email or password is not correct.").await;
        b.expect_heading("Sign in").await;
        let kept = b.value_by_label("Email").await;
        b.check(
            kept == ADMIN_EMAIL,
            &format!("the Email field keeps the typed address, not {kept:?}"),
        )
        .await;
        b.shot("02-wrong-password").await;

        b.fill_by_label("Password", ADMIN_PASSWORD).await;
        b.click_button("Sign in").await;
        b.expect_heading("Workspaces").await;
        b.expect_link("Demo").await;
        b.expect_text(ADMIN_EMAIL).await;
        b.shot("03-workspaces").await;

        b.click_button("Sign out").await;
        b.expect_heading("Sign in").await;
        b.shot("04-signed-out").await;

        // The session is gone: the workspaces page sends the person back to sign in.
        b.goto("/workspaces").await;
        b.expect_heading("Sign in").await;
    })
    .await;
}
on_both_stores!(a_person_signs_in_and_out);

async fn an_admin_manages_members_and_a_new_person_sets_their_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let test = "an_admin_manages_members_and_a_new_person_sets_their_password";
    in_browser(test, &app, |b| async move {
        b.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        b.click_link("Demo").await;
        b.expect_heading_starting("Demo").await;
        b.click_link("Members").await;
        b.expect_text("Add member").await;
        b.shot("01-members").await;

        b.fill_by_label("Email", "ann@example.org").await;
        b.choose_by_label("Role", "reader").await;
        b.click_button("Add member").await;
        b.expect_text("Added ann@example.org as reader.").await;
        b.expect_text("did not have an account").await;
        let one_time = b.value_by_label("One-time password").await;
        b.check(
            one_time.len() >= 10,
            &format!("the one-time password is shown, not {one_time:?}"),
        )
        .await;
        b.shot("02-member-added").await;

        b.choose_by_label("Role of ann@example.org", "admin").await;
        b.click_button_beside("Role of ann@example.org", "Change role")
            .await;
        b.expect_text("ann@example.org is now admin.").await;
        let role = b.selected_by_label("Role of ann@example.org").await;
        b.check(
            role == "admin",
            &format!("ann's row shows admin, not {role:?}"),
        )
        .await;
        b.shot("03-ann-is-admin").await;

        b.choose_by_label("Role of ann@example.org", "reader").await;
        b.click_button_beside("Role of ann@example.org", "Change role")
            .await;
        b.expect_text("ann@example.org is now reader.").await;

        let me = format!("Role of {ADMIN_EMAIL}");
        b.choose_by_label(&me, "reader").await;
        b.click_button_beside(&me, "Change role").await;
        b.expect_text("last admin").await;
        b.expect_text(&format!("{ADMIN_EMAIL} is the last admin of Demo"))
            .await;
        let role = b.selected_by_label(&me).await;
        b.check(
            role == "admin",
            &format!("the admin is still admin, not {role:?}"),
        )
        .await;
        b.shot("04-last-admin").await;

        b.click_button("Sign out").await;
        b.expect_heading("Sign in").await;
        b.sign_in_only("ann@example.org", &one_time).await;
        b.expect_heading("Change password").await;
        b.expect_text("You signed in with a one-time password.")
            .await;
        b.shot("05-must-change-password").await;

        // Until the password is changed, the workspaces stay closed.
        b.goto("/workspaces").await;
        b.expect_heading("Change password").await;

        let mine = "ann's own password 1";
        b.fill_by_label("Current password", &one_time).await;
        b.fill_by_label("New password", mine).await;
        b.fill_by_label("Repeat new password", mine).await;
        b.click_button("Change password").await;
        b.expect_text("Your password was changed.").await;
        b.shot("06-password-changed").await;

        b.click_link("Continue to your workspaces").await;
        b.expect_heading("Workspaces").await;
        b.expect_link("Demo").await;
        b.shot("07-ann-workspaces").await;
        b.click_link("Demo").await;
        b.expect_heading_starting("Demo").await;
        // A reader sees the members but cannot change them.
        b.expect_text("admin@example.org").await;
        b.expect_no_button("Add member").await;
        b.click_link("Activity").await;
        b.expect_text("Member added").await;
        b.expect_text("Member role changed").await;
        b.shot("08-activity").await;
    })
    .await;
}
on_both_stores!(an_admin_manages_members_and_a_new_person_sets_their_password);

async fn removing_a_member_asks_for_confirmation(backend: Backend) {
    let app = spawn_app(backend).await;
    in_browser(
        "removing_a_member_asks_for_confirmation",
        &app,
        |b| async move {
            b.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
            b.click_link("Demo").await;
            b.click_link("Members").await;
            b.fill_by_label("Email", "bob@example.org").await;
            b.choose_by_label("Role", "reader").await;
            b.click_button("Add member").await;
            b.expect_text("Added bob@example.org as reader.").await;
            b.expect_in_table("bob@example.org").await;
            b.shot("01-bob-added").await;

            b.click_button("Remove bob@example.org").await;
            b.expect_dialog("Remove bob@example.org from Demo?").await;
            b.answer_dialog(false).await;
            b.expect_in_table("bob@example.org").await;
            b.expect_no_text("Removed bob@example.org").await;
            b.shot("02-removal-cancelled").await;

            b.click_button("Remove bob@example.org").await;
            b.expect_dialog("Remove bob@example.org from Demo?").await;
            b.answer_dialog(true).await;
            b.expect_text("Removed bob@example.org from Demo.").await;
            b.expect_not_in_table("bob@example.org").await;
            b.expect_in_table(ADMIN_EMAIL).await;
            b.shot("03-bob-removed").await;
        },
    )
    .await;
}
on_both_stores!(removing_a_member_asks_for_confirmation);

// ---------------------------------------------------------------------------
// chromedriver and the browser session
// ---------------------------------------------------------------------------

/// A `chromedriver` child process with its own scratch directory; killed on drop.
pub(crate) struct Driver {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
}

impl Driver {
    pub(crate) async fn start() -> Driver {
        if !std::path::Path::new(CHROMIUM).exists() {
            panic!("Chromium is not installed at {CHROMIUM}: {INSTALL_HINT}.");
        }
        let dir = std::env::temp_dir().join(format!("dwb-browser-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("profile")).expect("a scratch directory for Chromium");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port for chromedriver")
            .port();
        let log =
            std::fs::File::create(dir.join("chromedriver.log")).expect("a chromedriver log file");
        let child = match Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file twice"))
            .stderr(log)
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                if e.kind() == std::io::ErrorKind::NotFound {
                    panic!("chromedriver is not installed (not found on PATH): {INSTALL_HINT}.")
                }
                panic!("chromedriver does not start ({e}): {INSTALL_HINT}.")
            }
        };
        let mut driver = Driver { child, port, dir };
        driver.wait_until_ready().await;
        driver
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) async fn wait_until_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited with {status} before answering: {}\n({INSTALL_HINT})",
                    self.log()
                );
            }
            let ready = match http.get(format!("{}/status", self.url())).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == json!(true)),
                Err(_) => false,
            };
            if ready {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "chromedriver did not answer within {PATIENCE:?}: {}",
                    self.log()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn capabilities(profile: &std::path::Path) -> serde_json::Map<String, Value> {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    match caps {
        Value::Object(map) => map,
        _ => unreachable!("capabilities are an object"),
    }
}

/// Runs `body` in a fresh headless Chromium pointed at `app`. When the body
/// panics, a screenshot of the page as it was is saved first; the browser
/// session is always closed.
pub(crate) async fn in_browser<F, Fut>(test: &str, app: &TestApp, body: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let driver = Driver::start().await;
    let client = ClientBuilder::native()
        .capabilities(capabilities(&driver.dir.join("profile")))
        .connect(&driver.url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Chromium does not start under chromedriver: {e}\n{}\n({INSTALL_HINT})",
                driver.log()
            )
        });
    let backend = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let shots = Arc::new(Shots::new(&format!("{test}-{backend}")));
    let browser = Browser {
        client: client.clone(),
        base: app.base.clone(),
        shots: shots.clone(),
    };
    let outcome = tokio::spawn(body(browser)).await;
    if outcome.is_err() {
        let after = shots.last_step();
        let path = shots.save(&client, "failed").await;
        eprintln!("the step after {after:?} failed; the page then: {path}");
    }
    let _ = client.close().await;
    drop(driver);
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the browser test did not finish: {e}"),
        }
    }
}

/// Where screenshots go, and which step was the last one saved.
pub(crate) struct Shots {
    pub(crate) dir: PathBuf,
    pub(crate) prefix: String,
    pub(crate) last: Mutex<String>,
}

impl Shots {
    pub(crate) fn new(prefix: &str) -> Shots {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest.ancestors().nth(2).unwrap_or(manifest);
        let dir = root.join("test-artifacts/screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        Shots {
            dir,
            prefix: prefix.to_string(),
            last: Mutex::new("the start".into()),
        }
    }

    pub(crate) fn last_step(&self) -> String {
        self.last.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Saves a PNG of the whole page as `<prefix>-<step>.png`; returns its path
    /// or why there is none. Never panics: it also runs after a failure.
    pub(crate) async fn save(&self, client: &Client, step: &str) -> String {
        if let Ok(mut last) = self.last.lock() {
            *last = step.to_string();
        }
        let path = self.dir.join(format!("{}-{step}.png", self.prefix));
        // Show the whole page: make the window taller by what does not fit.
        let hidden = client
            .execute(
                "return document.documentElement.scrollHeight - window.innerHeight;",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_i64())
            .and_then(|h| u32::try_from(h).ok())
            .filter(|h| *h > 0);
        let size = client.get_window_size().await.ok();
        let grown = match (hidden, size) {
            (Some(more), Some((w, h))) => {
                let (w, h) = (
                    u32::try_from(w).unwrap_or(1280),
                    u32::try_from(h).unwrap_or(900),
                );
                let _ = client.set_window_size(w, (h + more).min(6000)).await;
                Some((w, h))
            }
            _ => None,
        };
        let png = client.screenshot().await;
        if let Some((w, h)) = grown {
            let _ = client.set_window_size(w, h).await;
        }
        match png
            .map_err(|e| e.to_string())
            .and_then(|png| std::fs::write(&path, png).map_err(|e| e.to_string()))
        {
            Ok(()) => path.display().to_string(),
            Err(e) => format!("(no screenshot: {e})"),
        }
    }
}

// ---------------------------------------------------------------------------
// Acting like a person
// ---------------------------------------------------------------------------

/// The browser as a test step sees it. Every helper waits up to `PATIENCE`
/// for the page to show what it looks for, and fails with the page's text.
pub(crate) struct Browser {
    pub(crate) client: Client,
    pub(crate) base: String,
    pub(crate) shots: Arc<Shots>,
}

/// `s` as an XPath string literal, whatever quotes it holds.
pub(crate) fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// Buttons whose accessible name is `name`: their `aria-label`, or else their text.
pub(crate) fn button_xpath(name: &str) -> String {
    let n = xpath_literal(name);
    format!(
        "//button[@aria-label={n} or (not(@aria-label) and normalize-space()={n})] \
         | //input[(@type='submit' or @type='button') and (@aria-label={n} or @value={n})]"
    )
}

impl Browser {
    pub(crate) async fn shot(&self, step: &str) {
        self.shots.save(&self.client, step).await;
    }

    /// Why the test fails: `why`, the page's address and its visible text.
    pub(crate) async fn report(&self, why: &str) -> String {
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let text = self.page_text().await;
        format!(
            "{why}\n  at {url} (after step {:?})\n  the page says:\n{text}",
            self.shots.last_step()
        )
    }

    pub(crate) async fn check(&self, ok: bool, what: &str) {
        if !ok {
            panic!("{}", self.report(&format!("expected {what}")).await);
        }
    }

    pub(crate) async fn goto(&self, path: &str) {
        if let Err(e) = self.client.goto(&format!("{}{path}", self.base)).await {
            panic!("{}", self.report(&format!("cannot open {path}: {e}")).await);
        }
    }

    /// The visible text of the page.
    pub(crate) async fn page_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The one element matching `xpath`, waiting for it to appear.
    pub(crate) async fn the_one(&self, xpath: &str, what: &str) -> Element {
        self.the_one_found(what, || async {
            self.client
                .find_all(Locator::XPath(xpath))
                .await
                .unwrap_or_default()
        })
        .await
    }

    /// The one element `find` finds, asking again until it finds one.
    pub(crate) async fn the_one_found<F, Fut>(&self, what: &str, find: F) -> Element
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Vec<Element>>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut found = find().await;
            match found.len() {
                1 => return found.remove(0),
                0 if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                0 => panic!("{}", self.report(&format!("there is no {what}")).await),
                n => panic!(
                    "{}",
                    self.report(&format!("{what} is ambiguous: {n} match"))
                        .await
                ),
            }
        }
    }

    /// The form field that the label reading `label` is bound to, waiting
    /// for it. Label and field are looked up together on every try: a label
    /// found while a submitted form's answer is still loading goes stale,
    /// and its `for` then reads as empty.
    pub(crate) async fn field_by_label(&self, label: &str) -> Element {
        let xpath = format!("//label[normalize-space()={}]", xpath_literal(label));
        let what = format!("field bound to the label {label:?} (by its `for`)");
        self.the_one_found(&what, || async {
            let labels = self
                .client
                .find_all(Locator::XPath(&xpath))
                .await
                .unwrap_or_default();
            let mut fields = Vec::new();
            for l in labels {
                let id = l.attr("for").await.ok().flatten().unwrap_or_default();
                if id.is_empty() {
                    continue;
                }
                if let Ok(field) = self.client.find(Locator::Id(&id)).await {
                    fields.push(field);
                }
            }
            fields
        })
        .await
    }

    pub(crate) async fn fill_by_label(&self, label: &str, value: &str) {
        let field = self.field_by_label(label).await;
        let typed = async {
            field.clear().await?;
            field.send_keys(value).await
        };
        if let Err(e) = typed.await {
            panic!(
                "{}",
                self.report(&format!("cannot type into {label:?}: {e}"))
                    .await
            );
        }
    }

    pub(crate) async fn value_by_label(&self, label: &str) -> String {
        let field = self.field_by_label(label).await;
        field.prop("value").await.ok().flatten().unwrap_or_default()
    }

    /// Chooses the option reading `option` in the select labelled `label`.
    pub(crate) async fn choose_by_label(&self, label: &str, option: &str) {
        let select = self.field_by_label(label).await;
        let xpath = format!(".//option[normalize-space()={}]", xpath_literal(option));
        if let Err(e) = select.select_by(Locator::XPath(&xpath)).await {
            panic!(
                "{}",
                self.report(&format!("cannot choose {option:?} in {label:?}: {e}"))
                    .await
            );
        }
        let chosen = self.selected_by_label(label).await;
        self.check(
            chosen == option,
            &format!("{label:?} to show {option:?}, not {chosen:?}"),
        )
        .await;
    }

    /// The text of the option chosen in the select labelled `label`.
    pub(crate) async fn selected_by_label(&self, label: &str) -> String {
        let select = self.field_by_label(label).await;
        let chosen = self
            .client
            .execute(
                "return arguments[0].selectedOptions[0].textContent.trim();",
                vec![serde_json::to_value(&select).unwrap_or(Value::Null)],
            )
            .await;
        match chosen {
            Ok(Value::String(s)) => s,
            other => {
                panic!(
                    "{}",
                    self.report(&format!("cannot read the choice in {label:?}: {other:?}"))
                        .await
                )
            }
        }
    }

    pub(crate) async fn click(&self, element: Element, what: &str) {
        if let Err(e) = element.click().await {
            panic!(
                "{}",
                self.report(&format!("cannot click {what}: {e}")).await
            );
        }
    }

    /// Clicks the button named `name` (its text, or its `aria-label`).
    pub(crate) async fn click_button(&self, name: &str) {
        let what = format!("button {name:?}");
        let b = self.the_one(&button_xpath(name), &what).await;
        self.click(b, &what).await;
    }

    /// Clicks the button named `name` in the same form as the field labelled `label`.
    pub(crate) async fn click_button_beside(&self, label: &str, name: &str) {
        let field = self.field_by_label(label).await;
        let what = format!("button {name:?} beside {label:?}");
        let n = xpath_literal(name);
        let xpath =
            format!("./ancestor::form[1]//button[normalize-space()={n} or @aria-label={n}]");
        match field.find(Locator::XPath(&xpath)).await {
            Ok(b) => self.click(b, &what).await,
            Err(_) => panic!("{}", self.report(&format!("there is no {what}")).await),
        }
    }

    pub(crate) async fn click_link(&self, text: &str) {
        let what = format!("link {text:?}");
        let xpath = format!("//a[normalize-space()={}]", xpath_literal(text));
        let a = self.the_one(&xpath, &what).await;
        self.click(a, &what).await;
    }

    pub(crate) async fn expect_link(&self, text: &str) {
        let xpath = format!("//a[normalize-space()={}]", xpath_literal(text));
        self.the_one(&xpath, &format!("link {text:?}")).await;
    }

    pub(crate) async fn expect_no_button(&self, name: &str) {
        let found = self
            .client
            .find_all(Locator::XPath(&button_xpath(name)))
            .await
            .unwrap_or_default();
        if !found.is_empty() {
            panic!(
                "{}",
                self.report(&format!("expected no button {name:?}")).await
            );
        }
    }

    /// Waits until the page's main heading reads `text`.
    pub(crate) async fn expect_heading(&self, text: &str) {
        let xpath = format!("//h1[normalize-space()={}]", xpath_literal(text));
        self.the_one(&xpath, &format!("heading {text:?}")).await;
    }

    /// Waits until the page's main heading starts with `text` (it may carry a badge).
    pub(crate) async fn expect_heading_starting(&self, text: &str) {
        let xpath = format!(
            "//h1[starts-with(normalize-space(), {})]",
            xpath_literal(text)
        );
        self.the_one(&xpath, &format!("heading starting with {text:?}"))
            .await;
    }

    /// Waits until the page's text contains `text`.
    pub(crate) async fn expect_text(&self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.page_text().await.contains(text) {
            if Instant::now() > deadline {
                panic!(
                    "{}",
                    self.report(&format!("expected the page to say {text:?}"))
                        .await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(crate) async fn expect_no_text(&self, text: &str) {
        if self.page_text().await.contains(text) {
            panic!(
                "{}",
                self.report(&format!("expected the page not to say {text:?}"))
                    .await
            );
        }
    }

    pub(crate) async fn table_text(&self) -> String {
        let table = self.the_one("//table", "table").await;
        table.text().await.unwrap_or_default()
    }

    pub(crate) async fn expect_in_table(&self, text: &str) {
        if !self.table_text().await.contains(text) {
            panic!(
                "{}",
                self.report(&format!("expected {text:?} in the table"))
                    .await
            );
        }
    }

    pub(crate) async fn expect_not_in_table(&self, text: &str) {
        if self.table_text().await.contains(text) {
            panic!(
                "{}",
                self.report(&format!("expected {text:?} no longer in the table"))
                    .await
            );
        }
    }

    /// Waits for a JavaScript dialog saying `text`.
    pub(crate) async fn expect_dialog(&self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.client.get_alert_text().await {
                Ok(shown) if shown == text => return,
                Ok(shown) => {
                    panic!(
                        "{}",
                        self.report(&format!("expected a dialog saying {text:?}, not {shown:?}"))
                            .await
                    )
                }
                Err(_) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                Err(e) => {
                    panic!(
                        "{}",
                        self.report(&format!("expected a dialog saying {text:?}: {e}"))
                            .await
                    )
                }
            }
        }
    }

    /// Clicks OK (`true`) or Cancel (`false`) in the open dialog.
    pub(crate) async fn answer_dialog(&self, ok: bool) {
        let done = if ok {
            self.client.accept_alert().await
        } else {
            self.client.dismiss_alert().await
        };
        if let Err(e) = done {
            panic!(
                "{}",
                self.report(&format!("cannot answer the dialog: {e}")).await
            );
        }
    }

    /// Fills and sends the sign-in form.
    pub(crate) async fn sign_in_only(&self, email: &str, password: &str) {
        self.expect_heading("Sign in").await;
        self.fill_by_label("Email", email).await;
        self.fill_by_label("Password", password).await;
        self.click_button("Sign in").await;
    }

    /// Opens the portal and signs in; the workspaces page must follow.
    pub(crate) async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/").await;
        self.sign_in_only(email, password).await;
        self.expect_heading("Workspaces").await;
    }
}
