//! `dwb serve`: configuration, logs, store, first start, listening, and a
//! graceful shutdown on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use dwb_core::{Clock, SystemClock};
use tokio::net::TcpListener;

use crate::app::build_router;
use crate::bootstrap::first_start;
use crate::cli::{open_store, ServeArgs};
use crate::config::{LogFormat, Overrides};
use crate::keys::load_master_key;
use crate::state::{AppState, Settings};

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = args.store.config(Overrides {
        listen: args.listen.clone(),
        public_url: args.public_url.clone(),
        ..Default::default()
    })?;
    init_logging(cfg.log_format);
    let store = Arc::new(open_store(&cfg).await?);
    let master = load_master_key(
        std::env::var("DWB_MASTER_KEY").ok().as_deref(),
        &cfg.data_dir,
    )?;
    let clock = Arc::new(SystemClock);
    let first = first_start(
        store.as_ref(),
        clock.as_ref(),
        args.admin_email.as_deref(),
        args.admin_password.as_deref(),
    )
    .await?;
    let lake = cfg.lake()?;
    if first.is_some() {
        import_demo(store.as_ref(), &lake, clock.now()).await;
    }
    if let Some(first) = first {
        println!(
            "First start: created tenant \"Default\", workspace \"Demo\" and the admin {}.",
            first.email
        );
        if let Some(p) = &first.one_time_password {
            println!("One-time password for {} (shown only now; you choose your own at first sign-in): {}", first.email, p.expose());
        }
    }
    let listener = TcpListener::bind(&cfg.listen).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "the address is already in use; stop the other program or choose another address with --listen or DWB_LISTEN"
        } else {
            "check --listen or DWB_LISTEN"
        };
        anyhow::anyhow!("cannot listen on {}: {e}; {hint}", cfg.listen)
    })?;
    let bound = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let settings = Settings::new(&cfg, bound);
    println!(
        "dwb is listening on http://{bound} (public URL {})",
        settings.public_url()
    );
    let state = AppState::build(store.clone(), clock, settings, master, lake).await?;
    state.spawn_background();
    crate::sweep::spawn(&state);
    run(listener, build_router(state.clone()), shutdown_signal()).await?;
    // API call events and "last used" times are buffered for up to a
    // second: write what the last requests left before the store closes.
    state.usage.flush(store.as_ref()).await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

const DEMO_CSV: &[u8] = include_bytes!("../demo/sensor-readings.csv");

/// Imports the sample data set into workspace "Demo" on first start, so a
/// newcomer sees data at once. A failure is logged, not fatal.
async fn import_demo(
    store: &dyn dwb_store::Store,
    lake: &dwb_lake::Lake,
    now: dwb_core::Timestamp,
) {
    let result = async {
        let tenant = store.default_tenant().await?.ok_or_else(|| anyhow::anyhow!("no tenant"))?;
        let ws = store
            .workspace_by_name(tenant.id, "Demo")
            .await?
            .ok_or_else(|| anyhow::anyhow!("no Demo workspace"))?;
        let ops = crate::datasets::DataOps::once(store, lake, now);
        let actor = crate::ledger::Actor::system();
        let columns = serde_json::json!([
            {"name": "Time", "displayName": "Time", "type": "DateTime", "isRequired": true, "isKey": true},
            {"name": "Sensor", "displayName": "Sensor", "type": "String", "isRequired": true, "isKey": true},
            {"name": "Temperature", "displayName": "Temperature (°C)", "type": "Decimal"},
            {"name": "Humidity", "displayName": "Humidity (%)", "type": "Double"},
            {"name": "Status", "displayName": "Status", "type": "String"}
        ]);
        let schema = ops
            .create_schema(&actor, &ws, "Sensor readings", "sensors", "Hourly readings of a ship's sensors", &columns)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ops.import_csv(
            &actor,
            &ws,
            "Sensor readings January 2026",
            "Hourly temperature and humidity of five sensors on board (sample data)",
            serde_json::json!({"source": ["sample"]}),
            schema.default_version_id,
            DEMO_CSV,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not import the sample data set");
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
