//! The `ct` source: follows Certificate Transparency logs (RFC 6962) and matches every DNS
//! name of every certificate they log against the watchlists.
//!
//! ```text
//! log list (file or URL) + [ct.logs.NAME]  ->  one task per log (follow.rs)
//!     get-sth -> get-entries in batches --body--> worker pool (process.rs):
//!         JSON, leaf, x509-parser, names, matcher --findings--> Pipeline::submit
//!     -> position saved (with the malformed entries) once the findings are committed
//! ```
//!
//! This task reads the log list again every `log_list_refresh_secs` and on reload. It
//! compiles the matcher when the watchlists change, and the log tasks use the new one from
//! their next batch on. It starts or stops log tasks when the logs or their settings change.

mod client;
mod follow;
mod process;
mod workers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::SourceContext;
use crate::config::{Config, CtConfig, LogListLocation};
use crate::ct::{LogList, parse_log_list};
use crate::detect::{BrandSpec, Matcher};

pub use client::{FetchError, LogClient, parse_retry_after};
pub use follow::{FollowError, Follower, LogPlan, PassStats, retry_delay};
pub use process::{BatchOutcome, ISSUER_FACT, LogRef, SOURCE, decode_body, process_entries};
pub use workers::Workers;

/// Wait before a log list that failed to load is tried again, when shorter than the
/// refresh interval.
const LIST_RETRY: Duration = Duration::from_secs(300);

/// A running log task.
struct LogTask {
    plan: LogPlan,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

/// State of the source between two configuration changes.
#[derive(Default)]
struct Supervisor {
    tasks: HashMap<String, LogTask>,
    list: Option<LoadedList>,
    matcher: Option<(Vec<BrandSpec>, watch::Sender<Arc<Matcher>>)>,
    workers: Option<Workers>,
}

/// The last log list read, with where it came from and when to read it again.
struct LoadedList {
    location: LogListLocation,
    list: LogList,
    refresh_at: Instant,
}

/// Runs the source until shutdown.
pub async fn run(mut ctx: SourceContext) {
    let mut state = Supervisor::default();
    // Once the sender is gone the configuration cannot change any more; the logs are still
    // followed until shutdown.
    let mut config_open = true;
    loop {
        let config = ctx.config.borrow_and_update().clone();
        let wake_at = state.reconcile(&ctx, &config).await;
        let sleep = async {
            match wake_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let changed = async {
            if !config_open || ctx.config.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            () = changed => {}
            () = sleep => {}
        }
        config_open = config_open && ctx.config.has_changed().is_ok();
    }
    state.stop_all(|_| true).await;
}

impl Supervisor {
    /// Brings the running tasks in line with `config`; returns when to look again for a log
    /// list refresh.
    async fn reconcile(&mut self, ctx: &SourceContext, config: &Config) -> Option<Instant> {
        let Some(ct) = &config.ct else {
            self.stop_all(|_| true).await;
            return None;
        };
        let matcher = self.matcher_for(config).await?;
        let workers = self.workers_for(ct).await;
        let refresh_at = self.refresh_list(ct).await;

        let plans = plan_logs(ct, self.list.as_ref().map(|loaded| &loaded.list));
        self.stop_all(|task| plans.iter().all(|plan| *plan != task.plan))
            .await;
        for plan in plans {
            if self.tasks.contains_key(&plan.url) {
                continue;
            }
            let stop = ctx.shutdown.child_token();
            let task_ctx = SourceContext {
                shutdown: stop.clone(),
                ..ctx.clone()
            };
            let follower = match Follower::new(
                task_ctx,
                plan.clone(),
                matcher.clone(),
                workers.clone(),
            ) {
                Ok(follower) => follower,
                Err(error) => {
                    error!(log = %plan.name, %error, "Cannot build the HTTP client of a CT log.");
                    continue;
                }
            };
            let handle = tokio::spawn(follower.follow());
            self.tasks
                .insert(plan.url.clone(), LogTask { plan, stop, handle });
        }
        refresh_at
    }

    /// Returns the matcher channel, compiling the watchlists again when they changed. A
    /// failed compilation keeps the previous matcher; with none, no log is followed.
    async fn matcher_for(&mut self, config: &Config) -> Option<watch::Receiver<Arc<Matcher>>> {
        let specs: Vec<BrandSpec> = config.watchlists.iter().map(BrandSpec::from).collect();
        if let Some((compiled, sender)) = &self.matcher
            && *compiled == specs
        {
            return Some(sender.subscribe());
        }
        let to_compile = specs.clone();
        let compiled = tokio::task::spawn_blocking(move || Matcher::compile(&to_compile)).await;
        match compiled {
            Ok(Ok(matcher)) => {
                let matcher = Arc::new(matcher);
                match &mut self.matcher {
                    Some((known, sender)) => {
                        *known = specs;
                        sender.send_replace(matcher);
                    }
                    None => self.matcher = Some((specs, watch::channel(matcher).0)),
                }
                info!(
                    brands = config.watchlists.len(),
                    "Compiled the matcher of the CT source."
                );
            }
            Ok(Err(error)) => {
                error!(%error, "The watchlists do not compile into a matcher; the CT source keeps its previous one.");
            }
            Err(error) => error!(%error, "Compiling the matcher of the CT source failed."),
        }
        self.matcher.as_ref().map(|(_, sender)| sender.subscribe())
    }

    /// Returns the worker pool, making it again (and restarting every log task) when its
    /// size changed.
    async fn workers_for(&mut self, ct: &CtConfig) -> Workers {
        let wanted = Workers::new(ct.workers);
        match &self.workers {
            Some(workers) if workers.size() == wanted.size() => workers.clone(),
            _ => {
                self.stop_all(|_| true).await;
                info!(workers = wanted.size(), "Started the CT worker pool.");
                self.workers = Some(wanted.clone());
                wanted
            }
        }
    }

    /// Reads the log list when it is due or its location changed; returns when to read it
    /// again. A list that fails to load is logged and the previous one kept.
    async fn refresh_list(&mut self, ct: &CtConfig) -> Option<Instant> {
        let Some(location) = &ct.log_list else {
            self.list = None;
            return None;
        };
        let refresh = Duration::from_secs(ct.log_list_refresh_secs);
        if let Some(loaded) = &self.list
            && loaded.location == *location
            && Instant::now() < loaded.refresh_at
        {
            return Some(loaded.refresh_at);
        }
        match load_log_list(location, ct).await {
            Ok(list) => {
                for problem in &list.problems {
                    warn!(problem = %problem, "Log list entry skipped.");
                }
                info!(list = %describe(location), logs = list.logs.len(), "Read the CT log list.");
                let refresh_at = Instant::now() + refresh;
                self.list = Some(LoadedList {
                    location: location.clone(),
                    list,
                    refresh_at,
                });
                Some(refresh_at)
            }
            Err(error) => {
                let retry_at = Instant::now() + refresh.min(LIST_RETRY);
                if self.list.as_ref().is_some_and(|l| l.location == *location) {
                    warn!(list = %describe(location), %error, "Reading the CT log list failed; keeping the previous one.");
                } else {
                    error!(list = %describe(location), %error, "Reading the CT log list failed; following only the [ct.logs] tables until it loads.");
                    self.list = None;
                }
                Some(retry_at)
            }
        }
    }

    /// Stops the tasks for which `which` is true and waits for them.
    async fn stop_all(&mut self, which: impl Fn(&LogTask) -> bool) {
        let urls: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, task)| which(task))
            .map(|(url, _)| url.clone())
            .collect();
        let mut stopped = Vec::new();
        for url in urls {
            if let Some(task) = self.tasks.remove(&url) {
                task.stop.cancel();
                stopped.push(task);
            }
        }
        for task in stopped {
            let _ = task.handle.await;
            info!(log = %task.plan.name, "Stopped following a CT log.");
        }
    }
}

fn describe(location: &LogListLocation) -> String {
    match location {
        LogListLocation::Url(url) => url.clone(),
        LogListLocation::Path(path) => path.display().to_string(),
    }
}

/// Reads the log list from its file or URL, within `max_response_bytes`.
async fn load_log_list(location: &LogListLocation, ct: &CtConfig) -> Result<LogList, String> {
    let origin = describe(location);
    let bytes = match location {
        LogListLocation::Path(path) => {
            let path = path.clone();
            let max = ct.max_response_bytes;
            tokio::task::spawn_blocking(move || read_capped(&path, max))
                .await
                .map_err(|error| error.to_string())??
        }
        LogListLocation::Url(url) => {
            let client = LogClient::new(
                url,
                Duration::from_secs(ct.timeout_secs),
                ct.max_response_bytes,
                &extra_roots(ct),
            )?;
            client.fetch(url).await.map_err(|error| error.to_string())?
        }
    };
    parse_log_list(&bytes, &origin).map_err(|error| error.to_string())
}

fn read_capped(path: &std::path::Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "{} is larger than max_response_bytes ({max} bytes)",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Returns the logs to follow: the listed logs in one of `ct.states`, and every enabled
/// `[ct.logs.NAME]` table, whose settings override `[ct]`'s. A table with `enabled = false`
/// removes its log; a table for a listed log in another state adds it.
pub fn plan_logs(ct: &CtConfig, list: Option<&LogList>) -> Vec<LogPlan> {
    let mut plans: Vec<LogPlan> = Vec::new();
    let listed = list.map_or(&[][..], |list| &list.logs[..]);
    for log in listed {
        let table = ct.logs.values().find(|table| table.url == log.url);
        let wanted = match table {
            Some(table) => table.enabled,
            None => ct.states.contains(&log.state),
        };
        if !wanted || plans.iter().any(|plan| plan.url == log.url) {
            continue;
        }
        let description = if log.description.is_empty() {
            log.url.clone()
        } else {
            log.description.clone()
        };
        plans.push(plan(ct, table, &log.url, &description));
    }
    for table in ct.logs.values() {
        if !table.enabled || plans.iter().any(|plan| plan.url == table.url) {
            continue;
        }
        let description = table
            .description
            .clone()
            .unwrap_or_else(|| table.name.clone());
        plans.push(plan(ct, Some(table), &table.url, &description));
    }
    plans
}

fn plan(
    ct: &CtConfig,
    table: Option<&crate::config::CtLogConfig>,
    url: &str,
    description: &str,
) -> LogPlan {
    let description = table
        .and_then(|t| t.description.clone())
        .unwrap_or_else(|| description.to_string());
    LogPlan {
        name: table.map_or_else(|| description.clone(), |t| t.name.clone()),
        description,
        url: url.to_string(),
        batch_size: table.and_then(|t| t.batch_size).unwrap_or(ct.batch_size),
        parallel_requests: table
            .and_then(|t| t.parallel_requests)
            .unwrap_or(ct.parallel_requests),
        poll_interval: Duration::from_secs(
            table
                .and_then(|t| t.poll_interval_secs)
                .unwrap_or(ct.poll_interval_secs),
        ),
        backfill: table.and_then(|t| t.backfill).unwrap_or(ct.backfill),
        start_index: table.and_then(|t| t.start_index),
        timeout: Duration::from_secs(ct.timeout_secs),
        max_response_bytes: ct.max_response_bytes,
        retry_max: Duration::from_secs(ct.retry_max_secs),
        extra_roots: extra_roots(ct),
    }
}

/// Returns the certificates of `[ct] ca_file`, trusted besides the system's roots.
fn extra_roots(ct: &CtConfig) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    ct.ca_file
        .as_ref()
        .map(|file| file.certificates.clone())
        .unwrap_or_default()
}
