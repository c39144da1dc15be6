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
    /// The roles of people and accounts across the tenant (filtered by visibility).
    ViewTenantRoles,
    ViewWorkspace,
    ViewMembers,
    ManageMembers,
    ViewLedger,
    ViewServiceAccounts,
    ManageServiceAccounts,
    ViewSchemas,
    ManageSchemas,
    /// List data sets (a selected-data-sets account sees only its own).
    ListDatasets,
    /// Create, ingest into, change or delete data sets.
    ManageDatasets,
}

impl Action {
    /// Workspace- and tenant-level actions: a selected-data-sets account may do none of them.
    fn is_workspace_level(self) -> bool {
        match self {
            Self::ListWorkspaces
            | Self::CreateWorkspace
            | Self::ViewTenantRoles
            | Self::ViewWorkspace
            | Self::ViewMembers
            | Self::ManageMembers
            | Self::ViewLedger
            | Self::ViewServiceAccounts
            | Self::ManageServiceAccounts
            | Self::ViewSchemas
            | Self::ManageSchemas
            | Self::ManageDatasets => true,
            Self::ListDatasets => false,
        }
    }
}

const DATASETS_ONLY: &str = "this service account can read only its selected data sets; \
    this needs all-workspace access (Reader or Admin)";

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
    if standing.datasets_only && action.is_workspace_level() {
        return match standing.role {
            Some(_) => Decision::Deny(DATASETS_ONLY.into()),
            None => Decision::NotFound,
        };
    }
    match action {
        Action::ListWorkspaces | Action::ViewTenantRoles => Decision::Allow,
        Action::CreateWorkspace => {
            if standing.tenant_admin {
                Decision::Allow
            } else {
                Decision::Deny("creating workspaces needs the tenant admin role".into())
            }
        }
        Action::ViewWorkspace
        | Action::ViewMembers
        | Action::ViewLedger
        | Action::ViewSchemas
        | Action::ListDatasets => match standing.effective_role() {
            Some(_) => Decision::Allow,
            None => Decision::NotFound,
        },
        Action::ManageMembers => needs_admin(standing, "managing members"),
        Action::ViewServiceAccounts => needs_admin(standing, "seeing service accounts"),
        Action::ManageServiceAccounts => needs_admin(standing, "managing service accounts"),
        Action::ManageSchemas => needs_admin(standing, "changing schemas"),
        Action::ManageDatasets => needs_admin(standing, "creating, changing or deleting data sets"),
    }
}

/// May the principal read data set `dataset`? `selection` is the list of a
/// selected-data-sets account (ignored for everyone else). A data set outside
/// the selection looks absent.
pub fn decide_dataset_read(
    standing: Standing,
    selection: &[uuid::Uuid],
    dataset: uuid::Uuid,
) -> Decision {
    if !standing.same_tenant || standing.effective_role().is_none() {
        return Decision::NotFound;
    }
    if standing.datasets_only && !selection.contains(&dataset) {
        return Decision::NotFound;
    }
    Decision::Allow
}

fn needs_admin(standing: Standing, what: &str) -> Decision {
    match standing.effective_role() {
        Some(Role::Admin) => Decision::Allow,
        Some(Role::Reader) => Decision::Deny(format!(
            "{what} needs the workspace admin role (or an Admin service account)"
        )),
        None => Decision::NotFound,
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
            datasets_only: false,
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
    fn service_accounts_follow_their_access() {
        use crate::access::{Access, Level};
        use crate::principal::Account;
        use uuid::Uuid;
        use Action::*;
        let (tenant, ws, other_ws) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let acct = |access| Account {
            id: Uuid::new_v4(),
            tenant_id: tenant,
            workspace_id: ws,
            name: "a".into(),
            access,
        };
        let admin = acct(Access::Workspace(Level::Admin));
        let reader = acct(Access::Workspace(Level::Reader));
        let selected = acct(Access::Datasets(vec![]));
        let here = |a: &Account, action| decide(Standing::account(a, tenant, Some(ws)), action);
        let tenant_level = |a: &Account, action| decide(Standing::account(a, tenant, None), action);
        assert!(here(&admin, ManageServiceAccounts).is_allowed());
        assert!(here(&admin, ManageMembers).is_allowed());
        assert!(here(&reader, ViewWorkspace).is_allowed());
        assert!(here(&reader, ViewLedger).is_allowed());
        assert!(matches!(
            here(&reader, ManageServiceAccounts),
            Decision::Deny(_)
        ));
        assert!(matches!(
            here(&reader, ViewServiceAccounts),
            Decision::Deny(_)
        ));
        for action in [ViewWorkspace, ViewMembers, ViewLedger, ViewServiceAccounts] {
            assert_eq!(
                here(&selected, action),
                Decision::Deny(DATASETS_ONLY.into())
            );
        }
        for action in [ListWorkspaces, ViewTenantRoles, CreateWorkspace] {
            assert!(
                matches!(tenant_level(&selected, action), Decision::Deny(_)),
                "{action:?}"
            );
        }
        assert!(tenant_level(&reader, ListWorkspaces).is_allowed());
        assert!(matches!(
            tenant_level(&admin, CreateWorkspace),
            Decision::Deny(_)
        ));
        for a in [&admin, &reader, &selected] {
            assert_eq!(
                decide(Standing::account(a, tenant, Some(other_ws)), ViewWorkspace),
                Decision::NotFound
            );
            assert_eq!(
                decide(Standing::account(a, Uuid::new_v4(), None), ListWorkspaces),
                Decision::NotFound
            );
        }
    }

    #[test]
    fn data_sets_follow_access() {
        use uuid::Uuid;
        let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
        let selected = Standing {
            same_tenant: true,
            tenant_admin: false,
            role: Some(Role::Reader),
            datasets_only: true,
        };
        assert!(decide_dataset_read(selected, &[mine], mine).is_allowed());
        assert_eq!(
            decide_dataset_read(selected, &[mine], other),
            Decision::NotFound
        );
        assert!(decide(selected, Action::ListDatasets).is_allowed());
        assert!(matches!(
            decide(selected, Action::ViewSchemas),
            Decision::Deny(_)
        ));
        assert!(matches!(
            decide(selected, Action::ManageDatasets),
            Decision::Deny(_)
        ));
        let reader = st(true, false, Some(Role::Reader));
        assert!(decide_dataset_read(reader, &[], other).is_allowed());
        assert!(decide(reader, Action::ViewSchemas).is_allowed());
        assert!(matches!(
            decide(reader, Action::ManageDatasets),
            Decision::Deny(_)
        ));
        assert!(matches!(
            decide(reader, Action::ManageSchemas),
            Decision::Deny(_)
        ));
        let admin = st(true, false, Some(Role::Admin));
        assert!(decide(admin, Action::ManageDatasets).is_allowed());
        assert_eq!(
            decide_dataset_read(st(true, false, None), &[], mine),
            Decision::NotFound
        );
    }

    #[test]
    fn denials_say_what_is_needed() {
        let d = decide(st(true, false, Some(Role::Reader)), Action::ManageMembers);
        assert_eq!(
            d,
            Decision::Deny(
                "managing members needs the workspace admin role (or an Admin service account)"
                    .into()
            )
        );
    }
}
