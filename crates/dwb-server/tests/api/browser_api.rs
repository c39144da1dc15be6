//! The API management tab in a real headless Chromium, following the seed
//! (`api-management.md`) step by step, by the words a person sees: create
//! both kinds of service account, copy, edit, share data sets, change the
//! level, regenerate, remove through the pop-up, download the Python script
//! and run it, and an axe-core accessibility check of the tab's pages.
//! Screenshots go to `test-artifacts/screenshots/api-<step>-<backend>.png`.

// Setting up the browser may fail loudly: a test has nothing better to do.
#![allow(clippy::expect_used)]

use std::future::Future;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dwb_store::Backend;
use fantoccini::elements::Element;
use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::browser::{capabilities, xpath_literal, Browser, Driver, Shots, PATIENCE, POLL};
use crate::helpers::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::on_both_stores;

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// Seed steps: add an account (with invalid input first), copy, the endpoints
/// base URL, edit name and email, regenerate the secret, remove via the pop-up;
/// and the tab at 390 px wide.
async fn api_tab_adds_edits_regenerates_and_removes_an_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.demo.id;
    in_api_browser("adds_edits_removes", &app, move |t| async move {
        t.open_api_tab().await;
        t.expect_text("No service accounts yet").await;
        t.shot("01-empty").await;
        t.click_link_in(MAIN_PANEL, "Add account").await;
        t.expect_panel_heading("Add account").await;
        t.shot("02-add-form").await;

        // Invalid input: the messages stand next to their fields, typed values stay.
        t.fill_by_label("Account name", "").await;
        t.fill_by_label("Contact email", "not-an-email").await;
        t.choose_radio("Grant all workspace data").await;
        t.check(
            t.displayed_by_label("Workspace access level").await,
            "\"Workspace access level\" to appear once \"Grant all workspace data\" is chosen",
        )
        .await;
        t.click_button("Create service account").await;
        t.expect_error_after("Account name", "Account name is required.")
            .await;
        t.expect_error_after("Contact email", "Contact email must be an email address")
            .await;
        t.expect_error_in_fieldset(
            "Workspace access level",
            "Workspace access level is required: choose Reader or Admin.",
        )
        .await;
        let kept = t.value_by_label("Contact email").await;
        t.check(
            kept == "not-an-email",
            &format!("the typed contact email to be kept, not {kept:?}"),
        )
        .await;
        t.check(
            t.radio_checked("Grant all workspace data").await,
            "the chosen access to be kept",
        )
        .await;
        t.shot("03-add-errors").await;

        t.fill_by_label("Account name", "Reporting").await;
        t.fill_by_label("Contact email", "ops@example.org").await;
        t.choose_by_label("Workspace access level", "Reader").await;
        t.click_button("Create service account").await;
        t.expect_panel_heading("Service account Reporting created")
            .await;
        t.expect_text("shown only this once").await;
        for row in ["Service account ID", "Service account secret", "API key"] {
            t.row_control(row, "Copy").await;
        }
        let secret = t.value_by_label("Service account secret").await;
        t.check(
            secret.starts_with("dwbs_"),
            &format!("the secret to be shown, not {secret:?}"),
        )
        .await;
        t.click_row("Service account secret", "Copy").await;
        t.expect_row_control("Service account secret", "Copied")
            .await;
        let pasted = t.clipboard().await;
        t.check(
            pasted.as_deref() == Some(secret.as_str()),
            &format!("the clipboard to hold the secret, not {pasted:?}"),
        )
        .await;
        t.shot("04-created").await;

        // Select the account under "Service accounts" in the left sidebar.
        t.click_link_in(SIDEBAR, "Reporting").await;
        t.expect_panel_heading("Reporting").await;
        t.expect_text("Endpoints base URL").await;
        t.click_row("Endpoints base URL", "Copy").await;
        t.expect_row_control("Endpoints base URL", "Copied").await;
        let base_url = format!("{}/api/v2/workspaces/{ws}", t.base);
        let pasted = t.clipboard().await;
        t.check(
            pasted.as_deref() == Some(base_url.as_str()),
            &format!("the clipboard to hold {base_url:?}, not {pasted:?}"),
        )
        .await;
        // The API key is hidden until "Show".
        let page = t.client.source().await.unwrap_or_default();
        t.check(!page.contains("dwbk_"), "the API key hidden until Show")
            .await;
        t.click_row("API key", "Show").await;
        t.row_control("API key", "Copy").await;
        let key = t.value_by_label("API key").await;
        t.check(
            key.starts_with("dwbk_"),
            &format!("the API key shown after Show, not {key:?}"),
        )
        .await;
        t.row_control("API key", "Copy").await;
        t.shot("05-account").await;

        // Edit the name and the email; the same validation applies.
        t.fill_by_label("Account name", "Reports").await;
        t.fill_by_label("Contact email", "bad").await;
        t.click_button_beside("Account name", "Save").await;
        t.expect_error_after("Contact email", "Contact email must be an email address")
            .await;
        let kept = t.value_by_label("Account name").await;
        t.check(
            kept == "Reports",
            &format!("the typed name kept, not {kept:?}"),
        )
        .await;
        t.fill_by_label("Contact email", "team@example.org").await;
        t.click_button_beside("Account name", "Save").await;
        t.expect_text("Saved the account name and contact email.")
            .await;
        t.expect_panel_heading("Reports").await;
        t.expect_link_in(SIDEBAR, "Reports").await;
        let email = t.value_by_label("Contact email").await;
        t.check(
            email == "team@example.org",
            &format!("the new email, not {email:?}"),
        )
        .await;
        t.shot("06-edited").await;

        // Regenerate, next to "Service account secret": confirm, then the new secret once.
        t.click_row("Service account secret", "Regenerate").await;
        t.expect_dialog(
            "Regenerate the secret of Reports? The current secret, and every token \
             issued with it, stop working at once.",
        )
        .await;
        t.answer_dialog(true).await;
        t.expect_panel_heading("New secret for Reports").await;
        t.expect_text("shown only this once").await;
        let new_secret = t.value_by_label("Service account secret").await;
        t.check(
            new_secret.starts_with("dwbs_") && new_secret != secret,
            "a new secret",
        )
        .await;
        t.shot("07-regenerated").await;

        // The tab at 390 px wide.
        t.click_link_in(SIDEBAR, "Reports").await;
        t.expect_panel_heading("Reports").await;
        t.narrow().await;
        t.shot("08-account-390px").await;
        t.click_link_in(SIDEBAR, "Add account").await;
        t.expect_panel_heading("Add account").await;
        t.shot("09-add-form-390px").await;
        t.click_link_in(SIDEBAR, "Reports").await;
        t.click_link("Remove service account").await;
        t.expect_remove_dialog("Reports").await;
        t.shot("10-remove-dialog-390px").await;
        t.click_link_in("//dialog", "Cancel").await;
        t.wide().await;

        // Remove service account: the pop-up names it; Cancel keeps it, Delete removes it.
        t.expect_panel_heading("Reports").await;
        t.click_link("Remove service account").await;
        t.expect_remove_dialog("Reports").await;
        t.shot("11-remove-dialog").await;
        t.click_link_in("//dialog", "Cancel").await;
        t.expect_no_dialog().await;
        t.expect_link_in(SIDEBAR, "Reports").await;
        t.shot("12-remove-cancelled").await;
        t.click_link("Remove service account").await;
        t.expect_remove_dialog("Reports").await;
        t.click_button("Delete").await;
        t.expect_text("Removed the service account Reports.").await;
        t.expect_text("No service accounts yet").await;
        t.shot("13-removed").await;
    })
    .await;
}
on_both_stores!(api_tab_adds_edits_regenerates_and_removes_an_account);

/// Seed steps: a "Select data sets manually" account, the picker, the new tab
/// of a data set, the X, Save; and an all-data account's level changed to Admin.
async fn api_tab_shares_selected_data_sets_and_changes_a_level(backend: Backend) {
    let app = spawn_app(backend).await;
    import_dataset(&app, "Readings").await;
    import_dataset(&app, "Weather").await;
    import_dataset(&app, "Wind").await;
    in_api_browser("shares_data_sets", &app, move |t| async move {
        t.open_api_tab().await;
        t.add_account("Everything", "all@example.org", Some("Reader"), &[])
            .await;
        t.click_link("Add account").await;
        t.fill_by_label("Account name", "Dashboards").await;
        t.fill_by_label("Contact email", "dash@example.org").await;
        t.choose_radio("Select data sets manually").await;
        t.check(
            !t.displayed_by_label("Workspace access level").await,
            "the level to hide when data sets are selected manually",
        )
        .await;
        t.tick("Readings").await;
        t.shot("20-add-selected").await;
        t.click_button("Create service account").await;
        t.expect_panel_heading("Service account Dashboards created")
            .await;
        t.click_link("Continue to the account").await;
        t.expect_panel_heading("Dashboards").await;
        t.expect_text("1 selected data set").await;
        t.expect_shared(&["Readings"]).await;
        t.shot("21-selected-account").await;

        // "Select data sets" opens the picker: search by name, tick, Save.
        t.click_link("Select data sets").await;
        t.expect_panel_heading("Select data sets for Dashboards")
            .await;
        t.expect_text("Weather").await;
        t.expect_text("Wind").await;
        t.fill_by_label("Search by name", "wea").await;
        t.click_button("Search").await;
        t.expect_no_label("Wind").await;
        t.tick("Weather").await;
        t.shot("22-picker").await;
        t.click_button("Save").await;
        t.expect_text("Saved the access to data sets.").await;
        t.expect_text("2 selected data sets").await;
        t.expect_shared(&["Readings", "Weather"]).await;
        t.shot("23-two-shared").await;

        // A data set's name opens its details in a new browser tab.
        let link = t
            .the_one(&shared_link("Readings"), "the link \"Readings\"")
            .await;
        let target = link.attr("target").await.ok().flatten();
        t.check(
            target.as_deref() == Some("_blank"),
            &format!("the data set link to open a new tab, target {target:?}"),
        )
        .await;
        let before = t.client.windows().await.expect("the windows");
        t.click(link, "the link \"Readings\"").await;
        let tab = t.new_window(&before).await;
        t.client
            .switch_to_window(tab)
            .await
            .expect("switch to the new tab");
        t.the_one(
            "//h2[normalize-space()='Readings']",
            "the heading \"Readings\"",
        )
        .await;
        t.expect_text("Shared with").await;
        t.expect_text("Dashboards (dash@example.org)").await;
        t.shot("24-data-set-tab").await;
        t.client.close_window().await.expect("close the tab");
        t.client
            .switch_to_window(before[0].clone())
            .await
            .expect("back to the first tab");
        t.expect_panel_heading("Dashboards").await;

        // The X of a row takes it off the list; Save applies.
        t.click_x("Weather").await;
        t.expect_text("Select Save to stop sharing the data set.")
            .await;
        t.expect_shared(&["Readings"]).await;
        t.shot("25-x-clicked").await;
        t.click_button_beside("Workspace access level", "Save")
            .await;
        t.expect_text("Saved the access to data sets.").await;
        t.expect_text("1 selected data set").await;
        t.expect_shared(&["Readings"]).await;
        t.shot("26-one-shared").await;

        // An all-data account's level: Reader to Admin.
        t.click_link_in(SIDEBAR, "Everything").await;
        t.expect_text("Now: all workspace data (Reader)").await;
        t.choose_by_label("Workspace access level", "Admin").await;
        t.click_button_beside("Workspace access level", "Save")
            .await;
        t.expect_text("Saved the access to data sets.").await;
        t.expect_text("Now: all workspace data (Admin)").await;
        let level = t.selected_by_label("Workspace access level").await;
        t.check(level == "Admin", &format!("Admin chosen, not {level:?}"))
            .await;
        t.shot("27-level-admin").await;

        // "Shared with" on the data set's page: an admin revokes the account there.
        t.click_link_in(SIDEBAR, "Dashboards").await;
        t.expect_panel_heading("Dashboards").await;
        let before = t.client.windows().await.expect("the windows");
        let link = t
            .the_one(&shared_link("Readings"), "the link \"Readings\"")
            .await;
        t.click(link, "the link \"Readings\"").await;
        let tab = t.new_window(&before).await;
        t.client
            .switch_to_window(tab)
            .await
            .expect("switch to the new tab");
        t.expect_text("Shared with").await;
        t.expect_text("all workspace data (Admin)").await;
        t.click_button("Revoke access of Dashboards (dash@example.org)")
            .await;
        t.expect_dialog("Stop sharing Readings with Dashboards (dash@example.org)?")
            .await;
        t.answer_dialog(true).await;
        t.expect_text("Stopped sharing Readings with Dashboards")
            .await;
        t.expect_no_text("Dashboards (dash@example.org)").await;
        t.shot("28-revoked-in-shared-with").await;
        t.client.close_window().await.expect("close the tab");
        t.client
            .switch_to_window(before[0].clone())
            .await
            .expect("back to the first tab");
        t.click_link_in(SIDEBAR, "Dashboards").await;
        t.expect_text("0 selected data sets").await;
        t.expect_shared(&[]).await;
        t.shot("29-after-revoke").await;
    })
    .await;
}
on_both_stores!(api_tab_shares_selected_data_sets_and_changes_a_level);

/// Seed step: "Generate sample Python code" → "Generate" downloads a script
/// that runs at once: with the secret embedded right after creation, and
/// reading it from `DWB_CLIENT_SECRET` later.
async fn api_tab_downloads_a_python_script_that_runs(backend: Backend) {
    let app = spawn_app(backend).await;
    import_dataset(&app, "Readings").await;
    in_api_browser("python", &app, move |t| async move {
        t.open_api_tab().await;
        t.add_account("Notebook", "nb@example.org", Some("Reader"), &[])
            .await;
        let secret = t.value_by_label("Service account secret").await;
        t.expect_text("Generate sample Python code").await;
        t.click_button("Generate").await;
        let embedded = t.downloaded(".py").await;
        t.shot("30-generated-after-create").await;
        let (ok, out) = run_python(&embedded, None).await;
        t.check(
            ok && out.contains("Readings") && out.contains("\"Channel\": \"A\""),
            &format!("the script with the secret to print the rows:\n{out}"),
        )
        .await;

        t.click_link_in(SIDEBAR, "Notebook").await;
        t.expect_panel_heading("Notebook").await;
        t.click_button("Generate").await;
        let later = t.downloaded(".py").await;
        let text = std::fs::read_to_string(&later).unwrap_or_default();
        t.check(
            !text.contains(&secret) && text.contains("DWB_CLIENT_SECRET"),
            "the later script not to hold the secret",
        )
        .await;
        t.shot("31-generated-later").await;
        let (ok, out) = run_python(&later, None).await;
        t.check(
            !ok && out.contains("DWB_CLIENT_SECRET"),
            &format!("the script to say the secret is missing:\n{out}"),
        )
        .await;
        let (ok, out) = run_python(&later, Some(&secret)).await;
        t.check(
            ok && out.contains("Readings") && out.contains("\"Channel\": \"B\""),
            &format!("the script with DWB_CLIENT_SECRET to print the rows:\n{out}"),
        )
        .await;

        // After "Regenerate", the script holding the old secret fails readably.
        t.click_row("Service account secret", "Regenerate").await;
        t.expect_dialog(
            "Regenerate the secret of Notebook? The current secret, and every token \
             issued with it, stop working at once.",
        )
        .await;
        t.answer_dialog(true).await;
        t.expect_panel_heading("New secret for Notebook").await;
        t.shot("32-regenerated").await;
        let (ok, out) = run_python(&embedded, None).await;
        t.check(
            !ok && out.contains("401"),
            &format!("the old script to fail with a readable 401 message:\n{out}"),
        )
        .await;
        t.check(
            !out.contains("Traceback"),
            &format!("a message, not a Python traceback:\n{out}"),
        )
        .await;
    })
    .await;
}
on_both_stores!(api_tab_downloads_a_python_script_that_runs);

/// axe-core finds no serious or critical violation on the tab's pages.
async fn api_tab_has_no_serious_accessibility_violations(backend: Backend) {
    let app = spawn_app(backend).await;
    import_dataset(&app, "Readings").await;
    let axe = axe_source();
    in_api_browser("axe", &app, move |t| async move {
        let mut serious = Vec::new();
        t.open_api_tab().await;
        t.expect_text("No service accounts yet").await;
        serious.extend(t.axe(&axe, "empty state").await);
        t.click_link_in(MAIN_PANEL, "Add account").await;
        t.expect_panel_heading("Add account").await;
        serious.extend(t.axe(&axe, "add form").await);
        t.click_button("Create service account").await;
        t.expect_text("Account name is required.").await;
        serious.extend(t.axe(&axe, "add form with errors").await);
        t.fill_by_label("Account name", "Dashboards").await;
        t.fill_by_label("Contact email", "dash@example.org").await;
        t.choose_radio("Select data sets manually").await;
        t.tick("Readings").await;
        t.click_button("Create service account").await;
        t.expect_text("shown only this once").await;
        serious.extend(t.axe(&axe, "credentials shown once").await);
        t.click_link("Continue to the account").await;
        t.expect_panel_heading("Dashboards").await;
        serious.extend(t.axe(&axe, "account page").await);
        t.click_link("Remove service account").await;
        t.expect_remove_dialog("Dashboards").await;
        serious.extend(t.axe(&axe, "remove pop-up").await);
        t.click_link_in("//dialog", "Cancel").await;
        t.click_link("Select data sets").await;
        t.expect_panel_heading("Select data sets for Dashboards")
            .await;
        serious.extend(t.axe(&axe, "data set picker").await);
        t.click_link_in(SIDEBAR, "Add account").await;
        t.expect_panel_heading("Add account").await;
        t.narrow().await;
        serious.extend(t.axe(&axe, "add form at 390 px").await);
        t.check(
            serious.is_empty(),
            &format!(
                "no serious or critical accessibility violation, found:\n{}",
                serious.join("\n")
            ),
        )
        .await;
    })
    .await;
}
on_both_stores!(api_tab_has_no_serious_accessibility_violations);

// ---------------------------------------------------------------------------
// The browser for these tests: downloads and clipboard allowed
// ---------------------------------------------------------------------------

const SIDEBAR: &str = "//aside[@aria-label='Service accounts']";
const MAIN_PANEL: &str = "//section[@class='panel']";

/// The browser of one test of the tab, with what this file adds to `Browser`.
struct Tab {
    b: Browser,
    backend: &'static str,
    driver: String,
    session: String,
    downloads: PathBuf,
}

impl Deref for Tab {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.b
    }
}

/// Runs `body` in a fresh headless Chromium that saves downloads in a
/// scratch folder and may use the clipboard; screenshots are named
/// `api-<step>-<backend>.png`.
async fn in_api_browser<F, Fut>(test: &str, app: &TestApp, body: F)
where
    F: FnOnce(Tab) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let driver = Driver::start().await;
    let downloads = driver.dir.join("downloads");
    std::fs::create_dir_all(&downloads).expect("a download folder");
    let mut caps = capabilities(&driver.dir.join("profile"));
    if let Some(Value::Object(opts)) = caps.get_mut("goog:chromeOptions") {
        opts.insert(
            "prefs".into(),
            json!({
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            }),
        );
    }
    let client = ClientBuilder::native()
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .unwrap_or_else(|e| panic!("Chromium does not start: {e}\n{}", driver.log()));
    let backend = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let session = client
        .session_id()
        .await
        .ok()
        .flatten()
        .expect("a WebDriver session id");
    let shots = Arc::new(Shots::new("api"));
    let tab = Tab {
        b: Browser {
            client: client.clone(),
            base: app.base.clone(),
            shots: shots.clone(),
        },
        backend,
        driver: driver.url(),
        session,
        downloads,
    };
    tab.cdp(
        "Browser.setDownloadBehavior",
        json!({ "behavior": "allow", "downloadPath": tab.downloads.display().to_string() }),
    )
    .await;
    tab.cdp(
        "Browser.grantPermissions",
        json!({
            "origin": app.base,
            "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
        }),
    )
    .await;
    let outcome = tokio::spawn(body(tab)).await;
    if outcome.is_err() {
        let after = shots.last_step();
        let path = shots
            .save(&client, &format!("failed-{test}-{backend}"))
            .await;
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

impl Tab {
    async fn shot(&self, step: &str) {
        self.b.shot(&format!("{step}-{}", self.backend)).await;
    }

    /// A Chrome DevTools command through chromedriver; its result, or Null.
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let url = format!("{}/session/{}/goog/cdp/execute", self.driver, self.session);
        let sent = reqwest::Client::new()
            .post(url)
            .json(&json!({ "cmd": cmd, "params": params }))
            .send()
            .await;
        match sent {
            Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null)["value"].clone(),
            Err(e) => {
                eprintln!("the DevTools command {cmd} failed: {e}");
                Value::Null
            }
        }
    }

    async fn narrow(&self) {
        let _ = self.client.set_window_size(390, 844).await;
    }

    async fn wide(&self) {
        let _ = self.client.set_window_size(1280, 900).await;
    }

    /// Signs in and opens the Demo workspace's "API management" tab.
    async fn open_api_tab(&self) {
        self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        self.click_link("Demo").await;
        self.expect_heading_starting("Demo").await;
        self.click_link("API management").await;
        self.expect_link_in(SIDEBAR, "Add account").await;
        // The sidebar's heading (shown in capitals by the style sheet).
        let heading = format!("{SIDEBAR}//h2[normalize-space()='Service accounts']");
        self.the_one(&heading, "the heading \"Service accounts\"")
            .await;
    }

    /// Adds an account through the form; the credentials page follows.
    async fn add_account(&self, name: &str, email: &str, level: Option<&str>, sets: &[&str]) {
        self.click_link_in(SIDEBAR, "Add account").await;
        self.expect_panel_heading("Add account").await;
        self.fill_by_label("Account name", name).await;
        self.fill_by_label("Contact email", email).await;
        match level {
            Some(level) => {
                self.choose_radio("Grant all workspace data").await;
                self.choose_by_label("Workspace access level", level).await;
            }
            None => {
                self.choose_radio("Select data sets manually").await;
                for s in sets {
                    self.tick(s).await;
                }
            }
        }
        self.click_button("Create service account").await;
        self.expect_panel_heading(&format!("Service account {name} created"))
            .await;
    }

    async fn expect_panel_heading(&self, text: &str) {
        let xpath = format!("{MAIN_PANEL}/h2[normalize-space()={}]", xpath_literal(text));
        self.the_one(&xpath, &format!("the heading {text:?}")).await;
    }

    async fn click_link_in(&self, within: &str, text: &str) {
        let what = format!("link {text:?} in {within}");
        let xpath = format!("{within}//a[normalize-space()={}]", xpath_literal(text));
        let a = self.the_one(&xpath, &what).await;
        self.click(a, &what).await;
    }

    async fn expect_link_in(&self, within: &str, text: &str) {
        let xpath = format!("{within}//a[normalize-space()={}]", xpath_literal(text));
        self.the_one(&xpath, &format!("link {text:?} in {within}"))
            .await;
    }

    /// The button or link reading `name` in the row (a `<dt>`/`<dd>` pair) titled `row`.
    async fn row_control(&self, row: &str, name: &str) -> Element {
        let xpath = format!(
            "//dt[normalize-space()={}]/following-sibling::dd[1]\
             //*[self::button or self::a][normalize-space()={}]",
            xpath_literal(row),
            xpath_literal(name)
        );
        self.the_one(&xpath, &format!("{name:?} in the row {row:?}"))
            .await
    }

    async fn expect_row_control(&self, row: &str, name: &str) {
        self.row_control(row, name).await;
    }

    async fn click_row(&self, row: &str, name: &str) {
        let what = format!("{name:?} in the row {row:?}");
        let e = self.row_control(row, name).await;
        self.click(e, &what).await;
    }

    /// What the clipboard holds, if the page may read it.
    async fn clipboard(&self) -> Option<String> {
        let read = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 navigator.clipboard.readText().then(done, e => done(null));",
                vec![],
            )
            .await;
        match read {
            Ok(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    async fn input_by_label_text(&self, text: &str, kind: &str) -> Element {
        let xpath = format!(
            "//label[normalize-space()={}]/input[@type='{kind}']",
            xpath_literal(text)
        );
        self.the_one(&xpath, &format!("{kind} {text:?}")).await
    }

    async fn choose_radio(&self, text: &str) {
        let r = self.input_by_label_text(text, "radio").await;
        self.click(r, &format!("the radio button {text:?}")).await;
    }

    async fn radio_checked(&self, text: &str) -> bool {
        let r = self.input_by_label_text(text, "radio").await;
        r.is_selected().await.unwrap_or(false)
    }

    /// Ticks the checkbox labelled `text` (once).
    async fn tick(&self, text: &str) {
        let c = self.input_by_label_text(text, "checkbox").await;
        if !c.is_selected().await.unwrap_or(false) {
            self.click(c, &format!("the checkbox {text:?}")).await;
        }
    }

    async fn expect_no_label(&self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        let xpath = format!("//label[normalize-space()={}]", xpath_literal(text));
        while !self
            .client
            .find_all(Locator::XPath(&xpath))
            .await
            .unwrap_or_default()
            .is_empty()
        {
            if Instant::now() > deadline {
                panic!(
                    "{}",
                    self.report(&format!("expected no choice {text:?}")).await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn displayed_by_label(&self, label: &str) -> bool {
        let f = self.field_by_label(label).await;
        f.is_displayed().await.unwrap_or(false)
    }

    /// The one element that `xpath_for(id of the field labelled label)`
    /// matches, waiting for it. The field is looked up again on every try:
    /// one found while a submitted form's answer was still loading goes
    /// stale, and its id then reads as empty.
    async fn the_one_by_field(
        &self,
        label: &str,
        what: &str,
        xpath_for: impl Fn(&str) -> String,
    ) -> Element {
        self.the_one_found(what, || async {
            let field = self.field_by_label(label).await;
            let id = field.attr("id").await.ok().flatten().unwrap_or_default();
            if id.is_empty() {
                return Vec::new();
            }
            self.client
                .find_all(Locator::XPath(&xpath_for(&id)))
                .await
                .unwrap_or_default()
        })
        .await
    }

    /// The error `message` right after the field labelled `label`.
    async fn expect_error_after(&self, label: &str, message: &str) {
        let error = self
            .the_one_by_field(
                label,
                &format!("the error {message:?} next to {label:?}"),
                |id| {
                    format!(
                        "//*[@id={}]/following-sibling::*[not(self::p[contains(@class,'hint')])][1]\
                         [contains(@class,'field-error')][contains(normalize-space(), {})]",
                        xpath_literal(id),
                        xpath_literal(message)
                    )
                },
            )
            .await;
        // A screen reader reads the message with the field.
        let field = self.field_by_label(label).await;
        let error_id = error.attr("id").await.ok().flatten();
        let described = field.attr("aria-describedby").await.ok().flatten();
        let invalid = field.attr("aria-invalid").await.ok().flatten();
        self.check(
            error_id.is_some() && described == error_id && invalid.as_deref() == Some("true"),
            &format!(
                "{label:?} to be marked invalid and described by its error \
                 (aria-describedby {described:?}, error id {error_id:?}, aria-invalid {invalid:?})"
            ),
        )
        .await;
    }

    /// The error `message` in the fieldset of the field labelled `label`.
    async fn expect_error_in_fieldset(&self, label: &str, message: &str) {
        self.the_one_by_field(
            label,
            &format!("the error {message:?} by {label:?}"),
            |id| {
                format!(
                    "//*[@id={}]/ancestor::fieldset[1]//*[contains(@class,'field-error')]\
                 [contains(normalize-space(), {})]",
                    xpath_literal(id),
                    xpath_literal(message)
                )
            },
        )
        .await;
    }

    async fn expect_remove_dialog(&self, name: &str) {
        let d = self
            .the_one("//dialog[@open]", "an open pop-up (<dialog>)")
            .await;
        let text = d.text().await.unwrap_or_default();
        self.check(
            text.contains(&format!("Remove {name}?")) && text.contains("Delete"),
            &format!("the pop-up to name {name:?}, it says {text:?}"),
        )
        .await;
    }

    async fn expect_no_dialog(&self) {
        let deadline = Instant::now() + PATIENCE;
        while !self
            .client
            .find_all(Locator::XPath("//dialog[@open]"))
            .await
            .unwrap_or_default()
            .is_empty()
        {
            if Instant::now() > deadline {
                panic!("{}", self.report("expected the pop-up to close").await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The data sets listed as shared, exactly `names`.
    async fn expect_shared(&self, names: &[&str]) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut shown = Vec::new();
            for a in self
                .client
                .find_all(Locator::XPath("//ul[@class='shared']/li/a"))
                .await
                .unwrap_or_default()
            {
                shown.push(a.text().await.unwrap_or_default());
            }
            // Compared as sets: the list is in no particular order.
            shown.sort();
            let mut wanted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            wanted.sort();
            if shown == wanted {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}",
                    self.report(&format!(
                        "expected the shared data sets {names:?}, not {shown:?}"
                    ))
                    .await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn click_x(&self, name: &str) {
        let xpath = format!(
            "{}/following-sibling::button[normalize-space()='X']",
            shared_link(name)
        );
        let what = format!("the X in the row of {name:?}");
        let x = self.the_one(&xpath, &what).await;
        self.click(x, &what).await;
    }

    /// The window opened since `before`.
    async fn new_window(
        &self,
        before: &[fantoccini::wd::WindowHandle],
    ) -> fantoccini::wd::WindowHandle {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let now = self.client.windows().await.unwrap_or_default();
            if let Some(w) = now.into_iter().find(|w| !before.contains(w)) {
                return w;
            }
            if Instant::now() > deadline {
                panic!("{}", self.report("expected a new browser tab").await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for a new finished download ending in `ext`, and moves it aside
    /// so that the next one is told apart. Chromium reserves the final name
    /// with an empty file while it writes `*.crdownload`, so a download is
    /// finished only when no `.crdownload` is left and the file is non-empty
    /// with the same size on two polls in a row.
    async fn downloaded(&self, ext: &str) -> PathBuf {
        let deadline = Instant::now() + PATIENCE;
        let mut seen: Option<(PathBuf, u64)> = None;
        loop {
            let entries: Vec<PathBuf> = std::fs::read_dir(&self.downloads)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect();
            let writing = entries
                .iter()
                .any(|p| p.to_string_lossy().ends_with(".crdownload"));
            let candidate = entries
                .into_iter()
                .find(|p| p.to_string_lossy().ends_with(ext))
                .and_then(|p| {
                    let len = std::fs::metadata(&p).ok()?.len();
                    Some((p, len))
                })
                .filter(|(_, len)| !writing && *len > 0);
            if let (Some(now), Some(before)) = (&candidate, &seen) {
                if now == before {
                    let p = &now.0;
                    let name = p.file_name().map(|n| n.to_string_lossy().to_string());
                    let kept = self.downloads.with_file_name(format!(
                        "{}-{}",
                        uuid::Uuid::new_v4().simple(),
                        name.unwrap_or_default()
                    ));
                    std::fs::rename(p, &kept).expect("move the download aside");
                    return kept;
                }
            }
            seen = candidate;
            if Instant::now() > deadline {
                panic!(
                    "{}",
                    self.report(&format!("expected a {ext} file to be downloaded"))
                        .await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs axe-core on the page; returns the serious and critical violations
    /// and prints the others.
    async fn axe(&self, source: &str, page: &str) -> Vec<String> {
        let injected = self
            .client
            .execute(&format!("{source}\n;return typeof axe;"), vec![])
            .await;
        self.check(
            matches!(&injected, Ok(Value::String(s)) if s == "object"),
            &format!("axe-core to load into the page: {injected:?}"),
        )
        .await;
        let run = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, { resultTypes: ['violations'] })\
                   .then(r => done([r.passes.length, r.violations.map(v => ({ id: v.id, impact: v.impact, \
                     help: v.help, nodes: v.nodes.map(n => n.target.join(' ')) }))]),\
                         e => done('axe failed: ' + e));",
                vec![],
            )
            .await;
        let violations = match run {
            Ok(Value::Array(mut v)) if v.len() == 2 => {
                let passes = v[0].as_u64().unwrap_or_default();
                let found = v.remove(1).as_array().cloned().unwrap_or_default();
                eprintln!(
                    "axe-core on {page}: {passes} rules pass, {} violated",
                    found.len()
                );
                found
            }
            other => panic!(
                "{}",
                self.report(&format!("axe-core did not run: {other:?}"))
                    .await
            ),
        };
        let mut serious = Vec::new();
        for v in violations {
            let line = format!(
                "{page}: {} ({}): {} at {}",
                v["id"].as_str().unwrap_or_default(),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or_default(),
                v["nodes"]
            );
            match v["impact"].as_str() {
                Some("serious" | "critical") => serious.push(line),
                _ => eprintln!("axe, not serious: {line}"),
            }
        }
        self.shot(&format!("axe-{}", page.replace(' ', "-"))).await;
        serious
    }
}

fn shared_link(name: &str) -> String {
    format!(
        "//ul[@class='shared']/li/a[normalize-space()={}]",
        xpath_literal(name)
    )
}

// ---------------------------------------------------------------------------
// Data sets, Python and axe-core
// ---------------------------------------------------------------------------

/// Imports a small CSV as the data set `name` of Demo with the `dwb` binary.
async fn import_dataset(app: &TestApp, name: &str) -> String {
    let csv = "Time,Channel,Value\n2026-01-01T00:00:00Z,A,1.5\n2026-01-01T01:00:00Z,B,2.5\n";
    let path = app.lake_dir.with_extension(format!("{name}.csv"));
    std::fs::write(&path, csv).expect("the CSV file");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_dwb"))
        .args(["datasets", "import", "--workspace", "Demo", "--name", name])
        .args(["--json", "--database-url", &app.database_url, "--lake-url"])
        .arg(&app.lake_dir)
        .arg("--csv")
        .arg(&path)
        .output()
        .await
        .expect("the dwb binary runs");
    assert!(
        out.status.success(),
        "dwb datasets import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON from dwb datasets import");
    v["id"].as_str().expect("the data set id").to_string()
}

/// Runs the script with `python3`; whether it succeeded, and what it printed.
async fn run_python(script: &Path, secret: Option<&str>) -> (bool, String) {
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(script).env_remove("DWB_CLIENT_SECRET");
    if let Some(s) = secret {
        cmd.env("DWB_CLIENT_SECRET", s);
    }
    let run = tokio::time::timeout(Duration::from_secs(60), cmd.output()).await;
    match run {
        Ok(Ok(out)) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Ok(Err(e)) => (false, format!("python3 does not run: {e}")),
        Err(_) => (false, "python3 did not finish within 60 s".into()),
    }
}

/// The source of axe-core 4, installed from npm into
/// `test-artifacts/node` when missing (as `scripts/test` does).
fn axe_source() -> String {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AXE.get_or_init(install_axe).clone()
}

fn install_axe() -> String {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.ancestors().nth(2).unwrap_or(manifest);
    let prefix = root.join("test-artifacts/node");
    let file = prefix.join("node_modules/axe-core/axe.min.js");
    if !file.exists() {
        let out = std::process::Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&prefix)
            .arg("axe-core@4")
            .output();
        if let Ok(out) = &out {
            if !out.status.success() {
                eprintln!(
                    "npm install axe-core: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "axe-core is not installed at {} ({e}): run `npm install --no-save --prefix \
             test-artifacts/node axe-core@4` (scripts/test does)",
            file.display()
        )
    })
}
