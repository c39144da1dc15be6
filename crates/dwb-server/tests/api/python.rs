//! A Python script written like the hosted Data Workbench's clients (only
//! `requests`, form POST with `resource`, then the two headers) works against
//! dwb after changing its two URLs; PyJWT verifies the token with the JWKS.

use dwb_core::access::{Access, Level};
use dwb_store::Backend;

use crate::accounts::account;
use crate::helpers::spawn_app;
use crate::on_both_stores;

async fn a_hosted_data_workbench_script_runs_unchanged_but_for_two_urls(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = account(&app, app.demo.id, Access::Workspace(Level::Reader)).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/python/hosted_client.py"
    );
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .env("DWB_TOKEN_URL", app.url("/oauth2/token"))
        .env("DWB_BASE_URL", app.url("/api/v2"))
        .env(
            "DWB_DISCOVERY_URL",
            app.url("/.well-known/openid-configuration"),
        )
        .env("DWB_CLIENT_ID", c.id.to_string())
        .env("DWB_CLIENT_SECRET", &c.secret)
        .env("DWB_API_KEY", &c.key)
        .env("DWB_WORKSPACE_ID", app.demo.id.to_string())
        .output()
        .await
        .expect("python3 runs (the README's test command installs requests and PyJWT)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the script failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("workspace: Demo") && stdout.contains("token verified"),
        "{stdout}"
    );
}
on_both_stores!(a_hosted_data_workbench_script_runs_unchanged_but_for_two_urls);
