//! Portal sessions: a random token in an `HttpOnly` cookie, only its digest
//! in the store, a CSRF token derived from it, and the `SignedIn` extractor.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use dwb_core::secret::{digest, random_token};
use dwb_store::{NewSession, User};
use uuid::Uuid;

use crate::error::PageError;
use crate::ledger::Actor;
use crate::portal::views::Nav;
use crate::state::{AppState, Settings};

pub const SESSION_COOKIE: &str = "dwb_session";
/// Holds the sign-in form's CSRF token before there is a session.
pub const PRE_SESSION_COOKIE: &str = "dwb_pre";

/// Paths a person with a one-time password may use before changing it.
const BEFORE_PASSWORD_CHANGE: [&str; 2] = ["/account/password", "/signout"];

/// The value of cookie `name` in the request, if any.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value with the flags every dwb cookie carries.
pub fn cookie(settings: &Settings, name: &str, value: &str, max_age_secs: i64) -> String {
    let secure = if settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// The CSRF token of a session: derived from the session token, so it needs no storage
/// and cannot be computed without the cookie.
pub fn csrf_for(session_token: &str) -> String {
    digest(&format!("csrf|{session_token}"))
}

/// Creates a session for `user` and returns the cookie token.
pub async fn start_session(state: &AppState, user: &User) -> Result<String, PageError> {
    let token = random_token("");
    let now = state.clock.now();
    state
        .store
        .create_session(NewSession {
            id_digest: digest(token.expose()),
            user_id: user.id,
            created_at: now,
            expires_at: now.plus_secs(state.settings.session_hours * 3600),
        })
        .await?;
    Ok(token.expose().to_string())
}

/// A signed-in person, for pages that need one.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub session_digest: String,
    pub csrf: String,
}

impl SignedIn {
    /// The session of the request, if there is a valid one.
    pub async fn load(state: &AppState, headers: &HeaderMap) -> Result<Option<Self>, PageError> {
        let Some(token) = read_cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let session_digest = digest(&token);
        let user = state
            .store
            .session_user(&session_digest, state.clock.now())
            .await?;
        Ok(user.map(|user| Self {
            user,
            session_digest,
            csrf: csrf_for(&token),
        }))
    }

    pub fn nav(&self) -> Option<Nav> {
        Some(Nav {
            email: self.user.email.clone(),
            csrf: self.csrf.clone(),
        })
    }

    pub fn actor(&self) -> Actor {
        Actor::person(&self.user)
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let who = Self::load(state, &parts.headers)
            .await?
            .ok_or(PageError::SignIn)?;
        if who.user.must_change_password && !BEFORE_PASSWORD_CHANGE.contains(&parts.uri.path()) {
            return Err(PageError::MustChangePassword);
        }
        Ok(who)
    }
}

/// Which workspaces each session has opened, so that the ledger records a
/// person's arrival in a workspace once per session.
#[derive(Debug, Default)]
pub struct OpenedWorkspaces(Mutex<HashSet<(String, Uuid)>>);

impl OpenedWorkspaces {
    const MAX: usize = 100_000;

    /// True the first time this session opens this workspace.
    pub fn first_open(&self, session_digest: &str, workspace: Uuid) -> bool {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if set.len() >= Self::MAX {
            set.clear();
        }
        set.insert((session_digest.to_string(), workspace))
    }
}
