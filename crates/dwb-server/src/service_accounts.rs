//! Service account operations shared by the API, the portal and the command
//! line: validation, credentials, sealing, and a ledger event for each change.

use dwb_core::access::Access;
use dwb_core::credentials::{new_secret, secret_expiry, NewCredentials};
use dwb_core::crypto::MasterKey;
use dwb_core::secret::{digest, Redacted};
use dwb_core::validate::{Email, Name};
use dwb_core::{CoreError, Timestamp};
use dwb_store::{
    AccountChange, NewSecret, NewServiceAccount, ServiceAccount, Store, StoreError, Workspace,
};
use serde_json::json;
use uuid::Uuid;

use crate::ledger::{event, Actor, Resource};

#[derive(Debug)]
pub enum OpError {
    Invalid(CoreError),
    Store(StoreError),
    /// The sealed API key cannot be opened with this master key.
    Sealed(String),
}

impl From<CoreError> for OpError {
    fn from(e: CoreError) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "{e}"),
            Self::Store(e) => write!(f, "{e}"),
            Self::Sealed(e) => write!(f, "{e}"),
        }
    }
}

/// Plain credentials, alive only until they are shown.
#[derive(Debug)]
pub struct Credentials {
    pub client_id: Uuid,
    pub secret: Redacted,
    pub api_key: Redacted,
}

pub fn token_url(public_url: &str) -> String {
    format!("{public_url}/oauth2/token")
}

pub fn endpoints_base_url(public_url: &str, workspace: Uuid) -> String {
    format!("{public_url}/api/v2/workspaces/{workspace}")
}

pub const ACCESS_REQUIRED: &str =
    "is required: grant all workspace data with a level (Reader or Admin), or select data sets manually";

/// What an operation needs: the store, the master key and the time.
pub struct Ops<'a> {
    pub store: &'a dyn Store,
    pub master: &'a MasterKey,
    pub now: Timestamp,
}

fn resource(a: &ServiceAccount) -> Resource<'_> {
    Resource {
        kind: "service_account",
        id: a.id.to_string(),
        name: &a.name,
    }
}

impl Ops<'_> {
    /// The account `id` of workspace `ws`, or not found.
    pub async fn get(&self, ws: &Workspace, id: Uuid) -> Result<ServiceAccount, OpError> {
        match self.store.account_secrets(id).await? {
            Some(s) if s.account.workspace_id == ws.id => Ok(s.account),
            _ => Err(OpError::Store(StoreError::NotFound("service account"))),
        }
    }

    pub async fn create(
        &self,
        actor: &Actor,
        ws: &Workspace,
        name: &str,
        contact_email: &str,
        access: Option<Access>,
    ) -> Result<(ServiceAccount, Credentials), OpError> {
        let name = Name::parse("name", name)?;
        let email = Email::parse("contactEmail", contact_email)?;
        let access = access.ok_or_else(|| CoreError::new("access", ACCESS_REQUIRED))?;
        let creds = NewCredentials::generate();
        let mut e = event(
            actor,
            ws.tenant_id,
            Some(ws.id),
            self.now,
            "ServiceAccountCreated",
            Resource {
                kind: "service_account",
                id: creds.client_id.to_string(),
                name: name.as_str(),
            },
        );
        e.detail = json!({"access": access.describe(), "contactEmail": email.as_str()});
        let account = self
            .store
            .create_service_account(
                NewServiceAccount {
                    id: creds.client_id,
                    workspace_id: ws.id,
                    tenant_id: ws.tenant_id,
                    name: name.into_string(),
                    contact_email: email.into_string(),
                    access,
                    secret_digest: digest(creds.secret.expose()),
                    api_key_digest: digest(creds.api_key.expose()),
                    api_key_sealed: self.master.seal(creds.api_key.expose().as_bytes()),
                    created_by: actor.name.clone(),
                    now: self.now,
                    secret_expires_at: secret_expiry(self.now),
                },
                e,
            )
            .await?;
        Ok((
            account,
            Credentials {
                client_id: creds.client_id,
                secret: creds.secret,
                api_key: creds.api_key,
            },
        ))
    }

    /// Applies a change; each field is validated, `None` keeps it.
    pub async fn update(
        &self,
        actor: &Actor,
        ws: &Workspace,
        id: Uuid,
        name: Option<&str>,
        contact_email: Option<&str>,
        access: Option<Access>,
    ) -> Result<ServiceAccount, OpError> {
        let current = self.get(ws, id).await?;
        let change = AccountChange {
            name: name
                .map(|n| Name::parse("name", n))
                .transpose()?
                .map(Name::into_string),
            contact_email: contact_email
                .map(|e| Email::parse("contactEmail", e))
                .transpose()?
                .map(Email::into_string),
            access,
        };
        let mut e = event(
            actor,
            ws.tenant_id,
            Some(ws.id),
            self.now,
            "ServiceAccountUpdated",
            resource(&current),
        );
        let mut changed = serde_json::Map::new();
        if let Some(n) = &change.name {
            changed.insert("name".into(), json!(n));
        }
        if let Some(m) = &change.contact_email {
            changed.insert("contactEmail".into(), json!(m));
        }
        if let Some(a) = &change.access {
            changed.insert("access".into(), json!(a.describe()));
        }
        e.detail = serde_json::Value::Object(changed);
        Ok(self
            .store
            .update_service_account(id, change, self.now, e)
            .await?)
    }

    /// A new secret; the old one and every token issued with it stop working.
    pub async fn regenerate(
        &self,
        actor: &Actor,
        ws: &Workspace,
        id: Uuid,
    ) -> Result<(ServiceAccount, Redacted), OpError> {
        let current = self.get(ws, id).await?;
        let secret = new_secret();
        let e = event(
            actor,
            ws.tenant_id,
            Some(ws.id),
            self.now,
            "ServiceAccountSecretRegenerated",
            resource(&current),
        );
        let account = self
            .store
            .regenerate_secret(
                id,
                NewSecret {
                    digest: digest(secret.expose()),
                    issued_at: self.now,
                    expires_at: secret_expiry(self.now),
                },
                e,
            )
            .await?;
        Ok((account, secret))
    }

    pub async fn delete(&self, actor: &Actor, ws: &Workspace, id: Uuid) -> Result<(), OpError> {
        let current = self.get(ws, id).await?;
        let e = event(
            actor,
            ws.tenant_id,
            Some(ws.id),
            self.now,
            "ServiceAccountDeleted",
            resource(&current),
        );
        Ok(self.store.delete_service_account(id, e).await?)
    }

    /// The API key, unsealed, for showing again to a workspace admin.
    pub async fn api_key(&self, ws: &Workspace, id: Uuid) -> Result<Redacted, OpError> {
        self.get(ws, id).await?;
        let sealed = self
            .store
            .api_key_sealed(id)
            .await?
            .ok_or(OpError::Store(StoreError::NotFound("service account")))?;
        let raw = self
            .master
            .open(&sealed)
            .map_err(|e| OpError::Sealed(e.to_string()))?;
        String::from_utf8(raw)
            .map(Redacted::new)
            .map_err(|_| OpError::Sealed("the sealed API key is damaged".into()))
    }
}
