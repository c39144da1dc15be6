//! The Members tab: list members; admins add people by email (creating them
//! with a one-time password), change roles and remove members, never
//! leaving a workspace without an admin.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dwb_core::password::{hash_password, one_time_password};
use dwb_core::policy::Action;
use dwb_core::validate::{Email, Role};
use dwb_store::{MemberTarget, NewUser, StoreError};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::error::PageError;
use crate::ledger::{event, Resource};
use crate::portal::form::CsrfForm;
use crate::portal::session::SignedIn;
use crate::portal::views::{
    render, show_time, CreatedPerson, FieldErrors, MemberRow, MembersPage, WsView,
};
use crate::portal::workspaces::{open, Opened};
use crate::state::AppState;

/// What a members page shows besides the table.
#[derive(Default)]
struct Outcome {
    status: Option<StatusCode>,
    notice: Option<String>,
    error: Option<String>,
    created: Option<CreatedPerson>,
    form_email: String,
    form_role: String,
    errors: FieldErrors,
}

async fn page(
    state: &AppState,
    who: &SignedIn,
    o: &Opened,
    out: Outcome,
) -> Result<Response, PageError> {
    let members = state.store.members(o.ws.id).await?;
    let mut resp = render(&MembersPage {
        nav: who.nav(),
        csrf: who.csrf.clone(),
        ws: WsView::from(o.ws.as_ref()),
        tab: "members",
        ws_admin: o.role == Role::Admin,
        is_admin: o.role == Role::Admin,
        members: members
            .iter()
            .map(|m| MemberRow {
                user_id: m.user_id.to_string(),
                email: m.email.clone(),
                name: m.name.clone(),
                role: m.role.as_str(),
                added: show_time(m.added_at),
            })
            .collect(),
        notice: out.notice,
        error: out.error,
        created: out.created,
        form_email: out.form_email,
        form_role: if out.form_role.is_empty() {
            "reader".into()
        } else {
            out.form_role
        },
        errors: out.errors,
    });
    if let Some(s) = out.status {
        *resp.status_mut() = s;
    }
    Ok(resp)
}

pub async fn tab(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let o = open(&state, &who, &id, Action::ViewMembers).await?;
    page(&state, &who, &o, Outcome::default()).await
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<AddForm>,
) -> Result<Response, PageError> {
    let (who, form) = (f.who, f.form);
    let o = open(&state, &who, &id, Action::ManageMembers).await?;
    let mut out = Outcome {
        form_email: form.email.clone(),
        form_role: form.role.clone(),
        status: Some(StatusCode::BAD_REQUEST),
        ..Default::default()
    };
    let email = Email::parse("email", &form.email)
        .map_err(|e| out.errors.core("Email", &e))
        .ok();
    let role = Role::parse("role", &form.role)
        .map_err(|e| out.errors.core("Role", &e))
        .ok();
    let (Some(email), Some(role)) = (email, role) else {
        return page(&state, &who, &o, out).await;
    };
    let now = state.clock.now();
    let existing = state
        .store
        .user_credentials(email.as_str())
        .await?
        .map(|(u, _)| u);
    if existing
        .as_ref()
        .is_some_and(|u| u.tenant_id != o.ws.tenant_id)
    {
        out.errors.add(
            "email",
            "This person belongs to another tenant and cannot be added here.",
        );
        return page(&state, &who, &o, out).await;
    }
    let mut one_time = None;
    let target = match &existing {
        Some(u) => MemberTarget::Existing(u.id),
        None => {
            let password = one_time_password();
            let hash = hash_password(&password);
            one_time = Some(password);
            MemberTarget::New(NewUser {
                id: Uuid::new_v4(),
                tenant_id: o.ws.tenant_id,
                email: email.as_str().into(),
                name: String::new(),
                password_hash: hash,
                tenant_admin: false,
                must_change_password: true,
                now,
            })
        }
    };
    let user_id = match &target {
        MemberTarget::Existing(id) => *id,
        MemberTarget::New(n) => n.id,
    };
    let mut e = event(
        &who.actor(),
        o.ws.tenant_id,
        Some(o.ws.id),
        now,
        "MemberAdded",
        member(user_id, email.as_str()),
    );
    e.detail = json!({"role": role.as_str(), "newUser": existing.is_none()});
    match state.store.add_member(o.ws.id, target, role, now, e).await {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => {
            out.errors.add(
                "email",
                format!(
                    "{} is already a member. Change their role in the table instead.",
                    email.as_str()
                ),
            );
            return page(&state, &who, &o, out).await;
        }
        Err(other) => return Err(other.into()),
    }
    let done = Outcome {
        notice: Some(format!("Added {} as {}.", email.as_str(), role.as_str())),
        created: one_time.map(|password| CreatedPerson {
            email: email.as_str().into(),
            password,
        }),
        ..Default::default()
    };
    page(&state, &who, &o, done).await
}

fn member(user_id: Uuid, email: &str) -> Resource<'_> {
    Resource {
        kind: "member",
        id: user_id.to_string(),
        name: email,
    }
}

/// The member `user` of the opened workspace, or not found.
async fn find_member(
    state: &AppState,
    o: &Opened,
    user: &str,
) -> Result<dwb_store::Member, PageError> {
    let user_id: Uuid = user.parse().map_err(|_| PageError::NotFound)?;
    let members = state.store.members(o.ws.id).await?;
    members
        .into_iter()
        .find(|m| m.user_id == user_id)
        .ok_or(PageError::NotFound)
}

fn last_admin_message(email: &str, ws: &str, doing: &str) -> String {
    format!("{email} is the last admin of {ws}, so they cannot be {doing}. Make another member admin first.")
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn change_role(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    f: CsrfForm<RoleForm>,
) -> Result<Response, PageError> {
    let (who, form) = (f.who, f.form);
    let o = open(&state, &who, &id, Action::ManageMembers).await?;
    let m = find_member(&state, &o, &user).await?;
    let role = Role::parse("role", &form.role)
        .map_err(|e| PageError::BadRequest(format!("Role {}.", e.message)))?;
    let mut e = event(
        &who.actor(),
        o.ws.tenant_id,
        Some(o.ws.id),
        state.clock.now(),
        "MemberRoleChanged",
        member(m.user_id, &m.email),
    );
    e.detail = json!({"role": role.as_str(), "previousRole": m.role.as_str()});
    let out = match state
        .store
        .set_member_role(o.ws.id, m.user_id, role, e)
        .await
    {
        Ok(()) => Outcome {
            notice: Some(format!("{} is now {}.", m.email, role.as_str())),
            ..Default::default()
        },
        Err(StoreError::LastAdmin) => Outcome {
            status: Some(StatusCode::CONFLICT),
            error: Some(last_admin_message(&m.email, &o.ws.name, "made a reader")),
            ..Default::default()
        },
        Err(other) => return Err(other.into()),
    };
    // The change may have removed the actor's own admin role.
    let o = open(&state, &who, &id, Action::ViewMembers).await?;
    page(&state, &who, &o, out).await
}

pub async fn remove(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    f: CsrfForm<super::auth::Empty>,
) -> Result<Response, PageError> {
    let who = f.who;
    let o = open(&state, &who, &id, Action::ManageMembers).await?;
    let m = find_member(&state, &o, &user).await?;
    let e = event(
        &who.actor(),
        o.ws.tenant_id,
        Some(o.ws.id),
        state.clock.now(),
        "MemberRemoved",
        member(m.user_id, &m.email),
    );
    let out = match state.store.remove_member(o.ws.id, m.user_id, e).await {
        Ok(()) => Outcome {
            notice: Some(format!("Removed {} from {}.", m.email, o.ws.name)),
            ..Default::default()
        },
        Err(StoreError::LastAdmin) => Outcome {
            status: Some(StatusCode::CONFLICT),
            error: Some(last_admin_message(&m.email, &o.ws.name, "removed")),
            ..Default::default()
        },
        Err(other) => return Err(other.into()),
    };
    match open(&state, &who, &id, Action::ViewMembers).await {
        Ok(o) => page(&state, &who, &o, out).await,
        // People who removed themselves no longer see the workspace.
        Err(PageError::NotFound) => Ok(axum::response::Redirect::to("/workspaces").into_response()),
        Err(e) => Err(e),
    }
}
