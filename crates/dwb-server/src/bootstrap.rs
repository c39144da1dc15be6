//! First start: an empty store gets tenant "Default", workspace "Demo" and a
//! tenant admin whose one-time password is printed once.

use dwb_core::password::{check_new_password, hash_password, one_time_password};
use dwb_core::validate::Email;
use dwb_core::Clock;
use dwb_store::{Bootstrap, NewUser, Store};
use uuid::Uuid;

pub const DEFAULT_ADMIN_EMAIL: &str = "admin@dwb.local";

/// What the first start created; `password` is set when dwb chose it.
#[derive(Debug)]
pub struct FirstAdmin {
    pub email: String,
    pub one_time_password: Option<dwb_core::secret::Redacted>,
}

/// Creates the first tenant, workspace and admin when the store is empty;
/// `None` when it was already set up.
pub async fn first_start(
    store: &dyn Store,
    clock: &dyn Clock,
    email: Option<&str>,
    password: Option<&str>,
) -> anyhow::Result<Option<FirstAdmin>> {
    if store.default_tenant().await?.is_some() {
        return Ok(None);
    }
    let email = Email::parse("--admin-email", email.unwrap_or(DEFAULT_ADMIN_EMAIL))?;
    let (password, one_time) = match password {
        Some(p) => {
            check_new_password("--admin-password", p)?;
            (p.to_string(), false)
        }
        None => (one_time_password(), true),
    };
    let done = store
        .bootstrap(Bootstrap {
            tenant_name: "Default".into(),
            workspace_name: "Demo".into(),
            workspace_description: "A workspace to try dwb in.".into(),
            admin: NewUser {
                id: Uuid::new_v4(),
                tenant_id: Uuid::new_v4(),
                email: email.as_str().into(),
                name: "Administrator".into(),
                password_hash: hash_password(&password),
                tenant_admin: true,
                must_change_password: one_time,
                now: clock.now(),
            },
        })
        .await?;
    Ok(done.map(|d| FirstAdmin {
        email: d.admin.email,
        one_time_password: one_time.then(|| dwb_core::secret::Redacted::new(password)),
    }))
}
