//! The gateway in front of `/api/v2`: every call needs an
//! `Ocp-Apim-Subscription-Key` and a bearer token of the same service
//! account. Verified tokens and accounts come from caches; a regenerated
//! secret (a new generation) or a deleted account ends a token at once.
//! Every call becomes a ledger event.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dwb_core::jwt::{check_claims, Claims, TokenError};
use dwb_core::principal::{Account, Principal};
use dwb_core::secret::digest_matches;
use dwb_store::AccountSecrets;
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::auth::usage::{ApiCall, ROOM_WAIT};
use crate::ledger::Actor;
use crate::state::AppState;

pub const SUBSCRIPTION_KEY_HEADER: &str = "ocp-apim-subscription-key";

/// The authenticated caller of an API request, shared: every handler's
/// `Extension` extractor clones it (a reference count, not the account's
/// name and data set list).
#[derive(Clone)]
pub struct ApiCaller(Arc<Caller>);

/// Who is calling: the service account as cached (with its credential
/// digests) and the principal that access checks take.
pub struct Caller {
    pub account: Arc<AccountSecrets>,
    pub principal: Principal,
}

impl std::ops::Deref for ApiCaller {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor {
            kind: "service_account",
            id: Some(self.account.account.id),
            name: self.account.account.name.clone(),
        }
    }
}

fn unauthorized(message: &str, bearer: bool) -> ApiError {
    ApiError::Unauthorized {
        message: message.into(),
        bearer,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

async fn verified_claims(state: &AppState, token: &str) -> Result<Arc<Claims>, ApiError> {
    if let Some(c) = state.tokens.get(token) {
        return Ok(c);
    }
    let mut result = state.keyring.with_verifying(|k| k.verify(token));
    if let Err(TokenError::UnknownKey(_)) = result {
        // A key added by a rotation elsewhere: read the keys again once.
        if state
            .keyring
            .reload(state.store.as_ref(), &state.master)
            .await
            .is_ok()
        {
            result = state.keyring.with_verifying(|k| k.verify(token));
        }
    }
    let claims = Arc::new(
        result.map_err(|e| unauthorized(&format!("the access token is not valid: {e}"), true))?,
    );
    state.tokens.put(token, claims.clone());
    Ok(claims)
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<ApiCaller, ApiError> {
    let key = header(headers, SUBSCRIPTION_KEY_HEADER).filter(|k| !k.is_empty()).ok_or_else(|| {
        unauthorized(
            "Access denied due to missing subscription key. Make sure to include the Ocp-Apim-Subscription-Key header with the service account's API key.",
            false,
        )
    })?;
    let auth = header(headers, "authorization").ok_or_else(|| {
        unauthorized(
            "the Authorization header is missing: send Authorization: Bearer <access token from /oauth2/token>",
            false,
        )
    })?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            unauthorized(
                "the Authorization header must be: Bearer <access token>",
                true,
            )
        })?;
    let claims = verified_claims(state, token).await?;
    check_claims(&claims, state.clock.now(), state.settings.audience()).map_err(|e| match e {
        TokenError::Expired => unauthorized(
            "the access token has expired: get a new one from /oauth2/token",
            true,
        ),
        other => unauthorized(&format!("the access token is not valid: {other}"), true),
    })?;
    let client_id: Uuid = claims
        .sub
        .parse()
        .map_err(|_| unauthorized("the access token is not valid: bad subject", true))?;
    let account = state
        .accounts
        .get(state.store.as_ref(), client_id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| {
            unauthorized(
                "the access token was revoked: its service account was deleted",
                true,
            )
        })?;
    if account.account.secret_generation != claims.gen {
        return Err(unauthorized(
            "the access token was revoked: the service account's secret was regenerated",
            true,
        ));
    }
    if !digest_matches(key, &account.api_key_digest) {
        return Err(unauthorized(
            "the Ocp-Apim-Subscription-Key is not the API key of the service account the access token was issued to",
            false,
        ));
    }
    let a = &account.account;
    let principal = Principal::ServiceAccount(Account {
        id: a.id,
        tenant_id: a.tenant_id,
        workspace_id: a.workspace_id,
        name: a.name.clone(),
        access: a.access.clone(),
    });
    Ok(ApiCaller(Arc::new(Caller { account, principal })))
}

pub async fn gateway(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Every call is recorded: none is served while the ledger has no room.
    if !state.usage.wait_for_room(ROOM_WAIT).await {
        return ApiError::Unavailable.into_response();
    }
    let caller = match authenticate(&state, req.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let account = caller.account.clone();
    req.extensions_mut().insert(caller);
    let resp = next.run(req).await;
    let a = &account.account;
    state.usage.record_call(&ApiCall {
        tenant_id: a.tenant_id,
        workspace_id: a.workspace_id,
        at: state.clock.now(),
        account_id: a.id,
        account_name: &a.name,
        method: method.as_str(),
        route: route.as_ref().map(MatchedPath::as_str).unwrap_or_default(),
        path: uri.path(),
        status: resp.status().as_u16(),
    });
    resp
}
