//! Building ledger events: who did what to which resource. Every feature
//! records through these helpers so that events look alike.

use dwb_core::Timestamp;
use dwb_store::{NewEvent, User};
use serde_json::json;
use uuid::Uuid;

/// Who acted, as the ledger shows it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<Uuid>,
    pub name: String,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            kind: "system",
            id: None,
            name: "dwb admin command".into(),
        }
    }
    pub fn person(u: &User) -> Self {
        Self {
            kind: "person",
            id: Some(u.id),
            name: u.email.clone(),
        }
    }
}

/// What was acted on.
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    pub kind: &'static str,
    pub id: String,
    pub name: &'a str,
}

/// A successful event with an empty detail; callers adjust `outcome` and `detail`.
pub fn event(
    actor: &Actor,
    tenant: Uuid,
    workspace: Option<Uuid>,
    now: Timestamp,
    action: &str,
    resource: Resource<'_>,
) -> NewEvent {
    NewEvent {
        tenant_id: tenant,
        workspace_id: workspace,
        at: now,
        principal_kind: actor.kind.into(),
        principal_id: actor.id,
        principal_name: actor.name.clone(),
        action: action.into(),
        resource_kind: resource.kind.into(),
        resource_id: Some(resource.id),
        resource_name: resource.name.into(),
        outcome: "success".into(),
        detail: json!({}),
    }
}

/// An event recorded by the command line.
pub fn system_event(
    tenant: Uuid,
    workspace: Option<Uuid>,
    now: Timestamp,
    action: &str,
    kind: &'static str,
    id: String,
    name: &str,
) -> NewEvent {
    event(
        &Actor::system(),
        tenant,
        workspace,
        now,
        action,
        Resource { kind, id, name },
    )
}
