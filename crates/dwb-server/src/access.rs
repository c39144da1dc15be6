//! Applying the access policy to a request: loads what the pure policy in
//! `dwb_core::policy` needs (the workspace, the person's membership) and
//! answers with the workspace or the reason to refuse. The portal and the
//! API both go through here.

use std::sync::Arc;

use dwb_core::policy::{decide, Action, Decision};
use dwb_core::principal::{Person, Principal, Standing};
use dwb_store::{Store, StoreError, User, Workspace};
use uuid::Uuid;

use crate::auth::cache::WorkspaceCache;

#[derive(Debug)]
pub enum Refusal {
    /// Absent, or must look absent to this principal.
    NotFound,
    /// Allowed to know it exists, not to do this; says what access is needed.
    Forbidden(String),
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

pub fn person(u: &User) -> Principal {
    Principal::Person(Person {
        user_id: u.id,
        tenant_id: u.tenant_id,
        email: u.email.clone(),
        name: u.name.clone(),
        tenant_admin: u.tenant_admin,
    })
}

/// The principal's standing towards workspace `ws`.
pub async fn standing(
    store: &dyn Store,
    who: &Principal,
    ws: &Workspace,
) -> Result<Standing, StoreError> {
    Ok(match who {
        Principal::Person(p) => {
            let role = store.member_role(ws.id, p.user_id).await?;
            Standing::person(p, ws.tenant_id, role)
        }
        Principal::ServiceAccount(a) => Standing::account(a, ws.tenant_id, Some(ws.id)),
    })
}

/// The principal's standing towards its own tenant `tenant`.
pub fn tenant_standing(who: &Principal, tenant: Uuid) -> Standing {
    match who {
        Principal::Person(p) => Standing::person(p, tenant, None),
        Principal::ServiceAccount(a) => Standing::account(a, tenant, None),
    }
}

fn verdict(d: Decision) -> Result<(), Refusal> {
    match d {
        Decision::Allow => Ok(()),
        Decision::Deny(why) => Err(Refusal::Forbidden(why)),
        Decision::NotFound => Err(Refusal::NotFound),
    }
}

/// Workspace `id` when `who` may do `action` in it; the workspace is read
/// through `cache`, so a request costs no store round trip for it.
pub async fn workspace(
    cache: &WorkspaceCache,
    store: &dyn Store,
    who: &Principal,
    id: Uuid,
    action: Action,
) -> Result<(Arc<Workspace>, Standing), Refusal> {
    let ws = cache.get(store, id).await?.ok_or(Refusal::NotFound)?;
    let st = standing(store, who, &ws).await?;
    verdict(decide(st, action))?;
    Ok((ws, st))
}

/// Checks a tenant-level `action` of `who` on tenant `tenant`.
pub fn tenant(who: &Principal, tenant: Uuid, action: Action) -> Result<Standing, Refusal> {
    let st = tenant_standing(who, tenant);
    verdict(decide(st, action))?;
    Ok(st)
}

/// Data set `id` of workspace `ws` when `who` may read it, with the workspace.
pub async fn dataset(
    cache: &WorkspaceCache,
    store: &dyn Store,
    who: &Principal,
    ws: Uuid,
    id: Uuid,
) -> Result<(Arc<Workspace>, dwb_store::Dataset), Refusal> {
    let workspace = cache.get(store, ws).await?.ok_or(Refusal::NotFound)?;
    let st = standing(store, who, &workspace).await?;
    let d = store
        .dataset(id)
        .await?
        .filter(|d| d.workspace_id == ws)
        .ok_or(Refusal::NotFound)?;
    verdict(dwb_core::policy::decide_dataset_read(
        st,
        selection(who),
        d.id,
    ))?;
    Ok((workspace, d))
}

/// The data sets a selected-data-sets account holds (empty for everyone else).
pub fn selection(who: &Principal) -> &[Uuid] {
    match who {
        Principal::ServiceAccount(a) => match &a.access {
            dwb_core::access::Access::Datasets(ids) => ids,
            dwb_core::access::Access::Workspace(_) => &[],
        },
        Principal::Person(_) => &[],
    }
}

/// Whether `who`, standing `st`, may see data set `id` in lists.
pub fn sees_dataset(who: &Principal, st: Standing, id: Uuid) -> bool {
    dwb_core::policy::decide_dataset_read(st, selection(who), id).is_allowed()
}
