//! The portal over HTTP: sign-in, CSRF, throttling, sessions, workspaces,
//! members and the activity log.

use dwb_core::validate::Role;
use dwb_store::{Backend, Store};
use reqwest::StatusCode;

use crate::helpers::{spawn_app, spawn_app_with, Options, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::on_both_stores;

async fn signing_in_with_the_right_password_opens_the_workspace_list(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = app.portal();
    let (status, body) = p.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<h1>Workspaces</h1>") && body.contains("Demo"),
        "{body}"
    );
    // The session survives navigation and ends at sign-out.
    let (status, _) = p.get(&format!("/workspaces/{}/members", app.demo.id)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = p.post("/signout", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<h1>Sign in</h1>"));
    let (_, body) = p.get("/workspaces").await;
    assert!(
        body.contains("<h1>Sign in</h1>"),
        "signed out people are sent to sign in"
    );
}
on_both_stores!(signing_in_with_the_right_password_opens_the_workspace_list);

async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = app.portal();
    let (s1, b1) = p.sign_in(ADMIN_EMAIL, "wrong password").await;
    let (s2, b2) = p.sign_in("nobody@example.org", "wrong password").await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    let msg = "The email or password is not correct.";
    assert!(b1.contains(msg) && b2.contains(msg));
    // The typed email is kept, the password is not.
    assert!(b2.contains("value=\"nobody@example.org\""));
    assert!(!b1.contains("wrong password"));
}
on_both_stores!(a_wrong_password_and_an_unknown_email_get_the_same_answer);

async fn repeated_failed_sign_ins_are_slowed_down(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = app.portal();
    for _ in 0..5 {
        let (s, _) = p.sign_in(ADMIN_EMAIL, "wrong password").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    p.get("/").await;
    let r = p
        .client
        .post(app.url("/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("csrf", p.csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert!(r.text().await.unwrap().contains("Too many failed sign-ins"));
    // Another account from the same address is not locked yet.
    app.person("ann@example.org", "ann password 1", false).await;
    app.signed_in("ann@example.org", "ann password 1").await;
}
on_both_stores!(repeated_failed_sign_ins_are_slowed_down);

async fn a_form_without_the_right_csrf_token_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let path = format!("/workspaces/{}/members", app.demo.id);
    for fields in [
        vec![("email", "eve@example.org"), ("role", "admin")],
        vec![
            ("email", "eve@example.org"),
            ("role", "admin"),
            ("csrf", "forged"),
        ],
    ] {
        let (status, body) = p.post_raw(&path, &fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("Form expired"), "{body}");
    }
    assert!(app
        .store
        .user_credentials("eve@example.org")
        .await
        .unwrap()
        .is_none());
    // Signing in needs the token of the sign-in page too.
    let mut fresh = app.portal();
    let (status, _) = fresh
        .post_raw(
            "/signin",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
on_both_stores!(a_form_without_the_right_csrf_token_is_refused);

async fn session_cookies_are_flagged_and_expire(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            public_url: Some("https://dwb.example.org".into()),
        },
    )
    .await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c.get(app.url("/")).send().await.unwrap();
    let pre = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        pre.contains("HttpOnly") && pre.contains("SameSite=Lax") && pre.contains("Secure"),
        "{pre}"
    );
    let token = pre
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("dwb_pre=")
        .to_string();
    let r = c
        .post(app.url("/signin"))
        .header("cookie", format!("dwb_pre={token}"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("dwb_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Secure")
    );
    let cookie = session.split(';').next().unwrap().to_string();
    let r = c
        .get(app.url("/workspaces"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Twelve hours later the session is over.
    app.clock.advance_secs(12 * 3600 + 1);
    let r = c
        .get(app.url("/workspaces"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
}
on_both_stores!(session_cookies_are_flagged_and_expire);

async fn a_tenant_admin_sees_every_workspace_and_a_member_only_theirs(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, body) = admin
        .post(
            "/workspaces",
            &[
                ("name", "Ships"),
                ("description", "Vessel data"),
                ("region", "US"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Ships") && body.contains("Members"),
        "lands on the new workspace"
    );
    let tenant = app.store.default_tenant().await.unwrap().unwrap();
    let ships = app
        .store
        .workspace_by_name(tenant.id, "Ships")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ships.region, "US");

    let ann = app.person("ann@example.org", "ann password 1", false).await;
    app.add_member(ships.id, ann, Role::Reader).await;
    let mut p = app.signed_in("ann@example.org", "ann password 1").await;
    let (_, body) = p.get("/workspaces").await;
    assert!(body.contains("Ships") && !body.contains(">Demo<"), "{body}");
    assert!(
        !body.contains("Create workspace"),
        "only tenant admins create workspaces"
    );
    let (status, _) = p.get(&format!("/workspaces/{}/members", app.demo.id)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a workspace one is not a member of looks absent"
    );
    let (status, _) = p
        .get(&format!("/workspaces/{}/activity", app.demo.id))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = p
        .post("/workspaces", &[("name", "Mine"), ("region", "EU")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("tenant admin"));
    let (_, body) = admin.get("/workspaces").await;
    assert!(body.contains("Ships") && body.contains("Demo"));
}
on_both_stores!(a_tenant_admin_sees_every_workspace_and_a_member_only_theirs);

async fn bad_workspace_input_is_named_and_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let long = "n".repeat(101);
    let (status, body) = p
        .post(
            "/workspaces",
            &[
                ("name", &long),
                ("description", "kept text"),
                ("region", "ASIA"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("Name must be at most 100 characters."),
        "{body}"
    );
    assert!(body.contains("Region must be EU or US."));
    assert!(body.contains("kept text"));
    let (status, body) = p
        .post("/workspaces", &[("name", "Demo"), ("region", "EU")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("A workspace named “Demo” already exists. Choose another name."));
    let (status, body) = p
        .post("/workspaces", &[("name", "  "), ("region", "EU")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Name is required."));
    // A malformed form body is a clear 400, not a 500.
    let r = p
        .client
        .post(app.url("/workspaces"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("%%%=&&csrf")
        .send()
        .await
        .unwrap();
    assert!(
        r.status() == StatusCode::BAD_REQUEST || r.status() == StatusCode::FORBIDDEN,
        "{}",
        r.status()
    );
    let (status, _) = p.get("/workspaces/not-a-uuid/members").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
on_both_stores!(bad_workspace_input_is_named_and_kept);

async fn an_admin_adds_a_new_person_who_must_change_the_one_time_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let path = format!("/workspaces/{}/members", app.demo.id);
    admin.get(&path).await;
    let (status, body) = admin
        .post(&path, &[("email", "not-an-email"), ("role", "reader")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Email must be an email address like name@example.com."));
    assert!(body.contains("value=\"not-an-email\""));
    let (status, body) = admin
        .post(&path, &[("email", "Ann@Example.org"), ("role", "reader")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Added ann@example.org as reader."), "{body}");
    let marker = "id=\"otp\" readonly value=\"";
    let i = body.find(marker).expect("one-time password shown") + marker.len();
    let otp = body[i..i + 20].to_string();
    let (status, body) = admin
        .post(&path, &[("email", "ann@example.org"), ("role", "admin")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("ann@example.org is already a member."));

    let mut ann = app.portal();
    let (status, body) = ann.sign_in("ann@example.org", &otp).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("You signed in with a one-time password"),
        "{body}"
    );
    let (_, body) = ann.get("/workspaces").await;
    assert!(
        body.contains("<h1>Change password</h1>"),
        "other pages wait for the new password"
    );
    let (status, body) = ann
        .post(
            "/account/password",
            &[
                ("current_password", &otp),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("New password must be at least 10 characters long."));
    let (status, body) = ann
        .post(
            "/account/password",
            &[
                ("current_password", &otp),
                ("new_password", "ann's own password"),
                ("confirm_password", "ann's own password"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Your password was changed."));
    let (_, body) = ann.get("/workspaces").await;
    assert!(body.contains("Demo"));
    let mut again = app.portal();
    let (status, _) = again.sign_in("ann@example.org", &otp).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the one-time password works once"
    );
    app.signed_in("ann@example.org", "ann's own password").await;
}
on_both_stores!(an_admin_adds_a_new_person_who_must_change_the_one_time_password);

async fn the_last_admin_cannot_be_removed_or_demoted(backend: Backend) {
    let app = spawn_app(backend).await;
    let tenant = app.store.default_tenant().await.unwrap().unwrap();
    let admin = app
        .store
        .user_credentials(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap()
        .0;
    let mut p = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let base = format!("/workspaces/{}/members/{}", app.demo.id, admin.id);
    p.get(&format!("/workspaces/{}/members", app.demo.id)).await;
    let (status, body) = p.post(&format!("{base}/role"), &[("role", "reader")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body.contains(
            "admin@example.org is the last admin of Demo, so they cannot be made a reader."
        ),
        "{body}"
    );
    let (status, body) = p.post(&format!("{base}/remove"), &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("is the last admin of Demo, so they cannot be removed"));
    assert_eq!(
        app.store.member_role(app.demo.id, admin.id).await.unwrap(),
        Some(Role::Admin)
    );
    // With a second admin, the first may step down.
    let ann = app.person("ann@example.org", "ann password 1", false).await;
    app.add_member(app.demo.id, ann, Role::Reader).await;
    let (status, body) = p
        .post(
            &format!("/workspaces/{}/members/{ann}/role", app.demo.id),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("ann@example.org is now admin."));
    let (status, _) = p.post(&format!("{base}/role"), &[("role", "reader")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.store.member_role(app.demo.id, admin.id).await.unwrap(),
        Some(Role::Reader)
    );
    let _ = tenant;
}
on_both_stores!(the_last_admin_cannot_be_removed_or_demoted);

async fn a_reader_sees_members_and_activity_but_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let ann = app.person("ann@example.org", "ann password 1", false).await;
    let bob = app.person("bob@example.org", "bob password 1", false).await;
    app.add_member(app.demo.id, ann, Role::Reader).await;
    app.add_member(app.demo.id, bob, Role::Reader).await;
    let mut p = app.signed_in("ann@example.org", "ann password 1").await;
    let path = format!("/workspaces/{}/members", app.demo.id);
    let (status, body) = p.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("bob@example.org")
            && !body.contains("Add member")
            && !body.contains("Change role")
    );
    let (status, body) = p
        .post(&path, &[("email", "eve@example.org"), ("role", "admin")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("managing members needs the workspace admin role"));
    let (status, _) = p.post(&format!("{path}/{bob}/remove"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = p
        .get(&format!("/workspaces/{}/activity", app.demo.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.store.members(app.demo.id).await.unwrap().len(), 3);
}
on_both_stores!(a_reader_sees_members_and_activity_but_changes_nothing);

async fn the_activity_tab_lists_events_newest_first_in_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut p = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let path = format!("/workspaces/{}/members", app.demo.id);
    p.get(&path).await;
    for i in 0..30 {
        let email = format!("p{i:02}@example.org");
        let (status, _) = p
            .post(&path, &[("email", &email), ("role", "reader")])
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = p
        .get(&format!("/workspaces/{}/activity", app.demo.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Page 1 of 2"), "{body}");
    let newest = body
        .find("member p29@example.org")
        .expect("newest event on page 1");
    let older = body
        .find("member p10@example.org")
        .expect("older event on page 1");
    assert!(newest < older, "newest first");
    assert!(body.contains("Member added (role reader)"));
    assert!(body.contains("admin@example.org"));
    assert!(!body.contains("member p00@example.org"));
    let (_, body) = p
        .get(&format!("/workspaces/{}/activity?page=2", app.demo.id))
        .await;
    assert!(
        body.contains("member p00@example.org") && body.contains("Signed in to workspace"),
        "{body}"
    );
    assert!(body.contains("Workspace created"));
}
on_both_stores!(the_activity_tab_lists_events_newest_first_in_pages);

#[tokio::test]
async fn portal_output_escapes_what_people_typed() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut p = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, body) = p
        .post(
            "/workspaces",
            &[("name", "<script>alert(1)</script>"), ("region", "EU")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("<script>alert(1)</script>"));
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || body.contains("&lt;script&gt;"),
        "{body}"
    );
}
