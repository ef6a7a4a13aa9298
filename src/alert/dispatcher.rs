//! The dispatcher: empties the outbox into the sinks, retrying each failed row with
//! exponential backoff until its sink accepts it.
//!
//! Rows are grouped by sink and the sinks are served concurrently, so a sink that hangs until
//! its timeout does not delay another. Within a sink, rows go out oldest first. When a row
//! fails, its sink is paused until that row's retry time: the sink's other rows wait rather
//! than each paying a connection timeout, and the oldest row probes the sink when the pause
//! ends. A row is marked
//! delivered only after the sink accepted it: a crash between the two sends it again, which
//! the idempotency key makes harmless to receivers.
//!
//! A sink with a rate limit or quiet hours ([`SinkPolicy`]) gets its non-critical alerts held
//! back and sent together as one digest; critical alerts always go at once.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::policy::{DigestReason, SinkPolicy, digest_row, severity_of};
use super::{Sink, SinkError};
use crate::config::{Config, DispatcherConfig};
use crate::model::Severity;
use crate::store::{OutboxAlert, Store, StoreError};

/// Rows fetched per pass; a full batch starts the next pass at once.
const BATCH: usize = 100;
/// Maximum sleep when nothing is due, so a wall-clock jump is noticed within this time.
const MAX_IDLE: Duration = Duration::from_secs(60);
/// Sleep after a pass failed on the store itself, so a broken database is not hammered.
const STORE_ERROR_PAUSE: Duration = Duration::from_secs(5);
/// Age past which an undelivered alert is logged at ERROR (once per row and process).
const OVERDUE: time::Duration = time::Duration::hours(1);

/// Delivers outbox rows to the configured sinks. See the module documentation.
pub struct Dispatcher {
    store: Arc<Store>,
    sinks: BTreeMap<String, Sink>,
    config: DispatcherConfig,
    /// Rows already reported as overdue.
    overdue: Mutex<HashSet<i64>>,
    /// Sinks paused after a failure, with the time their next attempt is due.
    paused: Mutex<BTreeMap<String, OffsetDateTime>>,
    /// Rows a sink accepted but whose delivery the store has not recorded yet (a full disk),
    /// so that the next passes record them without sending them again.
    // NOTE: kept in memory only, so a restart or a reload in that state sends them once more.
    unrecorded: Mutex<HashSet<i64>>,
    /// Rate limits and quiet hours, by sink name.
    policies: BTreeMap<String, SinkPolicy>,
    /// Send times of the messages of each rate-limited sink in the last hour.
    // NOTE: kept in memory only, so the first hour after a start may exceed the limit once.
    sent: Mutex<HashMap<String, VecDeque<OffsetDateTime>>>,
}

/// Outcome of one pass over the due rows.
struct Pass {
    fetched: usize,
    delivered: usize,
}

impl Dispatcher {
    pub fn new(
        store: Arc<Store>,
        sinks: BTreeMap<String, Sink>,
        config: DispatcherConfig,
    ) -> Dispatcher {
        Dispatcher {
            store,
            sinks,
            config,
            overdue: Mutex::new(HashSet::new()),
            paused: Mutex::new(BTreeMap::new()),
            unrecorded: Mutex::new(HashSet::new()),
            policies: BTreeMap::new(),
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Applies rate limits and quiet hours, by sink name.
    pub fn with_policies(mut self, policies: BTreeMap<String, SinkPolicy>) -> Dispatcher {
        self.policies = policies;
        self
    }

    /// Builds every sink of the configuration. Fails on the first invalid sink.
    pub fn from_config(store: Arc<Store>, config: &Config) -> Result<Dispatcher, SinkError> {
        let sinks = config
            .sinks
            .iter()
            .map(|(name, sink)| Ok((name.clone(), Sink::from_config(name, sink)?)))
            .collect::<Result<_, SinkError>>()?;
        Ok(Dispatcher::new(store, sinks, config.dispatcher.clone())
            .with_policies(config.sink_policies.clone()))
    }

    /// Delivers every row due now, once, and returns how many were delivered. Failed rows are
    /// rescheduled. At most one batch of rows is taken.
    pub async fn deliver_due(&self) -> Result<usize, SinkError> {
        let pass = self.pass(&CancellationToken::new()).await?;
        Ok(pass.delivered)
    }

    /// Delivers alerts until `shutdown` is cancelled. Between passes it sleeps until the next
    /// retry is due or `wake` is notified (use `notify_one`, which is not lost when the
    /// dispatcher is busy). On shutdown the sends in flight finish, then it returns.
    pub async fn run(self, wake: Arc<Notify>, shutdown: CancellationToken) {
        tracing::info!(sinks = ?self.sinks.keys().collect::<Vec<_>>(), "Alert dispatcher started.");
        self.report_unknown_sinks().await;

        while !shutdown.is_cancelled() {
            let pause = match self.pass(&shutdown).await {
                Ok(pass) if pass.fetched == BATCH => continue,
                Ok(_) => self.idle_time().await,
                Err(error) => {
                    tracing::error!(%error, "Alert dispatch pass failed.");
                    STORE_ERROR_PAUSE
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = wake.notified() => {}
                () = shutdown.cancelled() => {}
            }
        }
        tracing::info!("Alert dispatcher stopped.");
    }

    async fn pass(&self, shutdown: &CancellationToken) -> Result<Pass, SinkError> {
        let now = OffsetDateTime::now_utc();
        let names = self.active_sinks(now);
        let rows = self
            .blocking(move |store| store.due_alerts_for(&names, now, BATCH))
            .await?;
        let fetched = rows.len();

        let mut by_sink: BTreeMap<String, Vec<OutboxAlert>> = BTreeMap::new();
        for row in rows {
            by_sink.entry(row.sink.clone()).or_default().push(row);
        }
        let sends = by_sink
            .into_iter()
            .filter_map(|(name, rows)| Some((self.sinks.get(&name)?, rows)))
            .map(|(sink, rows)| self.deliver_to(sink, rows, shutdown));

        let mut delivered = 0;
        for result in futures::future::join_all(sends).await {
            delivered += result?;
        }
        Ok(Pass { fetched, delivered })
    }

    /// Sends rows to one sink, applying its policy: critical rows go one by one, others may
    /// be held or sent as a digest.
    async fn deliver_to(
        &self,
        sink: &Sink,
        rows: Vec<OutboxAlert>,
        shutdown: &CancellationToken,
    ) -> Result<usize, SinkError> {
        let Some(name) = rows.first().map(|row| row.sink.clone()) else {
            return Ok(0);
        };
        let policy = self.policies.get(&name).copied().unwrap_or_default();
        if policy.is_open() {
            return self.deliver_each(sink, rows, shutdown).await;
        }
        let now = OffsetDateTime::now_utc();
        let (critical, rest): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .partition(|row| severity_of(row) == Severity::Critical);
        let mut delivered = self.deliver_each(sink, critical, shutdown).await?;
        if rest.is_empty() || shutdown.is_cancelled() {
            return Ok(delivered);
        }

        if let Some(end) = policy
            .quiet_hours
            .and_then(|quiet| quiet.end_of_window(now))
        {
            let ids: Vec<i64> = rest.iter().map(|row| row.id).collect();
            tracing::info!(sink = name, alerts = ids.len(), until = %end, "Holding alerts during quiet hours.");
            self.blocking(move |store| store.defer_alerts(&ids, end))
                .await?;
            return Ok(delivered);
        }

        // Alerts held by the quiet hours that just ended leave as one digest.
        let (held, mut normal): (Vec<_>, Vec<_>) = rest.into_iter().partition(|row| {
            policy
                .quiet_hours
                .is_some_and(|quiet| quiet.held(row.created_at, now))
        });
        if held.len() >= 2 {
            delivered += self
                .deliver_digest(sink, &name, held, DigestReason::QuietHours)
                .await?;
        } else {
            normal.extend(held);
        }
        if normal.is_empty() || shutdown.is_cancelled() {
            return Ok(delivered);
        }

        let Some(limit) = policy.max_per_hour else {
            return Ok(delivered + self.deliver_each(sink, normal, shutdown).await?);
        };
        let (room, next_free) = self.room(&name, limit as usize, now);
        if normal.len() <= room {
            delivered += self.deliver_each(sink, normal, shutdown).await?;
        } else if room >= 1 {
            delivered += self
                .deliver_digest(sink, &name, normal, DigestReason::RateLimit)
                .await?;
        } else {
            let ids: Vec<i64> = normal.iter().map(|row| row.id).collect();
            let until = next_free.unwrap_or(now + time::Duration::minutes(1));
            tracing::info!(sink = name, alerts = ids.len(), until = %until, "Hourly limit reached, holding alerts for a digest.");
            self.blocking(move |store| store.defer_alerts(&ids, until))
                .await?;
        }
        Ok(delivered)
    }

    /// Returns how many more messages `sink` may send in the rolling hour at `now`, and when
    /// the oldest of the hour's messages leaves the window.
    fn room(
        &self,
        sink: &str,
        limit: usize,
        now: OffsetDateTime,
    ) -> (usize, Option<OffsetDateTime>) {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let times = sent.entry(sink.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|at| *at <= now - time::Duration::hours(1))
        {
            times.pop_front();
        }
        let next_free = times.front().map(|at| *at + time::Duration::hours(1));
        (limit.saturating_sub(times.len()), next_free)
    }

    fn count_message(&self, sink: &str) {
        if self
            .policies
            .get(sink)
            .is_some_and(|p| p.max_per_hour.is_some())
        {
            let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
            sent.entry(sink.to_owned())
                .or_default()
                .push_back(OffsetDateTime::now_utc());
        }
    }

    /// Sends `rows` as one digest message and marks them all delivered.
    async fn deliver_digest(
        &self,
        sink: &Sink,
        name: &str,
        rows: Vec<OutboxAlert>,
        reason: DigestReason,
    ) -> Result<usize, SinkError> {
        let digest = digest_row(name, &rows, reason);
        match sink.send(&digest).await {
            Ok(()) => {
                self.count_message(name);
                let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
                let count = ids.len();
                self.blocking(move |store| {
                    let now = OffsetDateTime::now_utc();
                    for id in ids {
                        store.mark_delivered(id, now)?;
                    }
                    Ok(())
                })
                .await?;
                tracing::info!(
                    sink = name,
                    key = digest.idempotency_key,
                    alerts = count,
                    reason = reason.describe(),
                    "Delivered a digest."
                );
                Ok(count)
            }
            Err(error) => {
                let mut retry_at = None;
                for row in &rows {
                    retry_at = Some(self.retry_later(row, &error).await?);
                }
                if let Some(at) = retry_at {
                    self.lock_paused().insert(name.to_owned(), at);
                }
                Ok(0)
            }
        }
    }

    /// Sends rows to one sink in order, one message each, stopping early on shutdown.
    async fn deliver_each(
        &self,
        sink: &Sink,
        rows: Vec<OutboxAlert>,
        shutdown: &CancellationToken,
    ) -> Result<usize, SinkError> {
        let mut delivered = 0;
        for row in rows {
            if shutdown.is_cancelled() {
                break;
            }
            let id = row.id;
            let sent = if self.lock_unrecorded().contains(&id) {
                Ok(())
            } else {
                sink.send(&row).await
            };
            match sent {
                Ok(()) => {
                    self.lock_unrecorded().insert(id);
                    self.blocking(move |store| store.mark_delivered(id, OffsetDateTime::now_utc()))
                        .await?;
                    self.lock_unrecorded().remove(&id);
                    self.count_message(&row.sink);
                    tracing::info!(
                        sink = row.sink,
                        key = row.idempotency_key,
                        failed_attempts = row.attempts,
                        "Delivered an alert."
                    );
                    delivered += 1;
                }
                Err(error) => {
                    let retry_at = self.retry_later(&row, &error).await?;
                    self.lock_paused().insert(row.sink.clone(), retry_at);
                    break;
                }
            }
        }
        Ok(delivered)
    }

    /// Reschedules a failed row and returns its next attempt time.
    async fn retry_later(
        &self,
        row: &OutboxAlert,
        error: &SinkError,
    ) -> Result<OffsetDateTime, SinkError> {
        let now = OffsetDateTime::now_utc();
        let delay = backoff(&self.config, row.attempts);
        let (id, text) = (row.id, error.to_string());
        self.blocking(move |store| store.mark_failed(id, &text, now + delay))
            .await?;

        let attempts = row.attempts + 1;
        let retry_in_secs = delay.as_secs_f64().round();
        if error.is_transient() {
            tracing::warn!(sink = row.sink, key = row.idempotency_key, attempts, retry_in_secs, %error, "Alert delivery failed, will retry.");
        } else {
            tracing::error!(sink = row.sink, key = row.idempotency_key, attempts, retry_in_secs, %error, "Alert delivery rejected by the sink, will retry; check the sink settings.");
        }

        let first_report = now - row.created_at > OVERDUE
            && self
                .overdue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(row.id);
        if first_report {
            tracing::error!(sink = row.sink, key = row.idempotency_key, created_at = %row.created_at, attempts, "Alert undelivered for over an hour.");
        }
        Ok(now + delay)
    }

    /// Time until the earliest retry of an active sink or the end of a pause, at most
    /// [`MAX_IDLE`].
    async fn idle_time(&self) -> Duration {
        let now = OffsetDateTime::now_utc();
        let names = self.active_sinks(now);
        let pause_end = self.lock_paused().values().min().copied();
        let next_row = match self
            .blocking(move |store| store.next_attempt_at_for(&names))
            .await
        {
            Ok(next) => next,
            Err(error) => {
                tracing::error!(%error, "Reading the next alert retry time failed.");
                return STORE_ERROR_PAUSE;
            }
        };

        match next_row.into_iter().chain(pause_end).min() {
            Some(next) => Duration::try_from(next - now)
                .unwrap_or(Duration::ZERO)
                .min(MAX_IDLE),
            None => MAX_IDLE,
        }
    }

    /// Names of the configured sinks that are not paused at `now`; ends expired pauses.
    fn active_sinks(&self, now: OffsetDateTime) -> Vec<String> {
        let mut paused = self.lock_paused();
        paused.retain(|_, until| *until > now);
        self.sinks
            .keys()
            .filter(|name| !paused.contains_key(*name))
            .cloned()
            .collect()
    }

    fn lock_unrecorded(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.unrecorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_paused(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, OffsetDateTime>> {
        self.paused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Logs, once at start, the sinks that have pending alerts but are no longer configured.
    /// Their rows stay in the outbox and go out if the sink comes back.
    async fn report_unknown_sinks(&self) {
        match self.blocking(|store| store.pending_sinks()).await {
            Ok(pending) => {
                for sink in pending
                    .iter()
                    .filter(|name| !self.sinks.contains_key(*name))
                {
                    tracing::warn!(
                        sink,
                        "Pending alerts for a sink that is not configured; they stay in the outbox."
                    );
                }
            }
            Err(error) => tracing::error!(%error, "Listing pending alert sinks failed."),
        }
    }

    /// Runs a store call on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, SinkError> {
        let store = Arc::clone(&self.store);
        match tokio::task::spawn_blocking(move || call(&store)).await {
            Ok(result) => Ok(result?),
            Err(error) => match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(error) => Err(SinkError::Interrupted(error.to_string())),
            },
        }
    }
}

/// Delay before the next attempt after `failures` failed ones:
/// `min(initial * 2^failures, max)`, then +-20 % at random so that alerts failing together
/// do not retry in lockstep.
pub fn backoff(config: &DispatcherConfig, failures: u32) -> Duration {
    let initial = config.retry_initial_secs.max(1) as f64;
    let max = config.retry_max_secs.max(1) as f64;
    let base = (initial * 2f64.powi(failures.min(62) as i32)).min(max);
    let jitter = rand::rng().random_range(0.8..=1.2);
    Duration::from_secs_f64(base * jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let config = DispatcherConfig {
            retry_initial_secs: 5,
            retry_max_secs: 900,
        };
        for (failures, base) in [(0, 5.0), (1, 10.0), (3, 40.0), (8, 900.0), (200, 900.0)] {
            let delay = backoff(&config, failures).as_secs_f64();
            assert!(
                (base * 0.8..=base * 1.2).contains(&delay),
                "after {failures} failures: {delay} s, expected {base} s +-20 %"
            );
        }
    }
}
