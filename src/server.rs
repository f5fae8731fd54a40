//! Running the server: start-up work, background tasks, and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

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
    state.mailer.spawn_worker(state.clock.clone());
    let store = state.store.clone();
    let clock = state.clock.clone();
    let audit_days = state.config.audit.retention_days;
    tokio::spawn(async move {
        // The first tick fires at once: expired registrations are purged at start as well.
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            purge(&store, audit_days, clock.now()).await;
        }
    });
}

/// Deletes what has expired: grants and tokens, federated logins and partners' per-transaction
/// data (R-FED-4), pending registrations (R-REG-4) and links, organisation users who never
/// activated their access (R-ORG-4), idempotency keys (R-API-4), audit
/// events older than `audit_days` (R-SEC-6).
pub async fn purge(store: &crate::store::Store, audit_days: u32, now: clock::Timestamp) {
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
    match crate::orgs::purge_unactivated(store, now).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "purged organisation users who never activated their access"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "purge failed"),
    }
    match crate::idempotency::purge(store, now).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired idempotency keys"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "purge failed"),
    }
    match crate::audit::purge(store, audit_days, now).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "purged audit events past their retention"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "purge failed"),
    }
}

/// Serves `state` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish for at most `shutdown_grace_seconds`. HTTP/1.1 with a header-read timeout
/// (`header_read_timeout_seconds`) and at most `max_connections` connections at once: a slow
/// client cannot hold a connection by sending its headers byte by byte, nor many clients all of
/// them (R-SEC-2).
pub async fn serve(state: AppState, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    spawn_background(&state);
    let config = state.config.clone();
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.header_read_timeout_seconds));
    let limit = config.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(limit));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let router = crate::app(state);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = TowerToHyperService::new(tower::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        }));
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = async { drop(stop.wait_for(|s| *s).await) } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(slot);
        });
    }
    // No new connections; those open finish what they are doing and close.
    let _ = stop_tx.send(true);
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(limit)).await.is_err() {
        tracing::warn!(
            seconds = grace.as_secs(),
            "requests still running after the shutdown grace period; exiting"
        );
    }
    Ok(())
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
