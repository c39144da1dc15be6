//! Who is acting: a person signed in to the portal (service accounts join in
//! a later issue). Every ledger event and policy decision starts here.

use uuid::Uuid;

use crate::validate::Role;

/// The acting party, as authenticated once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Person(Person),
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
        }
    }
    pub fn id(&self) -> Uuid {
        match self {
            Self::Person(p) => p.user_id,
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
        }
    }
    pub fn tenant_id(&self) -> Uuid {
        match self {
            Self::Person(p) => p.tenant_id,
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
}

impl Standing {
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
