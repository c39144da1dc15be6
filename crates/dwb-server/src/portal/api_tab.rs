//! The API management tab: the seed's flows for workspace admins. Add an
//! account and see its credentials once, view and edit it, change its access
//! (all workspace data at a level, or selected data sets), regenerate its
//! secret, remove it, and download a ready-to-run Python script. Forms work
//! without JavaScript: post, then redirect (except where a secret is shown).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use dwb_core::access::{Access, Level};
use dwb_core::credentials::{secret_state, SecretState};
use dwb_core::policy::Action;
use dwb_store::{ServiceAccount, StoreError};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::PageError;
use crate::portal::form::CsrfForm;
use crate::portal::session::SignedIn;
use crate::portal::views::{
    render, show_time, AcctForm, AcctLink, AcctView, ApiAccountPage, ApiCreatedPage, ApiHomePage,
    ApiNewPage, ApiPickPage, Choice, FieldErrors, WsView,
};
use crate::portal::workspaces::{open, Opened};
use crate::sample_python::{self, Sample};
use crate::service_accounts::{endpoints_base_url, token_url, OpError, Ops};
use crate::state::AppState;

const TAB: &str = "api";

struct Ctx {
    o: Opened,
    accounts: Vec<ServiceAccount>,
}

impl Ctx {
    fn links(&self) -> Vec<AcctLink> {
        self.accounts
            .iter()
            .map(|a| AcctLink {
                id: a.id.to_string(),
                name: a.name.clone(),
            })
            .collect()
    }
    fn ws(&self) -> WsView {
        WsView::from(self.o.ws.as_ref())
    }
    fn account(&self, id: &str) -> Result<&ServiceAccount, PageError> {
        let id: Uuid = id.parse().map_err(|_| PageError::NotFound)?;
        self.accounts
            .iter()
            .find(|a| a.id == id)
            .ok_or(PageError::NotFound)
    }
}

async fn ctx(state: &AppState, who: &SignedIn, id: &str) -> Result<Ctx, PageError> {
    let o = open(state, who, id, Action::ManageServiceAccounts).await?;
    let accounts = state.store.service_accounts(o.ws.id).await?;
    Ok(Ctx { o, accounts })
}

fn ops(state: &AppState) -> Ops<'_> {
    Ops {
        store: state.store.as_ref(),
        master: &state.master,
        now: state.clock.now(),
    }
}

pub(crate) fn op_error(e: OpError) -> PageError {
    match e {
        OpError::Store(s) => s.into(),
        OpError::Invalid(e) => PageError::BadRequest(e.to_string()),
        OpError::Sealed(m) => PageError::Internal(m),
    }
}

fn with_status(mut r: Response, s: StatusCode) -> Response {
    *r.status_mut() = s;
    r
}

#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    deleted: Option<String>,
}

pub async fn home(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<HomeQuery>,
) -> Result<Response, PageError> {
    let c = ctx(&state, &who, &id).await?;
    Ok(render(&ApiHomePage {
        nav: who.nav(),
        ws: c.ws(),
        tab: TAB,
        ws_admin: true,
        accounts: c.links(),
        selected: String::new(),
        notice: q
            .deleted
            .map(|n| format!("Removed the service account {n}.")),
    }))
}

/// The workspace's data sets as choices, ticked when in `checked`.
async fn choices(state: &AppState, ws: Uuid, checked: &[Uuid]) -> Result<Vec<Choice>, PageError> {
    Ok(state
        .store
        .datasets(ws)
        .await?
        .into_iter()
        .map(|d| Choice {
            checked: checked.contains(&d.id),
            id: d.id.to_string(),
            name: d.name,
        })
        .collect())
}

pub async fn new_form(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let c = ctx(&state, &who, &id).await?;
    Ok(render(&ApiNewPage {
        nav: who.nav(),
        ws: c.ws(),
        tab: TAB,
        ws_admin: true,
        accounts: c.links(),
        selected: "new".into(),
        csrf: who.csrf.clone(),
        form: AcctForm::default(),
        choices: choices(&state, c.o.ws.id, &[]).await?,
        errors: FieldErrors::default(),
    }))
}

fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The access a form asks for; `remove` drops one data set from the list.
fn parse_access(
    pairs: &[(String, String)],
    ws_sets: &[Uuid],
    errors: &mut FieldErrors,
) -> Option<Access> {
    let removed: Option<Uuid> = pairs
        .iter()
        .find(|(k, _)| k == "remove")
        .and_then(|(_, v)| v.parse().ok());
    match field(pairs, "mode").as_str() {
        "all" => match Level::parse("level", &field(pairs, "level")) {
            Ok(l) => Some(Access::Workspace(l)),
            Err(_) => {
                errors.add(
                    "access",
                    "Workspace access level is required: choose Reader or Admin.",
                );
                None
            }
        },
        "datasets" => {
            let mut ids: Vec<Uuid> = pairs
                .iter()
                .filter(|(k, _)| k == "dataset")
                .filter_map(|(_, v)| v.parse().ok())
                .filter(|id| ws_sets.contains(id) && Some(*id) != removed)
                .collect();
            ids.sort();
            ids.dedup();
            Some(Access::Datasets(ids))
        }
        _ => {
            errors.add(
                "access",
                "Access to data sets is required: choose Grant all workspace data or Select data sets manually.",
            );
            None
        }
    }
}

fn access_form(a: &Access) -> (String, String) {
    match a {
        Access::Workspace(l) => ("all".into(), l.as_str().into()),
        Access::Datasets(_) => ("datasets".into(), String::new()),
    }
}

pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (who, pairs) = (f.who, f.form);
    let c = ctx(&state, &who, &id).await?;
    let ws_sets: Vec<Uuid> = state
        .store
        .datasets(c.o.ws.id)
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    let mut errors = FieldErrors::default();
    let form = AcctForm {
        name: field(&pairs, "name"),
        contact_email: field(&pairs, "contact_email"),
        mode: field(&pairs, "mode"),
        level: field(&pairs, "level"),
    };
    if let Err(e) = dwb_core::validate::Name::parse("name", &form.name) {
        errors.core("Account name", &e);
    }
    if let Err(e) = dwb_core::validate::Email::parse("contactEmail", &form.contact_email) {
        errors.core("Contact email", &e);
    }
    let access = parse_access(&pairs, &ws_sets, &mut errors);
    if !errors.is_empty() {
        let checked = match &access {
            Some(Access::Datasets(ids)) => ids.clone(),
            _ => Vec::new(),
        };
        let page = ApiNewPage {
            nav: who.nav(),
            ws: c.ws(),
            tab: TAB,
            ws_admin: true,
            accounts: c.links(),
            selected: "new".into(),
            csrf: who.csrf.clone(),
            form,
            choices: choices(&state, c.o.ws.id, &checked).await?,
            errors,
        };
        return Ok(with_status(render(&page), StatusCode::BAD_REQUEST));
    }
    let (account, creds) = ops(&state)
        .create(
            &who.actor(),
            &c.o.ws,
            &form.name,
            &form.contact_email,
            access,
        )
        .await
        .map_err(op_error)?;
    let mut links = c.links();
    links.push(AcctLink {
        id: account.id.to_string(),
        name: account.name.clone(),
    });
    links.sort_by_key(|l| l.name.to_lowercase());
    Ok(render(&ApiCreatedPage {
        nav: who.nav(),
        ws: c.ws(),
        tab: TAB,
        ws_admin: true,
        accounts: links,
        selected: account.id.to_string(),
        csrf: who.csrf.clone(),
        title: format!("Service account {} created", account.name),
        client_id: creds.client_id.to_string(),
        secret: creds.secret.expose().to_string(),
        api_key: Some(creds.api_key.expose().to_string()),
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    show: Option<String>,
    saved: Option<String>,
    remove: Option<String>,
}

/// What the account page shows besides the account itself.
#[derive(Default)]
struct Extra {
    notice: Option<String>,
    form: Option<AcctForm>,
    errors: FieldErrors,
    api_key: Option<String>,
    pending: Option<Vec<Uuid>>,
    confirm_remove: bool,
}

async fn account_page(
    state: &AppState,
    who: &SignedIn,
    c: &Ctx,
    a: &ServiceAccount,
    x: Extra,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let public = state.settings.public_url();
    let (mode, level) = access_form(&a.access);
    let form = x.form.unwrap_or(AcctForm {
        name: a.name.clone(),
        contact_email: a.contact_email.clone(),
        mode,
        level,
    });
    let shared_ids = x.pending.unwrap_or_else(|| match &a.access {
        Access::Datasets(ids) => ids.clone(),
        Access::Workspace(_) => Vec::new(),
    });
    let all = state.store.datasets(c.o.ws.id).await?;
    let mut shared: Vec<Choice> = shared_ids
        .iter()
        .filter_map(|id| all.iter().find(|d| d.id == *id))
        .map(|d| Choice {
            id: d.id.to_string(),
            name: d.name.clone(),
            checked: true,
        })
        .collect();
    shared.sort_by_key(|c| c.name.to_lowercase());
    let warning = match secret_state(a.secret_expires_at, now) {
        SecretState::Valid => None,
        SecretState::ExpiresSoon => Some(format!(
            "The secret expires in {} days. Regenerate it and update the programs that use it.",
            (a.secret_expires_at.millis() - now.millis()) / 86_400_000 + 1
        )),
        SecretState::Expired => {
            Some("The secret has expired: tokens can no longer be had. Regenerate it.".into())
        }
    };
    let status = if x.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = ApiAccountPage {
        nav: who.nav(),
        ws: c.ws(),
        tab: TAB,
        ws_admin: true,
        accounts: c.links(),
        selected: a.id.to_string(),
        csrf: who.csrf.clone(),
        notice: x.notice,
        acct: AcctView {
            id: a.id.to_string(),
            name: a.name.clone(),
            access: a.access.describe(),
            secret_created: show_time(a.secret_issued_at),
            secret_expires: show_time(a.secret_expires_at),
            expiry_warning: warning,
            last_used: a
                .last_used_at
                .map(show_time)
                .unwrap_or_else(|| "Never".into()),
            created: show_time(a.created_at),
            created_by: a.created_by.clone(),
        },
        form,
        errors: x.errors,
        api_key: x.api_key,
        base_url: endpoints_base_url(public, c.o.ws.id),
        token_url: token_url(public),
        shared,
        confirm_remove: x.confirm_remove,
    };
    Ok(with_status(render(&page), status))
}

pub async fn account(
    State(state): State<AppState>,
    who: SignedIn,
    Path((id, acct)): Path<(String, String)>,
    Query(q): Query<AccountQuery>,
) -> Result<Response, PageError> {
    let c = ctx(&state, &who, &id).await?;
    let a = c.account(&acct)?;
    let mut x = Extra {
        confirm_remove: q.remove.is_some(),
        notice: q.saved.map(|s| match s.as_str() {
            "details" => "Saved the account name and contact email.".to_string(),
            "access" => "Saved the access to data sets.".to_string(),
            _ => "Saved.".to_string(),
        }),
        ..Default::default()
    };
    if q.show.as_deref() == Some("key") {
        let key = ops(&state).api_key(&c.o.ws, a.id).await.map_err(op_error)?;
        let mut e = crate::ledger::event(
            &who.actor(),
            c.o.ws.tenant_id,
            Some(c.o.ws.id),
            state.clock.now(),
            "ApiKeyShown",
            crate::ledger::Resource {
                kind: "service_account",
                id: a.id.to_string(),
                name: &a.name,
            },
        );
        e.detail = serde_json::json!({});
        state.store.append_event(e).await?;
        x.api_key = Some(key.expose().to_string());
    }
    account_page(&state, &who, &c, a, x).await
}

pub async fn save_details(
    State(state): State<AppState>,
    Path((id, acct)): Path<(String, String)>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (who, pairs) = (f.who, f.form);
    let c = ctx(&state, &who, &id).await?;
    let a = c.account(&acct)?;
    let name = field(&pairs, "name");
    let email = field(&pairs, "contact_email");
    match ops(&state)
        .update(&who.actor(), &c.o.ws, a.id, Some(&name), Some(&email), None)
        .await
    {
        Ok(_) => {
            state.accounts.invalidate(a.id);
            Ok(Redirect::to(&format!(
                "/workspaces/{}/api/{}?saved=details",
                c.o.ws.id, a.id
            ))
            .into_response())
        }
        Err(OpError::Invalid(e)) => {
            let mut errors = FieldErrors::default();
            let label = if e.field == "name" {
                "Account name"
            } else {
                "Contact email"
            };
            errors.core(label, &e);
            let (mode, level) = access_form(&a.access);
            let form = AcctForm {
                name,
                contact_email: email,
                mode,
                level,
            };
            let x = Extra {
                form: Some(form),
                errors,
                ..Default::default()
            };
            account_page(&state, &who, &c, a, x).await
        }
        Err(other) => Err(op_error(other)),
    }
}

pub async fn save_access(
    State(state): State<AppState>,
    Path((id, acct)): Path<(String, String)>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (who, pairs) = (f.who, f.form);
    let c = ctx(&state, &who, &id).await?;
    let a = c.account(&acct)?;
    let ws_sets: Vec<Uuid> = state
        .store
        .datasets(c.o.ws.id)
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    let mut errors = FieldErrors::default();
    let access = parse_access(&pairs, &ws_sets, &mut errors);
    let removing = pairs.iter().any(|(k, _)| k == "remove");
    match access {
        Some(Access::Datasets(ids)) if removing => {
            // The X only takes the data set off the list; Save applies the change.
            let x = Extra {
                notice: Some("Select Save to stop sharing the data set.".into()),
                form: Some(AcctForm {
                    name: a.name.clone(),
                    contact_email: a.contact_email.clone(),
                    mode: "datasets".into(),
                    level: String::new(),
                }),
                pending: Some(ids),
                ..Default::default()
            };
            account_page(&state, &who, &c, a, x).await
        }
        Some(access) => {
            ops(&state)
                .update(&who.actor(), &c.o.ws, a.id, None, None, Some(access))
                .await
                .map_err(op_error)?;
            state.accounts.invalidate(a.id);
            Ok(Redirect::to(&format!(
                "/workspaces/{}/api/{}?saved=access",
                c.o.ws.id, a.id
            ))
            .into_response())
        }
        None => {
            let x = Extra {
                form: Some(AcctForm {
                    name: a.name.clone(),
                    contact_email: a.contact_email.clone(),
                    mode: field(&pairs, "mode"),
                    level: field(&pairs, "level"),
                }),
                errors,
                ..Default::default()
            };
            account_page(&state, &who, &c, a, x).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PickQuery {
    #[serde(default)]
    q: String,
}

pub async fn pick(
    State(state): State<AppState>,
    who: SignedIn,
    Path((id, acct)): Path<(String, String)>,
    Query(q): Query<PickQuery>,
) -> Result<Response, PageError> {
    let c = ctx(&state, &who, &id).await?;
    let a = c.account(&acct)?;
    let current = match &a.access {
        Access::Datasets(ids) => ids.clone(),
        Access::Workspace(_) => Vec::new(),
    };
    let needle = q.q.trim().to_lowercase();
    let list = choices(&state, c.o.ws.id, &[])
        .await?
        .into_iter()
        .filter(|ch| !current.iter().any(|id| id.to_string() == ch.id))
        .filter(|ch| needle.is_empty() || ch.name.to_lowercase().contains(&needle))
        .collect();
    Ok(render(&ApiPickPage {
        nav: who.nav(),
        ws: c.ws(),
        tab: TAB,
        ws_admin: true,
        accounts: c.links(),
        selected: a.id.to_string(),
        csrf: who.csrf.clone(),
        acct_id: a.id.to_string(),
        acct_name: a.name.clone(),
        q: q.q.trim().to_string(),
        current: current.iter().map(Uuid::to_string).collect(),
        choices: list,
    }))
}

pub async fn regenerate(
    State(state): State<AppState>,
    Path((id, acct)): Path<(String, String)>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let who = f.who;
    let c = ctx(&state, &who, &id).await?;
    let a = c.account(&acct)?;
    let (a, secret) = ops(&state)
        .regenerate(&who.actor(), &c.o.ws, a.id)
        .await
        .map_err(op_error)?;
    state.accounts.invalidate(a.id);
    Ok(render(&ApiCreatedPage {
        nav: who.nav(),
        ws: c.ws(),
        tab: TAB,
        ws_admin: true,
        accounts: c.links(),
        selected: a.id.to_string(),
        csrf: who.csrf.clone(),
        title: format!("New secret for {}", a.name),
        client_id: a.id.to_string(),
        secret: secret.expose().to_string(),
        api_key: None,
    }))
}

pub async fn delete(
    State(state): State<AppState>,
    Path((id, acct)): Path<(String, String)>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let who = f.who;
    let c = ctx(&state, &who, &id).await?;
    let a = c.account(&acct)?;
    match ops(&state).delete(&who.actor(), &c.o.ws, a.id).await {
        Ok(()) | Err(OpError::Store(StoreError::NotFound(_))) => {}
        Err(e) => return Err(op_error(e)),
    }
    state.accounts.invalidate(a.id);
    let name = serde_urlencoded::to_string([("deleted", a.name.as_str())]).unwrap_or_default();
    Ok(Redirect::to(&format!("/workspaces/{}/api?{name}", c.o.ws.id)).into_response())
}

async fn python(
    state: &AppState,
    who: &SignedIn,
    id: &str,
    acct: &str,
    secret: Option<&str>,
) -> Result<Response, PageError> {
    let c = ctx(state, who, id).await?;
    let a = c.account(acct)?;
    let key = ops(state).api_key(&c.o.ws, a.id).await.map_err(op_error)?;
    let script = sample_python::render(&Sample {
        public_url: state.settings.public_url(),
        workspace_id: c.o.ws.id,
        client_id: a.id,
        api_key: key.expose(),
        secret: secret.filter(|s| !s.is_empty()),
        account_name: &a.name,
    });
    let disposition = format!(
        "attachment; filename=\"{}\"",
        sample_python::file_name(&a.name)
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/x-python; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        script,
    )
        .into_response())
}

pub async fn python_download(
    State(state): State<AppState>,
    who: SignedIn,
    Path((id, acct)): Path<(String, String)>,
) -> Result<Response, PageError> {
    python(&state, &who, &id, &acct, None).await
}

/// With the secret that is on screen right after creation or regeneration.
pub async fn python_with_secret(
    State(state): State<AppState>,
    Path((id, acct)): Path<(String, String)>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let secret = field(&f.form, "secret");
    python(&state, &f.who, &id, &acct, Some(&secret)).await
}
