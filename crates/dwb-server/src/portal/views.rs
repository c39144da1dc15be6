//! The portal's page models (askama templates) and how values are shown.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use dwb_core::{CoreError, Timestamp};
use dwb_store::Workspace;

use crate::error::PageError;

/// The signed-in person, shown in the top bar.
#[derive(Debug, Clone)]
pub struct Nav {
    pub email: String,
    pub csrf: String,
}

/// Messages next to form fields, each naming the field and what to do.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }
    /// Adds a core validation error, shown as "<label> <message>".
    pub fn core(&mut self, label: &str, e: &CoreError) {
        self.add(e.field, format!("{label} {}.", e.message));
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A workspace as the workspace frame shows it.
#[derive(Debug, Clone)]
pub struct WsView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub region: String,
}

impl From<&Workspace> for WsView {
    fn from(w: &Workspace) -> Self {
        Self {
            id: w.id.to_string(),
            name: w.name.clone(),
            description: w.description.clone(),
            region: w.region.clone(),
        }
    }
}

/// "2026-11-26 05:02 UTC".
pub fn show_time(t: Timestamp) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.millis()) * 1_000_000)
        .ok()
        .and_then(|d| d.format(fmt).ok())
        .unwrap_or_else(|| "-".into())
}

/// Renders a page, or an internal error page when the template fails.
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => PageError::Internal(format!("template: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "signin.html")]
pub struct SignInPage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub email: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub forced: bool,
    pub done: bool,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub nav: Option<Nav>,
    pub title: String,
    pub message: String,
    pub correlation_id: Option<String>,
}

#[derive(Template)]
#[template(path = "workspaces.html")]
pub struct WorkspacesPage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub workspaces: Vec<WsView>,
    pub can_create: bool,
    pub form_name: String,
    pub form_description: String,
    pub form_region: String,
    pub errors: FieldErrors,
}

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: &'static str,
    pub added: String,
}

#[derive(Debug, Clone)]
pub struct CreatedPerson {
    pub email: String,
    pub password: String,
}

#[derive(Template)]
#[template(path = "members.html")]
pub struct MembersPage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub is_admin: bool,
    pub members: Vec<MemberRow>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub created: Option<CreatedPerson>,
    pub form_email: String,
    pub form_role: String,
    pub errors: FieldErrors,
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub when: String,
    pub who: String,
    pub kind: String,
    pub what: String,
    pub resource: String,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "activity.html")]
pub struct ActivityPage {
    pub nav: Option<Nav>,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub events: Vec<EventRow>,
    pub page: i64,
    pub total_pages: i64,
}

#[derive(Debug, Clone)]
pub struct DatasetRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub kind: &'static str,
    pub rows: i64,
    pub schema: String,
    pub created: String,
    pub tags: String,
    pub created_by: String,
}

#[derive(Template)]
#[template(path = "datasets.html")]
pub struct DatasetsPage {
    pub nav: Option<Nav>,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub q: String,
    pub datasets: Vec<DatasetRow>,
    pub csrf: String,
    /// Schema versions an import can use.
    pub versions: Vec<Choice>,
    /// What the Import CSV form holds (kept after a refused file).
    pub form: ImportForm,
    pub error: Option<UploadError>,
}

/// What the Import CSV form held when its file was refused.
#[derive(Debug, Clone, Default)]
pub struct ImportForm {
    pub name: String,
    pub description: String,
    pub tags: String,
    /// The chosen schema version's id; empty to infer one.
    pub version: String,
}

/// A refused CSV file: what happened and the problems by line and column.
#[derive(Debug, Clone)]
pub struct UploadError {
    pub message: String,
    /// "The first 20 problems:" when dwb stopped reading at its limit.
    pub note: Option<String>,
    pub problems: Vec<String>,
}

/// A data set named with a link to its page.
#[derive(Debug, Clone)]
pub struct DatasetLink {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct ColumnRow {
    pub name: String,
    pub ty: String,
    pub required: &'static str,
    pub filterable: &'static str,
    pub sortable: &'static str,
}

#[derive(Debug, Clone)]
pub struct Header {
    pub name: String,
    pub sort_link: Option<String>,
    pub mark: &'static str,
}

#[derive(Template)]
#[template(path = "dataset.html")]
pub struct DatasetPage {
    pub nav: Option<Nav>,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub ds: DatasetRow,
    pub columns: Vec<ColumnRow>,
    pub headers: Vec<Header>,
    pub rows: Vec<Vec<String>>,
    pub filterable: Vec<String>,
    pub f_col: String,
    pub f_val: String,
    pub sort: String,
    pub dir: String,
    pub page: i64,
    pub total_pages: i64,
    pub total: i64,
    pub prev_link: Option<String>,
    pub next_link: Option<String>,
    pub error: Option<String>,
    pub shared: Vec<SharedRow>,
    /// The column picker: every column the data set shows, ticked when shown.
    pub pickable: Vec<Choice>,
    pub notice: Option<String>,
    pub csrf: String,
    /// A derived data set's base, its filters in words and its columns.
    pub base: Option<DatasetLink>,
    pub filters: Vec<String>,
    pub view_columns: Vec<String>,
    /// A base data set's derived data sets.
    pub derived: Vec<DatasetLink>,
    /// Add rows and Replace rows: admins, base data sets.
    pub can_write: bool,
    /// "Readings – Version 1": the schema version a replace keeps.
    pub current_version: String,
    /// The workspace's other schema versions, for Replace rows.
    pub versions: Vec<Choice>,
    /// The version chosen for Replace rows (kept after a refused file).
    pub replace_version: String,
    pub upload_error: Option<UploadError>,
    /// What Add rows or Replace rows did.
    pub rows_notice: Option<String>,
}

/// Someone who can read a data set.
#[derive(Debug, Clone)]
pub struct SharedRow {
    pub name: String,
    pub kind: &'static str,
    pub access: String,
    /// Set for selected-data-sets accounts, whose share can be revoked here.
    pub revoke_id: Option<String>,
}

/// A service account in the API management sidebar.
#[derive(Debug, Clone)]
pub struct AcctLink {
    pub id: String,
    pub name: String,
}

/// What the account forms hold (kept when input is refused).
#[derive(Debug, Clone, Default)]
pub struct AcctForm {
    pub name: String,
    pub contact_email: String,
    /// `all`, `datasets` or empty.
    pub mode: String,
    pub level: String,
}

/// A data set to pick or that is shared.
#[derive(Debug, Clone)]
pub struct Choice {
    pub id: String,
    pub name: String,
    pub checked: bool,
}

#[derive(Debug, Clone)]
pub struct AcctView {
    pub id: String,
    pub name: String,
    pub access: String,
    pub secret_created: String,
    pub secret_expires: String,
    pub expiry_warning: Option<String>,
    pub last_used: String,
    pub created: String,
    pub created_by: String,
}

#[derive(Template)]
#[template(path = "api_home.html")]
pub struct ApiHomePage {
    pub nav: Option<Nav>,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub accounts: Vec<AcctLink>,
    pub selected: String,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "api_new.html")]
pub struct ApiNewPage {
    pub nav: Option<Nav>,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub accounts: Vec<AcctLink>,
    pub selected: String,
    pub csrf: String,
    pub form: AcctForm,
    pub choices: Vec<Choice>,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "api_created.html")]
pub struct ApiCreatedPage {
    pub nav: Option<Nav>,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub accounts: Vec<AcctLink>,
    pub selected: String,
    pub csrf: String,
    pub title: String,
    pub client_id: String,
    pub secret: String,
    pub api_key: Option<String>,
}

#[derive(Template)]
#[template(path = "api_account.html")]
pub struct ApiAccountPage {
    pub nav: Option<Nav>,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub accounts: Vec<AcctLink>,
    pub selected: String,
    pub csrf: String,
    pub notice: Option<String>,
    pub acct: AcctView,
    pub form: AcctForm,
    pub errors: FieldErrors,
    pub api_key: Option<String>,
    pub base_url: String,
    pub token_url: String,
    pub shared: Vec<Choice>,
    pub confirm_remove: bool,
}

#[derive(Template)]
#[template(path = "api_pick.html")]
pub struct ApiPickPage {
    pub nav: Option<Nav>,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub accounts: Vec<AcctLink>,
    pub selected: String,
    pub csrf: String,
    pub acct_id: String,
    pub acct_name: String,
    pub q: String,
    pub current: Vec<String>,
    pub choices: Vec<Choice>,
}

#[derive(Debug, Clone)]
pub struct VersionView {
    pub id: String,
    pub name: String,
    pub columns: String,
    pub default: bool,
}

#[derive(Debug, Clone)]
pub struct SchemaView {
    pub id: String,
    pub name: String,
    pub short_name: String,
    pub description: String,
    pub versions: Vec<VersionView>,
}

#[derive(Template)]
#[template(path = "schemas.html")]
pub struct SchemasPage {
    pub nav: Option<Nav>,
    pub ws: WsView,
    pub tab: &'static str,
    pub ws_admin: bool,
    pub csrf: String,
    pub schemas: Vec<SchemaView>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub form_name: String,
    pub form_short: String,
    pub form_description: String,
    pub form_columns: String,
}
