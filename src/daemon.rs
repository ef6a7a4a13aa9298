//! `vigie run`: starts the sources and the alert dispatcher, and handles signals.
//!
//! SIGTERM or SIGINT cancels every task. Sources finish the finding in hand, which is one
//! store transaction, so nothing is half-written. The dispatcher finishes the delivery in
//! flight. Tasks still running after `shutdown_grace_secs` are aborted. SIGHUP reloads the configuration: a
//! configuration that does not load is logged and the running one is kept. Under systemd the
//! daemon reports READY, RELOADING, STOPPING and watchdog pings through sd_notify.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::alert::{Dispatcher, Sink};
use crate::config::{self, Config};
use crate::pipeline::Pipeline;
use crate::sources::{self, SourceContext};
use crate::store::Store;

/// File name of the store inside the state folder.
pub const STORE_FILE: &str = "vigie.db";

/// Returns the path of the store for a configuration.
pub fn store_path(config: &Config) -> PathBuf {
    config.daemon.state_dir.join(STORE_FILE)
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config_path: &Path, config: Config) -> anyhow::Result<()> {
    let path = store_path(&config);
    let store = Arc::new(
        Store::open(&path).with_context(|| format!("cannot open the store {}", path.display()))?,
    );
    info!(config = %config_path.display(), store = %path.display(), watchlists = config.watchlists.len(), sinks = config.sinks.len(), "Starting vigie.");

    let (config_tx, config_rx) = watch::channel(Arc::new(config));
    let wake = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();
    let pipeline = Pipeline::new(store.clone(), config_rx.clone(), wake.clone());

    let sinks = build_sinks(&config_tx.borrow())?;
    let mut dispatcher = start_dispatcher(&store, sinks, &config_tx.borrow(), &wake, &shutdown);
    let health = pipeline.health().clone();
    let health_watch = tokio::spawn(crate::health::watch::run(
        health.clone(),
        pipeline.clone(),
        config_rx.clone(),
        HEALTH_CHECK_PERIOD,
        shutdown.clone(),
    ));
    let health_server =
        start_health_server(&config_tx.borrow(), &health, &store, &shutdown).await?;
    let response_watch = tokio::spawn(crate::case::watch::run(
        store.clone(),
        config_rx.clone(),
        wake.clone(),
        shutdown.clone(),
    ));
    let context = SourceContext {
        pipeline,
        config: config_rx,
        shutdown: shutdown.clone(),
    };
    let mut tasks: Vec<(&'static str, JoinHandle<()>)> = vec![
        (
            sources::lookalike::SOURCE,
            tokio::spawn(sources::lookalike::run(context.clone())),
        ),
        (
            sources::nrd::SOURCE,
            tokio::spawn(sources::nrd::run(context.clone())),
        ),
        (
            sources::inbox::SOURCE,
            tokio::spawn(sources::inbox::run(context.clone())),
        ),
        (
            crate::intake::SOURCE,
            tokio::spawn(crate::intake::run(context.clone())),
        ),
        (
            sources::feed::SOURCE,
            tokio::spawn(sources::feed::run(context.clone())),
        ),
        (
            sources::scam_repository::SOURCE,
            tokio::spawn(sources::scam_repository::run(context.clone())),
        ),
        (
            sources::social::SOURCE,
            tokio::spawn(sources::social::run(context.clone())),
        ),
        (
            crate::watch::SOURCE,
            tokio::spawn(crate::watch::run(context.clone())),
        ),
        (sources::ct::SOURCE, tokio::spawn(sources::ct::run(context))),
        ("response-watch", response_watch),
    ];

    // Handlers go in before READY: systemd may send SIGHUP as soon as it sees READY, and the
    // default action of SIGHUP would end the process.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;
    notify_systemd(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("watching"),
    ]);
    let watchdog = start_watchdog(shutdown.clone());
    let memory_trim = start_memory_trim(shutdown.clone());

    loop {
        tokio::select! {
            _ = sigterm.recv() => { info!(signal = "SIGTERM", "Stopping vigie."); break; }
            _ = sigint.recv() => { info!(signal = "SIGINT", "Stopping vigie."); break; }
            _ = sighup.recv() => {
                // A reload waits for the old dispatcher's send in flight, up to a sink's
                // timeout, so a stop signal must still be heard meanwhile.
                let reloading = reload(config_path, &config_tx, &store, &wake, &shutdown, &mut dispatcher);
                tokio::select! {
                    () = reloading => {}
                    _ = sigterm.recv() => { info!(signal = "SIGTERM", "Stopping vigie during a reload."); break; }
                    _ = sigint.recv() => { info!(signal = "SIGINT", "Stopping vigie during a reload."); break; }
                }
            }
        }
    }

    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    shutdown.cancel();
    let grace = Duration::from_secs(config_tx.borrow().daemon.shutdown_grace_secs);
    tasks.push(("dispatcher", dispatcher.handle));
    tasks.push(("health-watch", health_watch));
    if let Some(server) = health_server {
        tasks.push(("health-server", server));
    }
    if let Some(watchdog) = watchdog {
        tasks.push(("watchdog", watchdog));
    }
    tasks.push(("memory-trim", memory_trim));
    wait_for_tasks(tasks, grace).await;
    info!("Stopped vigie.");
    Ok(())
}

/// Hands freed heap memory back to the system every [`crate::memory::TRIM_PERIOD`], so that
/// the resident memory of an idle daemon falls back after a burst.
fn start_memory_trim(shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(crate::memory::TRIM_PERIOD);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let _ = tokio::task::spawn_blocking(crate::memory::trim).await;
        }
    })
}

/// Time between two blind-source checks.
const HEALTH_CHECK_PERIOD: Duration = Duration::from_secs(30);

/// Starts the `/healthz` and `/metrics` endpoint when `[health] listen` is set. A port that
/// cannot be bound stops the start, since a monitoring gap would otherwise go unnoticed.
async fn start_health_server(
    config: &Config,
    health: &crate::health::Health,
    store: &Arc<Store>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let Some(listen) = config.health.listen else {
        return Ok(None);
    };
    let state = crate::health::server::HealthState {
        health: health.clone(),
        store: store.clone(),
        blind_after: Duration::from_secs(config.health.blind_after_secs),
    };
    let handle = crate::health::server::serve(listen, state, shutdown.clone())
        .await
        .with_context(|| {
            format!(
                "cannot listen on {listen} (health.listen in the configuration); choose a free port"
            )
        })?;
    info!(%listen, "Serving /healthz and /metrics.");
    Ok(Some(handle))
}

/// The running dispatcher and the token that stops it alone (on reload).
struct RunningDispatcher {
    handle: JoinHandle<()>,
    stop: CancellationToken,
}

fn build_sinks(config: &Config) -> anyhow::Result<BTreeMap<String, Sink>> {
    let mut sinks = BTreeMap::new();
    for (name, sink) in &config.sinks {
        let sink =
            Sink::from_config(name, sink).with_context(|| format!("cannot set up sink {name}"))?;
        sinks.insert(name.clone(), sink);
    }
    Ok(sinks)
}

fn start_dispatcher(
    store: &Arc<Store>,
    sinks: BTreeMap<String, Sink>,
    config: &Config,
    wake: &Arc<Notify>,
    shutdown: &CancellationToken,
) -> RunningDispatcher {
    let dispatcher = Dispatcher::new(store.clone(), sinks, config.dispatcher.clone())
        .with_policies(config.sink_policies.clone());
    let stop = shutdown.child_token();
    let handle = tokio::spawn(dispatcher.run(wake.clone(), stop.clone()));
    RunningDispatcher { handle, stop }
}

/// Loads the configuration again. On success the dispatcher is stopped, then started again with
/// the new sinks, and the sources see the new configuration. Two dispatchers never run at
/// once, so a reload sends no alert twice. On failure the running configuration stays.
async fn reload(
    config_path: &Path,
    config_tx: &watch::Sender<Arc<Config>>,
    store: &Arc<Store>,
    wake: &Arc<Notify>,
    shutdown: &CancellationToken,
    dispatcher: &mut RunningDispatcher,
) {
    notify_systemd(&[sd_notify::NotifyState::Reloading, monotonic_now()]);
    info!(config = %config_path.display(), "Reloading the configuration.");
    match load_for_reload(config_path) {
        Err(error) => {
            error!(config = %config_path.display(), error = format!("{error:#}"), "Reload failed, keeping the running configuration.");
        }
        Ok((new_config, sinks)) => {
            let old_state = config_tx.borrow().daemon.state_dir.clone();
            if new_config.daemon.state_dir != old_state {
                warn!(old = %old_state.display(), new = %new_config.daemon.state_dir.display(), "The state folder changes only on restart.");
            }
            dispatcher.stop.cancel();
            let _ = (&mut dispatcher.handle).await;
            *dispatcher = start_dispatcher(store, sinks, &new_config, wake, shutdown);
            config_tx.send_replace(Arc::new(new_config));
            info!("Reloaded the configuration.");
        }
    }
    notify_systemd(&[sd_notify::NotifyState::Ready]);
}

fn load_for_reload(config_path: &Path) -> anyhow::Result<(Config, BTreeMap<String, Sink>)> {
    let config = config::load(config_path).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let sinks = build_sinks(&config)?;
    Ok((config, sinks))
}

fn monotonic_now() -> sd_notify::NotifyState<'static> {
    match sd_notify::NotifyState::monotonic_usec_now() {
        Ok(state) => state,
        Err(_) => sd_notify::NotifyState::Status("reloading"),
    }
}

/// Sends watchdog pings at half the period systemd requests, while the runtime is alive.
fn start_watchdog(shutdown: CancellationToken) -> Option<JoinHandle<()>> {
    let period = sd_notify::watchdog_enabled()?;
    info!(period_ms = period.as_millis() as u64, "Watchdog enabled.");
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period / 2);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => notify_systemd(&[sd_notify::NotifyState::Watchdog]),
            }
        }
    }))
}

fn notify_systemd(states: &[sd_notify::NotifyState<'_>]) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let message: String = states.iter().map(|state| format!("{state}\n")).collect();
    match send_notification(&path, &message) {
        Ok(()) => {}
        // The manager's queue is full: dropping one ping or status is better than blocking a
        // runtime thread until it reads (sd_notify::notify would block).
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
            tracing::debug!("The notification socket is full; notification dropped.");
        }
        Err(error) => warn!(%error, "Cannot notify systemd."),
    }
}

/// Sends one notification datagram without blocking. A path starting with `@` names a socket
/// in the abstract namespace, as systemd's `NOTIFY_SOCKET` may.
fn send_notification(path: &std::ffi::OsStr, message: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixDatagram;

    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    let bytes = path.as_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        socket.send_to_addr(message.as_bytes(), &address)?
    } else {
        socket.send_to(message.as_bytes(), path)?
    };
    if sent == message.len() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            "incomplete notification",
        ))
    }
}

/// Waits for every task until `grace` runs out, then names and aborts the ones still running.
async fn wait_for_tasks(tasks: Vec<(&'static str, JoinHandle<()>)>, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    for (name, mut handle) in tasks {
        match tokio::time::timeout_at(deadline, &mut handle).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => error!(task = name, %error, "Task ended abnormally."),
            Err(_) => {
                warn!(
                    task = name,
                    grace_secs = grace.as_secs(),
                    "Task still running after the grace period, aborting it."
                );
                handle.abort();
            }
        }
    }
}
