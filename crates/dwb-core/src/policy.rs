//! The access policy: one pure function decides `(principal standing, action)
//! → allow | deny(reason)` for every request, so the rules live in one place
//! and a table test covers them.

use crate::principal::Standing;
use crate::validate::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// List the tenant's workspaces (each filtered by `ViewWorkspace`).
    ListWorkspaces,
    CreateWorkspace,
    ViewWorkspace,
    ViewMembers,
    ManageMembers,
    ViewLedger,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not allowed; the reason says what access would be needed.
    Deny(String),
    /// The resource must look absent to this principal (no existence leak).
    NotFound,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// Decides whether a principal with `standing` may do `action`.
/// For tenant-level actions `standing.role` is ignored.
pub fn decide(standing: Standing, action: Action) -> Decision {
    if !standing.same_tenant {
        return Decision::NotFound;
    }
    match action {
        Action::ListWorkspaces => Decision::Allow,
        Action::CreateWorkspace => {
            if standing.tenant_admin {
                Decision::Allow
            } else {
                Decision::Deny("creating workspaces needs the tenant admin role".into())
            }
        }
        Action::ViewWorkspace | Action::ViewMembers | Action::ViewLedger => {
            match standing.effective_role() {
                Some(_) => Decision::Allow,
                None => Decision::NotFound,
            }
        }
        Action::ManageMembers => match standing.effective_role() {
            Some(Role::Admin) => Decision::Allow,
            Some(Role::Reader) => {
                Decision::Deny("managing members needs the workspace admin role".into())
            }
            None => Decision::NotFound,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn st(same_tenant: bool, tenant_admin: bool, role: Option<Role>) -> Standing {
        Standing {
            same_tenant,
            tenant_admin,
            role,
        }
    }

    #[test]
    fn decision_table() {
        use Action::*;
        let tenant_admin = st(true, true, None);
        let admin = st(true, false, Some(Role::Admin));
        let reader = st(true, false, Some(Role::Reader));
        let outsider = st(true, false, None);
        let other_tenant = st(false, true, Some(Role::Admin));
        // (standing, action, allowed, not_found)
        let table = [
            (tenant_admin, CreateWorkspace, true, false),
            (admin, CreateWorkspace, false, false),
            (reader, CreateWorkspace, false, false),
            (tenant_admin, ManageMembers, true, false),
            (admin, ManageMembers, true, false),
            (reader, ManageMembers, false, false),
            (outsider, ManageMembers, false, true),
            (reader, ViewMembers, true, false),
            (reader, ViewLedger, true, false),
            (reader, ViewWorkspace, true, false),
            (outsider, ViewWorkspace, false, true),
            (outsider, ViewLedger, false, true),
            (outsider, ListWorkspaces, true, false),
            (other_tenant, ViewWorkspace, false, true),
            (other_tenant, ListWorkspaces, false, true),
            (other_tenant, CreateWorkspace, false, true),
        ];
        for (standing, action, allowed, not_found) in table {
            let d = decide(standing, action);
            assert_eq!(d.is_allowed(), allowed, "{standing:?} {action:?} {d:?}");
            assert_eq!(
                d == Decision::NotFound,
                not_found,
                "{standing:?} {action:?} {d:?}"
            );
        }
    }

    #[test]
    fn denials_say_what_is_needed() {
        let d = decide(st(true, false, Some(Role::Reader)), Action::ManageMembers);
        assert_eq!(
            d,
            Decision::Deny("managing members needs the workspace admin role".into())
        );
    }
}
