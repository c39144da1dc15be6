//! Who is acting: a person signed in to the portal or a service account
//! calling the API. Every ledger event and policy decision starts here.

use uuid::Uuid;

use crate::access::{Access, Level};
use crate::validate::Role;

/// The acting party, as authenticated once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Person(Person),
    ServiceAccount(Account),
}

/// A service account as authenticated by the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The client id.
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub name: String,
    pub tenant_admin: bool,
}

impl Principal {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Person(_) => "person",
            Self::ServiceAccount(_) => "service_account",
        }
    }
    pub fn id(&self) -> Uuid {
        match self {
            Self::Person(p) => p.user_id,
            Self::ServiceAccount(a) => a.id,
        }
    }
    pub fn display_name(&self) -> &str {
        match self {
            Self::Person(p) => {
                if p.name.is_empty() {
                    &p.email
                } else {
                    &p.name
                }
            }
            Self::ServiceAccount(a) => &a.name,
        }
    }
    pub fn tenant_id(&self) -> Uuid {
        match self {
            Self::Person(p) => p.tenant_id,
            Self::ServiceAccount(a) => a.tenant_id,
        }
    }
}

/// What the principal holds in the workspace a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The principal is in the workspace's tenant.
    pub same_tenant: bool,
    pub tenant_admin: bool,
    pub role: Option<Role>,
    /// A service account limited to selected data sets.
    pub datasets_only: bool,
}

impl Standing {
    /// A person's standing in a workspace of `ws_tenant` where they hold `role`.
    pub fn person(p: &Person, ws_tenant: Uuid, role: Option<Role>) -> Self {
        Self {
            same_tenant: p.tenant_id == ws_tenant,
            tenant_admin: p.tenant_admin,
            role,
            datasets_only: false,
        }
    }

    /// A service account's standing towards workspace `ws` of tenant
    /// `ws_tenant`, or towards the tenant itself when `ws` is `None`.
    pub fn account(a: &Account, ws_tenant: Uuid, ws: Option<Uuid>) -> Self {
        let here = a.tenant_id == ws_tenant && ws.is_none_or(|w| w == a.workspace_id);
        let role = match (&a.access, here) {
            (_, false) => None,
            (Access::Workspace(Level::Admin), true) => Some(Role::Admin),
            (Access::Workspace(Level::Reader), true) | (Access::Datasets(_), true) => {
                Some(Role::Reader)
            }
        };
        Self {
            same_tenant: a.tenant_id == ws_tenant,
            tenant_admin: false,
            role,
            datasets_only: matches!(a.access, Access::Datasets(_)),
        }
    }

    /// The role that counts: a tenant admin is admin of every workspace of the tenant.
    pub fn effective_role(&self) -> Option<Role> {
        if !self.same_tenant {
            None
        } else if self.tenant_admin {
            Some(Role::Admin)
        } else {
            self.role
        }
    }
}
