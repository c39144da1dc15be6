//! Every portal page and form walked over HTTP by every kind of person (and by
//! a program holding API credentials but no session), so that one handler's
//! slip from the access policy shows up as one wrong cell; and every form
//! post without the session's CSRF token is refused with nothing changed.

use dwb_core::access::{Access, Level};
use dwb_core::password::hash_password;
use dwb_core::validate::Role;
use dwb_core::Clock;
use dwb_server::ledger::{system_event, Actor};
use dwb_store::{Backend, Store};
use reqwest::header::{HeaderMap, AUTHORIZATION};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::accounts::{account, token};
use crate::datasets::{multipart, CSV};
use crate::helpers::{csrf_in, spawn_app, Portal, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::on_both_stores;

/// The principals, in the order of a row's expectations.
const WHO: [&str; 7] = [
    "nobody",
    "signed-in non-member",
    "Reader member",
    "Admin member",
    "tenant admin",
    "Admin member who must change their password",
    "program with an Admin account's token and API key, no cookie",
];
/// Who must learn nothing of the workspace: nobody, the non-member, the program.
const OUTSIDE: [bool; 7] = [true, true, false, false, false, false, true];

/// What the person sees, after following redirects.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    Page,     // the page itself (200)
    SignIn,   // the sign-in page at `/`, not signed in
    Password, // the page saying a new password comes first
    Absent,   // 404 "Not found": looks absent
    Refused,  // 403 "Not allowed"
    Csrf,     // 403 "Form expired"
    Invalid,  // 400: the form's content is refused
    BadLogin, // 401: the sign-in page saying the email or password is wrong
}
use Want::*;

/// What each principal sees, in the order of `WHO`: nobody, non-member, Reader,
/// Admin, tenant admin, one-time password, program.
type Row = [Want; 7];
const ANYONE: Row = [SignIn, Page, Page, Page, Page, Password, SignIn];
const MEMBERS: Row = [SignIn, Absent, Page, Page, Page, Password, SignIn];
const ADMINS: Row = [SignIn, Absent, Refused, Page, Page, Password, SignIn];
const TENANT_ADMINS: Row = [SignIn, Refused, Refused, Refused, Page, Password, SignIn];
const PASSWORD_FORM: Row = [SignIn, Invalid, Invalid, Invalid, Invalid, Invalid, SignIn];
const SIGN_IN_FORM: Row = [BadLogin, Csrf, Csrf, Csrf, Csrf, Csrf, BadLogin];
const UNKNOWN: Row = [SignIn, Absent, Absent, Absent, Absent, Password, SignIn];

#[derive(Clone, Copy, Debug, PartialEq)]
enum M {
    Get,
    /// A url-encoded form.
    Post,
    /// A multipart form with [`CSV`] as its file.
    File,
}

/// The objects a principal's rows act on: the shared data set `d` and its
/// schema, and victims of its own (a Reader member, a service account
/// sharing `d`, a base data set).
struct Ids {
    ws: Uuid,
    d: Uuid,
    schema: Uuid,
    version: Uuid,
    user: Uuid,
    acct: Uuid,
    own: Uuid,
}

type Fields = Vec<(&'static str, String)>;

fn f(pairs: &[(&'static str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// (method, path, form fields besides `csrf`, what each of `WHO` sees), for
/// principal `i`; destructive rows come after the rows that need their object.
fn routes(x: &Ids, i: usize) -> Vec<(M, String, Fields, Row)> {
    use M::*;
    let w = format!("/workspaces/{}", x.ws);
    let (a, ds) = (format!("{w}/api/{}", x.acct), format!("{w}/datasets"));
    let (d, own, user, schema, acct) = (x.d, x.own, x.user, x.schema, x.acct);
    let wrong = f(&[
        ("current_password", "not my password"),
        ("new_password", "a new password 9"),
        ("confirm_password", "a new password 9"),
    ]);
    let new_ws = f(&[("name", &format!("Matrix {i}")), ("region", "EU")]);
    let new_acct = f(&[
        ("name", &format!("Robot {i}")),
        ("contact_email", "owner@example.org"),
        ("mode", "all"),
        ("level", "Reader"),
    ]);
    let new_schema = f(&[("name", &format!("Schema {i}")), ("columns", "a, Int64")]);
    let add = f(&[
        ("email", &format!("new{i}@example.org")),
        ("role", "reader"),
    ]);
    let rename = f(&[
        ("name", &format!("Renamed {i}")),
        ("contact_email", "o@example.org"),
    ]);
    let share = f(&[("mode", "datasets"), ("dataset", &d.to_string())]);
    let pick = f(&[("version", &x.version.to_string())]);
    let imported = f(&[("name", &format!("Imported {i}"))]);
    let derived = f(&[("name", &format!("Derived {i}"))]);
    let (promote, secret) = (f(&[("role", "admin")]), f(&[("secret", "shown once")]));
    let nowhere = Uuid::new_v4();
    let stranger = f(&[("email", "nobody-here@example.org"), ("password", "wrong")]);
    vec![
        (Get, "/".into(), vec![], ANYONE),
        (Get, "/workspaces".into(), vec![], ANYONE),
        (Post, "/workspaces".into(), new_ws, TENANT_ADMINS),
        (Get, "/account/password".into(), vec![], ANYONE),
        (Post, "/account/password".into(), wrong, PASSWORD_FORM),
        (Get, w.clone(), vec![], MEMBERS),
        (Get, format!("{w}/members"), vec![], MEMBERS),
        (Post, format!("{w}/members"), add, ADMINS),
        (Post, format!("{w}/members/{user}/role"), promote, ADMINS),
        (Post, format!("{w}/members/{user}/remove"), vec![], ADMINS),
        (Get, format!("{w}/activity"), vec![], MEMBERS),
        (Get, format!("{w}/api"), vec![], ADMINS),
        (Get, format!("{w}/api/new"), vec![], ADMINS),
        (Post, format!("{w}/api/new"), new_acct, ADMINS),
        (Get, a.clone(), vec![], ADMINS),
        (Get, format!("{a}?show=key"), vec![], ADMINS),
        (Post, format!("{a}/details"), rename, ADMINS),
        (Post, format!("{a}/access"), share, ADMINS),
        (Get, format!("{a}/datasets"), vec![], ADMINS),
        (Post, format!("{a}/secret"), vec![], ADMINS),
        (Get, format!("{a}/python"), vec![], ADMINS),
        (Post, format!("{a}/python"), secret, ADMINS),
        (Post, format!("{ds}/{d}/revoke/{acct}"), vec![], ADMINS),
        (Post, format!("{a}/delete"), vec![], ADMINS),
        (Get, format!("{w}/schemas"), vec![], ADMINS),
        (Post, format!("{w}/schemas"), new_schema, ADMINS),
        (Post, format!("{w}/schemas/{schema}/default"), pick, ADMINS),
        (Get, ds.clone(), vec![], MEMBERS),
        (Get, format!("{ds}/{d}"), vec![], MEMBERS),
        (File, format!("{ds}/import"), imported, ADMINS),
        (File, format!("{ds}/{own}/rows/add"), vec![], ADMINS),
        (File, format!("{ds}/{own}/rows/replace"), vec![], ADMINS),
        (Post, format!("{ds}/{own}/derive"), derived, ADMINS),
        (Get, format!("/workspaces/{nowhere}"), vec![], UNKNOWN),
        (Get, format!("{ds}/{nowhere}"), vec![], UNKNOWN),
        (Get, format!("{w}/no-such-tab"), vec![], [Absent; 7]),
        (Post, "/signin".into(), stranger, SIGN_IN_FORM),
        (Post, "/signout".into(), vec![], [SignIn; 7]),
    ]
}

/// Sends a row as `p`, with `csrf` first when given: (status, final path, body).
async fn send(
    p: &mut Portal,
    m: M,
    path: &str,
    fields: &[(&'static str, String)],
    csrf: Option<&str>,
) -> (StatusCode, String, String) {
    let mut pairs: Vec<(&str, &str)> = csrf.map(|c| ("csrf", c)).into_iter().collect();
    pairs.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
    let url = format!("{}{path}", p.base);
    let req = match m {
        M::Get => p.client.get(url),
        M::Post => p.client.post(url).form(&pairs),
        M::File => {
            let (ct, body) = multipart(&pairs, CSV);
            p.client.post(url).header("content-type", ct).body(body)
        }
    };
    let r = req.send().await.unwrap();
    let (status, at) = (r.status(), r.url().path().to_string());
    let body = r.text().await.unwrap();
    if let Some(c) = csrf_in(&body) {
        p.csrf = c;
    }
    (status, at, body)
}

fn seen(want: Want, status: StatusCode, at: &str, body: &str) -> bool {
    let sign_in = body.contains("<h1>Sign in</h1>") && !body.contains("Sign out");
    let forced = body.contains("Choose your own password to continue.");
    let titled =
        |code: u16, h1: &str| status.as_u16() == code && body.contains(&format!("<h1>{h1}</h1>"));
    match want {
        Page => status == StatusCode::OK && !body.contains("<h1>Sign in</h1>") && !forced,
        SignIn => status == StatusCode::OK && at == "/" && sign_in,
        Password => status == StatusCode::OK && at == "/account/password" && forced,
        Absent => titled(404, "Not found"),
        Refused => titled(403, "Not allowed"),
        Csrf => titled(403, "Form expired"),
        Invalid => status == StatusCode::BAD_REQUEST,
        BadLogin => {
            status == StatusCode::UNAUTHORIZED
                && sign_in
                && body.contains("The email or password is not correct.")
        }
    }
}

/// The heading and what follows it, for failure messages.
fn gist(body: &str) -> String {
    let start = body.find("<h1>").or_else(|| body.find("<h2>")).unwrap_or(0);
    body[start..].chars().take(240).collect()
}

/// What a refused post must not change: members, accounts, schemas, data
/// sets, workspaces, the ledger and the Admin's password.
async fn snapshot(app: &TestApp, ws: Uuid, email: &str) -> String {
    let s = app.store.as_ref();
    let tenant = s.default_tenant().await.unwrap().unwrap().id;
    let page = dwb_core::paging::Page::parse(Some(1), Some(1)).unwrap();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        s.members(ws).await.unwrap(),
        s.service_accounts(ws).await.unwrap(),
        s.schemas(ws).await.unwrap(),
        s.datasets(ws).await.unwrap(),
        s.tenant_workspaces(tenant).await.unwrap(),
        s.workspace_events(ws, page).await.unwrap().1,
        s.user_credentials(email).await.unwrap().map(|(_, h)| h),
    )
}

async fn import(app: &TestApp, name: &str) -> Uuid {
    let (actor, data) = (Actor::system(), app.state.data());
    data.import_csv(&actor, &app.demo, name, "", json!({}), None, CSV.as_bytes())
        .await
        .unwrap()
        .id
}

async fn every_portal_route_answers_every_person_as_the_policy_says(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.demo.clone();
    let d = import(&app, "Readings").await;
    let schema = app.store.schemas(ws.id).await.unwrap().remove(0);
    let (pw, now) = ("matrix password 1", app.clock.now());

    // One portal client per principal, in the order of `WHO`.
    let mut people = vec![app.portal()];
    for (email, role) in [
        ("outsider@example.org", None),
        ("reader@example.org", Some(Role::Reader)),
        ("wsadmin@example.org", Some(Role::Admin)),
        ("fresh@example.org", Some(Role::Admin)),
    ] {
        let id = app.person(email, pw, false).await;
        if let Some(r) = role {
            app.add_member(ws.id, id, r).await;
        }
        if email == "fresh@example.org" {
            // As if an admin had added them: a one-time password to change first.
            let (t, id_text) = (ws.tenant_id, id.to_string());
            let e = system_event(t, None, now, "UserCreated", "user", id_text, email);
            let hash = hash_password(pw);
            app.store
                .set_password(id, &hash, true, now, e)
                .await
                .unwrap();
        }
        people.push(app.signed_in(email, pw).await);
    }
    people.insert(4, app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await);

    let mut ids = Vec::new();
    for i in 0..WHO.len() {
        let user = app
            .person(&format!("victim{i}@example.org"), pw, false)
            .await;
        app.add_member(ws.id, user, Role::Reader).await;
        ids.push(Ids {
            ws: ws.id,
            d,
            schema: schema.id,
            version: schema.versions[0].id,
            user,
            acct: account(&app, ws.id, Access::Datasets(vec![d])).await.id,
            own: import(&app, &format!("Victim {i}")).await,
        });
    }

    // A workspace Admin's posts without the token, or with a forged one, are refused.
    let admin = 3; // "Admin member"
    let mut failures = Vec::new();
    let mut forger = app.signed_in("wsadmin@example.org", pw).await;
    forger.get(&format!("/workspaces/{}/members", ws.id)).await;
    let before = snapshot(&app, ws.id, "wsadmin@example.org").await;
    for (m, path, fields, _) in routes(&ids[admin], admin) {
        if m == M::Get {
            continue;
        }
        for given in [None, Some("forged")] {
            let (status, at, body) = send(&mut forger, m, &path, &fields, given).await;
            if !seen(Csrf, status, &at, &body) {
                failures.push(format!(
                    "Admin member without a valid CSRF token ({given:?}) {m:?} {path}: \
                     expected Csrf, got {status} at {at}: {}",
                    gist(&body)
                ));
            }
        }
    }
    if snapshot(&app, ws.id, "wsadmin@example.org").await != before {
        failures.push("posts without their CSRF token changed something".into());
    }
    let (status, body) = forger.get("/workspaces").await;
    if !seen(Page, status, "/workspaces", &body) {
        failures.push(format!("a refused sign-out signed out: {}", gist(&body)));
    }

    // The program comes last: its API call leaves usage that is written later.
    let c = account(&app, ws.id, Access::Workspace(Level::Admin)).await;
    let mut headers = HeaderMap::new();
    let bearer = format!("Bearer {}", token(&app, &c).await);
    headers.insert(AUTHORIZATION, bearer.parse().unwrap());
    headers.insert("ocp-apim-subscription-key", c.key.parse().unwrap());
    let mut program = app.portal();
    program.client = reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap();
    let r = program
        .client
        .get(app.url(&format!("/api/v2/workspaces/{}", ws.id)))
        .send()
        .await;
    assert_eq!(
        r.unwrap().status(),
        StatusCode::OK,
        "the program's credentials work"
    );
    people.push(program);

    for (i, p) in people.iter_mut().enumerate() {
        for (m, path, fields, want) in routes(&ids[i], i) {
            let csrf = (m != M::Get).then(|| p.csrf.clone());
            let (status, at, body) = send(p, m, &path, &fields, csrf.as_deref()).await;
            if !seen(want[i], status, &at, &body) {
                failures.push(format!(
                    "{} {m:?} {path}: expected {:?}, got {status} at {at}: {}",
                    WHO[i],
                    want[i],
                    gist(&body)
                ));
            }
            if OUTSIDE[i] && (body.contains(&ws.name) || body.contains("Readings")) {
                failures.push(format!(
                    "{} {m:?} {path}: the page names the workspace or its data",
                    WHO[i]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} answers differ from the policy:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
on_both_stores!(every_portal_route_answers_every_person_as_the_policy_says);
