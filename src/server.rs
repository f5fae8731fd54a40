//! Running the server: start-up work, background tasks, and graceful shutdown.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::clock;
use crate::config::Config;
use crate::http::pages::demo;
use crate::state::{AppState, StartError};

/// Builds the state and does the start-up work: migrations, keys, the demo client.
pub async fn prepare(config: Config) -> Result<AppState, StartError> {
    let now = clock::now();
    let state = AppState::build(config, now).await?;
    if state.config.demo_enabled() {
        demo::ensure_client(&state, now).await?;
    }
    Ok(state)
}

/// Background work of a node: re-reading the keys directory (rotation by another process)
/// and purging expired rows.
pub fn spawn_background(state: &AppState) {
    let keys = state.keys.clone();
    let every = Duration::from_secs(state.config.keys.reload_seconds.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = keys.reload().await {
                tracing::error!(error = %e, "reloading keys failed; keeping the loaded ones");
            }
        }
    });
    state.mailer.spawn_worker();
    let store = state.store.clone();
    tokio::spawn(async move {
        // The first tick fires at once: expired registrations are purged at start as well.
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            purge(&store, clock::now()).await;
        }
    });
}

/// Deletes what has expired: grants and tokens, federated logins and partners' per-transaction
/// data (R-FED-4), pending registrations (R-REG-4) and links.
pub async fn purge(store: &crate::store::Store, now: clock::Timestamp) {
    match store.purge_expired(now, crate::grants::PARTNER_RETENTION_SECONDS).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired grants and tokens"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "purge failed"),
    }
    match crate::accounts::registration::purge(store, now).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired registrations and links"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "purge failed"),
    }
}

/// Serves `state` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish for at most `shutdown_grace_seconds`.
pub async fn serve(state: AppState, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    spawn_background(&state);
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = crate::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(());
    });
    let deadline = async move {
        if stopped.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(seconds = grace.as_secs(), "requests still running after the shutdown grace period; exiting");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
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
    tracing::info!("shutting down");
}
