//! The workspace list, creating workspaces, and opening one: the frame
//! whose tabs other modules fill.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dwb_core::policy::Action;
use dwb_core::validate::{Description, Name, Region, Role};
use dwb_store::{NewWorkspace, StoreError, Workspace};
use serde::Deserialize;
use uuid::Uuid;

use crate::access;
use crate::error::PageError;
use crate::ledger::{event, Resource};
use crate::portal::form::CsrfForm;
use crate::portal::session::SignedIn;
use crate::portal::views::{render, FieldErrors, WorkspacesPage, WsView};
use crate::state::AppState;

/// A workspace the signed-in person may act on, with their effective role.
pub struct Opened {
    pub ws: Arc<Workspace>,
    pub role: Role,
}

/// Loads workspace `id` for `who` and applies the policy for `action`;
/// records the person's first arrival in the workspace this session.
pub async fn open(
    state: &AppState,
    who: &SignedIn,
    id: &str,
    action: Action,
) -> Result<Opened, PageError> {
    let id: Uuid = id.parse().map_err(|_| PageError::NotFound)?;
    let (ws, standing) = access::workspace(
        &state.workspaces,
        state.store.as_ref(),
        &access::person(&who.user),
        id,
        action,
    )
    .await?;
    if state.opened.first_open(&who.session_digest, ws.id) {
        let e = event(
            &who.actor(),
            ws.tenant_id,
            Some(ws.id),
            state.clock.now(),
            "SignedInToWorkspace",
            Resource {
                kind: "workspace",
                id: ws.id.to_string(),
                name: &ws.name,
            },
        );
        state.store.append_event(e).await?;
    }
    let role = standing.effective_role().unwrap_or(Role::Reader);
    Ok(Opened { ws, role })
}

async fn visible_workspaces(state: &AppState, who: &SignedIn) -> Result<Vec<WsView>, PageError> {
    let list = if who.user.tenant_admin {
        state.store.tenant_workspaces(who.user.tenant_id).await?
    } else {
        state.store.user_workspaces(who.user.id).await?
    };
    Ok(list.iter().map(WsView::from).collect())
}

fn page(
    who: &SignedIn,
    workspaces: Vec<WsView>,
    form: &NewWorkspaceForm,
    errors: FieldErrors,
) -> WorkspacesPage {
    WorkspacesPage {
        nav: who.nav(),
        csrf: who.csrf.clone(),
        workspaces,
        can_create: who.user.tenant_admin,
        form_name: form.name.clone(),
        form_description: form.description.clone(),
        form_region: form.region.clone(),
        errors,
    }
}

pub async fn list(State(state): State<AppState>, who: SignedIn) -> Result<Response, PageError> {
    let workspaces = visible_workspaces(&state, &who).await?;
    let blank = NewWorkspaceForm {
        region: "EU".into(),
        ..Default::default()
    };
    Ok(render(&page(
        &who,
        workspaces,
        &blank,
        FieldErrors::default(),
    )))
}

#[derive(Debug, Default, Deserialize)]
pub struct NewWorkspaceForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    region: String,
}

pub async fn create(
    State(state): State<AppState>,
    f: CsrfForm<NewWorkspaceForm>,
) -> Result<Response, PageError> {
    let (who, form) = (f.who, f.form);
    access::tenant(
        &access::person(&who.user),
        who.user.tenant_id,
        Action::CreateWorkspace,
    )?;
    let mut errors = FieldErrors::default();
    let name = Name::parse("name", &form.name)
        .map_err(|e| errors.core("Name", &e))
        .ok();
    let description = Description::parse("description", &form.description)
        .map_err(|e| errors.core("Description", &e))
        .ok();
    let region = Region::parse("region", &form.region)
        .map_err(|e| errors.core("Region", &e))
        .ok();
    if let (Some(name), Some(description), Some(region)) = (name, description, region) {
        let now = state.clock.now();
        let id = Uuid::new_v4();
        let e = event(
            &who.actor(),
            who.user.tenant_id,
            Some(id),
            now,
            "WorkspaceCreated",
            Resource {
                kind: "workspace",
                id: id.to_string(),
                name: name.as_str(),
            },
        );
        let new = NewWorkspace {
            id,
            tenant_id: who.user.tenant_id,
            name: name.as_str().into(),
            description: description.into_string(),
            region: region.as_str().into(),
            created_by: Some(who.user.id),
            now,
        };
        match state.store.create_workspace(new, e).await {
            Ok(ws) => {
                return Ok(Redirect::to(&format!("/workspaces/{}/members", ws.id)).into_response())
            }
            Err(StoreError::Conflict(_)) => errors.add(
                "name",
                format!(
                    "A workspace named “{}” already exists. Choose another name.",
                    name.as_str()
                ),
            ),
            Err(other) => return Err(other.into()),
        }
    }
    let workspaces = visible_workspaces(&state, &who).await?;
    let mut resp = render(&page(&who, workspaces, &form, errors));
    *resp.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    Ok(resp)
}

/// `/workspaces/{id}` opens the first tab.
pub async fn show(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let o = open(&state, &who, &id, Action::ViewWorkspace).await?;
    Ok(Redirect::to(&format!("/workspaces/{}/members", o.ws.id)).into_response())
}
