//! Signing in and out, and changing one's own password.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use dwb_core::password::{check_new_password, hash_password, verify_password};
use dwb_core::secret::random_token;
use dwb_core::validate::Email;
use serde::Deserialize;
use serde_json::json;

use crate::error::PageError;
use crate::ledger::{event, Actor, Resource};
use crate::portal::form::{csrf_ok, read_form, CsrfForm};
use crate::portal::session::{
    cookie, read_cookie, start_session, SignedIn, PRE_SESSION_COOKIE, SESSION_COOKIE,
};
use crate::portal::views::{render, FieldErrors, PasswordPage, SignInPage};
use crate::state::AppState;
use crate::throttle::{PER_ACCOUNT, PER_ADDRESS};

const WRONG_CREDENTIALS: &str = "The email or password is not correct.";

/// The sign-in page, with a pre-session CSRF cookie; signed-in people go to their workspaces.
pub async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if SignedIn::load(&state, &headers).await?.is_some() {
        return Ok(Redirect::to("/workspaces").into_response());
    }
    Ok(sign_in_page(&state, &headers, String::new(), None))
}

fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    email: String,
    error: Option<String>,
) -> Response {
    let token = read_cookie(headers, PRE_SESSION_COOKIE)
        .filter(|t| t.len() == 43)
        .unwrap_or_else(|| random_token("").expose().to_string());
    let mut resp = render(&SignInPage {
        nav: None,
        csrf: token.clone(),
        email,
        error,
        notice: None,
    });
    if let Ok(v) = cookie(&state.settings, PRE_SESSION_COOKIE, &token, 3600).parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Response, PageError> {
    let (parts, body) = req.into_parts();
    let (form, csrf): (SignInForm, _) = read_form(body, &state).await?;
    let expected = read_cookie(&parts.headers, PRE_SESSION_COOKIE).unwrap_or_default();
    if !csrf_ok(csrf.as_deref(), &expected) {
        return Err(PageError::Csrf);
    }
    let now = state.clock.now();
    let email = form.email.trim().to_lowercase();
    let email_key = format!("signin-email:{email}");
    let addr_key = format!("signin-addr:{}", addr.ip());
    for key in [&email_key, &addr_key] {
        if let Err(retry_after_secs) = state.throttle.check(key, now) {
            return Err(PageError::TooManyAttempts { retry_after_secs });
        }
    }
    let found = match Email::parse("email", &email) {
        Ok(e) => state.store.user_credentials(e.as_str()).await?,
        Err(_) => None,
    };
    // An unknown email checks a dummy hash, so both failures take the same time.
    let hash = match &found {
        Some((_, hash)) => hash.clone(),
        None => state.dummy_hash.to_string(),
    };
    let ok = verify_off_thread(form.password.clone(), hash).await && found.is_some();
    let user = match found {
        Some((user, _)) if ok => user,
        other => {
            state.throttle.failed(&email_key, PER_ACCOUNT, now);
            state.throttle.failed(&addr_key, PER_ADDRESS, now);
            if let Some((user, _)) = other {
                let mut e = event(
                    &Actor::person(&user),
                    user.tenant_id,
                    None,
                    now,
                    "SignInFailed",
                    user_resource(&user),
                );
                e.outcome = "failed".into();
                e.detail = json!({"address": addr.ip().to_string()});
                state.store.append_event(e).await?;
            }
            let mut resp = sign_in_page(
                &state,
                &parts.headers,
                form.email,
                Some(WRONG_CREDENTIALS.into()),
            );
            *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            return Ok(resp);
        }
    };
    state.throttle.succeeded(&email_key);
    let token = start_session(&state, &user).await?;
    let mut e = event(
        &Actor::person(&user),
        user.tenant_id,
        None,
        now,
        "SignedIn",
        user_resource(&user),
    );
    e.detail = json!({"address": addr.ip().to_string()});
    state.store.append_event(e).await?;
    let to = if user.must_change_password {
        "/account/password"
    } else {
        "/workspaces"
    };
    let mut resp = Redirect::to(to).into_response();
    let hours = state.settings.session_hours;
    for c in [
        cookie(&state.settings, SESSION_COOKIE, &token, hours * 3600),
        cookie(&state.settings, PRE_SESSION_COOKIE, "", 0),
    ] {
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// Argon2 takes tens of milliseconds: run it where it does not block other requests.
async fn verify_off_thread(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

fn user_resource(u: &dwb_store::User) -> Resource<'_> {
    Resource {
        kind: "user",
        id: u.id.to_string(),
        name: &u.email,
    }
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

pub async fn sign_out(
    State(state): State<AppState>,
    f: CsrfForm<Empty>,
) -> Result<Response, PageError> {
    state.store.delete_session(&f.who.session_digest).await?;
    let mut resp = Redirect::to("/").into_response();
    if let Ok(v) = cookie(&state.settings, SESSION_COOKIE, "", 0).parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

pub async fn password_page(who: SignedIn) -> Response {
    render(&PasswordPage {
        nav: who.nav(),
        csrf: who.csrf.clone(),
        forced: who.user.must_change_password,
        done: false,
        errors: FieldErrors::default(),
    })
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    f: CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let (who, form) = (f.who, f.form);
    let mut errors = FieldErrors::default();
    let hash = state
        .store
        .user_credentials(&who.user.email)
        .await?
        .map(|(_, h)| h)
        .unwrap_or_default();
    if !verify_off_thread(form.current_password.clone(), hash).await {
        errors.add("current_password", "Current password is not correct.");
    }
    if let Err(e) = check_new_password("new_password", &form.new_password) {
        errors.core("New password", &e);
    } else if form.new_password != form.confirm_password {
        errors.add(
            "confirm_password",
            "Repeat new password does not match the new password.",
        );
    } else if form.new_password == form.current_password {
        errors.add(
            "new_password",
            "New password must differ from the current one.",
        );
    }
    if !errors.is_empty() {
        let mut resp = render(&PasswordPage {
            nav: who.nav(),
            csrf: who.csrf.clone(),
            forced: who.user.must_change_password,
            done: false,
            errors,
        });
        *resp.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        return Ok(resp);
    }
    let now = state.clock.now();
    let e = event(
        &who.actor(),
        who.user.tenant_id,
        None,
        now,
        "PasswordChanged",
        user_resource(&who.user),
    );
    state
        .store
        .set_password(
            who.user.id,
            &hash_password(&form.new_password),
            false,
            now,
            e,
        )
        .await?;
    Ok(render(&PasswordPage {
        nav: who.nav(),
        csrf: who.csrf.clone(),
        forced: false,
        done: true,
        errors: FieldErrors::default(),
    }))
}
