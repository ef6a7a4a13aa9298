//! Following one log: `get-sth`, then `get-entries` in batches up to the tree head, each
//! batch matched on the worker pool and its findings committed before the log's position is
//! saved.
//!
//! The position (`position:URL` cursor, the index of the next entry to read) only moves
//! after the findings of the entries before it are in the store and the malformed ones are
//! in quarantine, in the transaction that saves it. A restart therefore resumes at the first
//! entry whose findings were not committed: nothing is skipped, and an entry read twice
//! after a crash adds a sighting to the same finding without alerting again.
//!
//! The tree head is checked against the last one trusted (`head:URL` cursor): a log whose
//! newer tree head is smaller, or that serves another root hash for the same size, has
//! broken its append-only promise. It is reported, marked (`broken:URL` cursor) and no
//! longer read. An older tree head than the trusted one (from a lagging frontend) is
//! ignored until the log serves a current one.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use super::client::{FetchError, LogClient};
use super::process::{BatchOutcome, ISSUER_FACT, LogRef, SOURCE, decode_body, process_entries};
use super::workers::Workers;
use crate::ct::TreeHead;
use crate::detect::Matcher;
use crate::model::Finding;
use crate::pipeline::{PipelineError, Submitted};
use crate::sources::SourceContext;
use crate::store::StoreError;

/// Malformed entries logged one by one per pass; the rest are counted.
const MALFORMED_LOGGED: u64 = 5;

/// Consecutive failures after which a warning becomes an error for the operator.
const FAILURES_BEFORE_ERROR: u32 = 5;

/// Settings of one followed log, from `[ct]`, the log list and `[ct.logs.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPlan {
    /// Name in logs and findings.
    pub name: String,
    pub description: String,
    /// Base URL, ending with `/`.
    pub url: String,
    pub batch_size: u64,
    pub parallel_requests: usize,
    pub poll_interval: Duration,
    pub backfill: bool,
    pub start_index: Option<u64>,
    pub timeout: Duration,
    pub max_response_bytes: u64,
    pub retry_max: Duration,
    /// Extra trust anchors for HTTPS (`[ct] ca_file`).
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// Error of one pass over a log.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The log broke its append-only promise; it is not read again.
    #[error("log {log} is not trusted any more: {reason}")]
    Broken { log: String, reason: String },
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url}: the log served no entry for start={start}")]
    NoEntries { url: String, start: u64 },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("worker task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("stored {key} of log {log} is invalid: {value:?}; the store may be damaged")]
    Cursor {
        log: String,
        key: String,
        value: String,
    },
    #[error("shutting down")]
    Shutdown,
}

impl FollowError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            FollowError::Fetch(error) => error.retry_after(),
            _ => None,
        }
    }
}

/// Counts of one pass, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Tree size of the head the pass read up to.
    pub tree_size: u64,
    /// Position before and after the pass.
    pub from: u64,
    pub to: u64,
    pub entries: u64,
    pub certificates: u64,
    pub names: u64,
    pub findings: u64,
    pub alerted: u64,
    pub malformed: u64,
    /// Batch size in force at the end of the pass.
    pub batch_size: u64,
    /// Entries of the last batch committed.
    pub last_batch: u64,
    /// Log timestamp of the newest entry read, in milliseconds since the Unix epoch.
    pub last_logged_ms: Option<u64>,
}

/// A trusted tree head, as saved in the `head:URL` cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SavedHead {
    tree_size: u64,
    timestamp_ms: u64,
    root_hash: String,
}

impl From<&TreeHead> for SavedHead {
    fn from(head: &TreeHead) -> Self {
        SavedHead {
            tree_size: head.tree_size,
            timestamp_ms: head.timestamp_ms,
            root_hash: hex::encode(head.root_hash),
        }
    }
}

/// Why a log was marked broken, as saved in the `broken:URL` cursor.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BrokenMark {
    reason: String,
    at: String,
}

/// Follows one log. Shared by its fetch tasks.
pub struct Follower {
    ctx: SourceContext,
    plan: LogPlan,
    log: LogRef,
    client: LogClient,
    matcher: watch::Receiver<Arc<Matcher>>,
    workers: Workers,
    /// Entries asked for per request; lowered when the log serves fewer.
    batch_size: AtomicU64,
    /// Name under which the log reports to the health registry: `ct:NAME`.
    health_name: String,
}

impl Follower {
    pub fn new(
        ctx: SourceContext,
        plan: LogPlan,
        matcher: watch::Receiver<Arc<Matcher>>,
        workers: Workers,
    ) -> Result<Arc<Follower>, String> {
        let client = LogClient::new(
            &plan.url,
            plan.timeout,
            plan.max_response_bytes,
            &plan.extra_roots,
        )?;
        Ok(Arc::new(Follower {
            log: LogRef {
                name: plan.name.clone(),
                url: plan.url.clone(),
            },
            batch_size: AtomicU64::new(plan.batch_size),
            health_name: format!("{SOURCE}:{}", plan.name),
            ctx,
            plan,
            client,
            matcher,
            workers,
        }))
    }

    /// Follows the log until shutdown, or until it is found broken.
    pub async fn follow(self: Arc<Self>) {
        let health = self.ctx.pipeline.health();
        health.register(&self.health_name, self.plan.poll_interval);
        if let Ok(Some(mark)) = self.cursor(&self.key("broken")).await {
            error!(log = %self.plan.name, url = %self.plan.url, mark = %mark, "The CT log is marked broken and is not followed; delete its broken: cursor to trust it again.");
            health.set_collapsed(
                &self.health_name,
                Some(format!(
                    "the log is not trusted since it broke its append-only promise: {mark}"
                )),
            );
            return;
        }
        info!(log = %self.plan.name, url = %self.plan.url, "Following a CT log.");
        let mut failures = 0u32;
        loop {
            health.poll_started(&self.health_name);
            let wait = match self.clone().catch_up().await {
                Ok(stats) => {
                    failures = 0;
                    health.poll_succeeded(&self.health_name, 0);
                    if stats.entries > 0 {
                        debug!(log = %self.plan.name, ?stats, "Read CT log entries.");
                    }
                    jittered(self.plan.poll_interval, 0.9)
                }
                Err(FollowError::Shutdown) => return,
                Err(FollowError::Broken { log, reason }) => {
                    self.mark_broken(&log, &reason).await;
                    health.set_collapsed(
                        &self.health_name,
                        Some(format!("the log broke its append-only promise: {reason}")),
                    );
                    return;
                }
                Err(error) => {
                    health.poll_failed(&self.health_name, &error.to_string());
                    failures += 1;
                    let wait = retry_delay(failures, self.plan.retry_max, error.retry_after());
                    if failures >= FAILURES_BEFORE_ERROR {
                        error!(log = %self.plan.name, failures, wait_secs = wait.as_secs_f64(), %error, "A CT log keeps failing; its certificates are not being read.");
                    } else {
                        warn!(log = %self.plan.name, failures, wait_secs = wait.as_secs_f64(), %error, "Reading a CT log failed, retrying later.");
                    }
                    wait
                }
            };
            tokio::select! {
                _ = self.ctx.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Reads the log from its saved position up to its current tree head.
    pub async fn catch_up(self: Arc<Self>) -> Result<PassStats, FollowError> {
        let head = self.trusted_head().await?;
        let Some(head) = head else {
            return Ok(PassStats::default());
        };
        let from = self.position(head.tree_size).await?;
        if from > head.tree_size {
            return Err(FollowError::Broken {
                log: self.plan.name.clone(),
                reason: format!(
                    "tree size {} is below the position already read, {from}",
                    head.tree_size
                ),
            });
        }

        let mut stats = PassStats {
            tree_size: head.tree_size,
            from,
            to: from,
            ..PassStats::default()
        };
        let mut next_start = from;
        let mut in_flight: VecDeque<JoinHandle<Result<(u64, Entries), FollowError>>> =
            VecDeque::new();
        let result = loop {
            // Keep up to `parallel_requests` ranges in flight, read in order.
            while in_flight.len() < self.plan.parallel_requests && next_start < head.tree_size {
                let batch = self.batch_size.load(Ordering::Relaxed).max(1);
                let end = (next_start + batch).min(head.tree_size) - 1;
                in_flight.push_back(tokio::spawn(self.clone().fetch_range(next_start, end)));
                next_start = end + 1;
            }
            let Some(task) = in_flight.pop_front() else {
                break Ok(());
            };
            let mut task = task;
            let joined = tokio::select! {
                _ = self.ctx.shutdown.cancelled() => {
                    task.abort();
                    break Err(FollowError::Shutdown);
                }
                joined = &mut task => joined,
            };
            let (start, entries) = match joined {
                Ok(Ok(done)) => done,
                Ok(Err(error)) => break Err(error),
                Err(error) => break Err(error.into()),
            };
            if let Err(error) = self.commit_batch(start, entries, &mut stats).await {
                break Err(error);
            }
            // Reported per batch, so that a long backfill does not look like a silent log.
            let health = self.ctx.pipeline.health();
            health.poll_succeeded(&self.health_name, stats.last_batch);
            if let Some(logged_at) = stats.last_logged_ms {
                let behind = head.timestamp_ms.saturating_sub(logged_at);
                health.set_lag(&self.health_name, behind as f64 / 1000.0);
            }
        };
        for task in in_flight {
            task.abort();
        }
        stats.batch_size = self.batch_size.load(Ordering::Relaxed);
        if stats.malformed > MALFORMED_LOGGED {
            warn!(log = %self.plan.name, malformed = stats.malformed, "More malformed CT entries than logged one by one; all are in the quarantine table.");
        }
        if result.is_ok() {
            self.ctx.pipeline.health().set_lag(&self.health_name, 0.0);
        }
        result.map(|()| stats)
    }

    /// Fetches `start..=end`, in several requests when the log serves fewer entries than
    /// asked, and returns the decoded leaves in order.
    async fn fetch_range(
        self: Arc<Self>,
        start: u64,
        end: u64,
    ) -> Result<(u64, Entries), FollowError> {
        let mut entries: Entries = Vec::with_capacity((end - start + 1) as usize);
        let mut next = start;
        while next <= end {
            let batch = self.batch_size.load(Ordering::Relaxed).max(1);
            let asked_end = end.min(next + batch - 1);
            let asked = asked_end - next + 1;
            let body = self.client.entries(next, asked_end).await?;
            let mut got = self
                .workers
                .run(move || decode_body(&body))
                .await?
                .map_err(|error| FetchError::Body {
                    url: format!("{}ct/v1/get-entries", self.plan.url),
                    error,
                })?;
            if got.is_empty() {
                return Err(FollowError::NoEntries {
                    url: self.plan.url.clone(),
                    start: next,
                });
            }
            // A log may not serve more than asked; extra entries are not trusted to be the
            // ones that follow.
            got.truncate(asked as usize);
            let served = got.len() as u64;
            if served < asked {
                let lowered = self
                    .batch_size
                    .fetch_min(served, Ordering::Relaxed)
                    .min(served);
                debug!(log = %self.plan.name, asked, served, batch_size = lowered, "The CT log served fewer entries than asked; asking for fewer.");
            }
            entries.extend(got);
            next += served;
        }
        Ok((start, entries))
    }

    /// Matches one batch, submits its findings, then saves the malformed entries and the new
    /// position in one transaction.
    async fn commit_batch(
        &self,
        start: u64,
        entries: Entries,
        stats: &mut PassStats,
    ) -> Result<(), FollowError> {
        let count = entries.len() as u64;
        let matcher = self.matcher.borrow().clone();
        let log = self.log.clone();
        let now = OffsetDateTime::now_utc();
        let outcome: BatchOutcome = self
            .workers
            .run(move || process_entries(&matcher, &log, start, &entries, now))
            .await?;

        for mut finding in outcome.findings {
            stats.findings += 1;
            self.keep_known_facts(&mut finding).await?;
            match self.ctx.pipeline.submit(finding).await {
                Ok(Submitted::Recorded { alerted: true, .. }) => stats.alerted += 1,
                Ok(_) => {}
                // A reload removed the watchlist after the matcher was compiled: the finding
                // no longer concerns anyone.
                Err(PipelineError::UnknownWatchlist { watchlist, subject }) => {
                    debug!(log = %self.plan.name, %watchlist, %subject, "Finding for a removed watchlist dropped.");
                }
                Err(error) => return Err(error.into()),
            }
        }
        for item in &outcome.malformed {
            stats.malformed += 1;
            if stats.malformed <= MALFORMED_LOGGED {
                warn!(log = %self.plan.name, index = %item.item, reason = %item.reason, "Malformed CT entry kept in quarantine.");
            }
        }

        let position = (start + count).to_string();
        let store = self.ctx.pipeline.store().clone();
        let (url, key) = (self.plan.url.clone(), self.key("position"));
        tokio::task::spawn_blocking(move || {
            store.quarantine_and_set_cursor(SOURCE, &url, &outcome.malformed, (&key, &position))
        })
        .await??;

        stats.entries += count;
        stats.last_batch = count;
        stats.last_logged_ms = stats.last_logged_ms.max(outcome.last_logged_ms);
        stats.certificates += outcome.certificates;
        stats.names += outcome.names;
        stats.to = start + count;
        Ok(())
    }

    /// Copies the facts of the stored finding (such as the DNS records the lookalike watch
    /// saw) into a CT finding, so that its sighting changes only the certificate issuer. A
    /// known lookalike domain that gets its first certificate then alerts with that change
    /// alone, rather than with its DNS records shown as removed.
    async fn keep_known_facts(&self, finding: &mut Finding) -> Result<(), FollowError> {
        let store = self.ctx.pipeline.store().clone();
        let fingerprint = finding.fingerprint.clone();
        let stored =
            tokio::task::spawn_blocking(move || store.finding_by_fingerprint(&fingerprint))
                .await??;
        if let Some(stored) = stored {
            for (fact, values) in stored.facts {
                if fact != ISSUER_FACT {
                    finding.facts.entry(fact).or_insert(values);
                }
            }
        }
        Ok(())
    }

    /// Calls `get-sth` and checks the head against the trusted one. Returns `None` for a
    /// head older than the trusted one, which is skipped.
    async fn trusted_head(&self) -> Result<Option<TreeHead>, FollowError> {
        let head = self.client.tree_head().await?;
        let key = self.key("head");
        let trusted = match self.cursor(&key).await? {
            None => None,
            Some(value) => Some(serde_json::from_str::<SavedHead>(&value).map_err(|_| {
                FollowError::Cursor {
                    log: self.plan.name.clone(),
                    key: key.clone(),
                    value,
                }
            })?),
        };
        if let Some(trusted) = &trusted {
            match check_head(trusted, &head) {
                HeadCheck::Newer => {}
                HeadCheck::Same => return Ok(Some(head)),
                HeadCheck::Stale => {
                    debug!(log = %self.plan.name, tree_size = head.tree_size, trusted = trusted.tree_size, "The CT log served an older tree head; skipped.");
                    return Ok(None);
                }
                HeadCheck::Broken(reason) => {
                    return Err(FollowError::Broken {
                        log: self.plan.name.clone(),
                        reason,
                    });
                }
            }
        }
        let saved = serde_json::to_string(&SavedHead::from(&head)).unwrap_or_default();
        self.set_cursor(&key, &saved).await?;
        Ok(Some(head))
    }

    /// Returns the saved position, or saves and returns the first one: the tree head, the
    /// first entry with `backfill`, or `start_index`.
    async fn position(&self, tree_size: u64) -> Result<u64, FollowError> {
        let key = self.key("position");
        if let Some(value) = self.cursor(&key).await? {
            return value.parse().map_err(|_| FollowError::Cursor {
                log: self.plan.name.clone(),
                key,
                value,
            });
        }
        let start = match (self.plan.start_index, self.plan.backfill) {
            (Some(index), _) => index.min(tree_size),
            (None, true) => 0,
            (None, false) => tree_size,
        };
        self.set_cursor(&key, &start.to_string()).await?;
        info!(log = %self.plan.name, position = start, tree_size, "First read of a CT log; starting position saved.");
        Ok(start)
    }

    async fn mark_broken(&self, log: &str, reason: &str) {
        error!(log, url = %self.plan.url, reason, "The CT log broke its append-only promise; it is no longer followed. Report it to its operator.");
        let mark = BrokenMark {
            reason: reason.to_string(),
            at: OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        };
        let value = serde_json::to_string(&mark).unwrap_or_default();
        if let Err(error) = self.set_cursor(&self.key("broken"), &value).await {
            error!(log, %error, "Cannot save the broken mark of a CT log.");
        }
    }

    fn key(&self, kind: &str) -> String {
        format!("{kind}:{}", self.plan.url)
    }

    async fn cursor(&self, key: &str) -> Result<Option<String>, FollowError> {
        let store = self.ctx.pipeline.store().clone();
        let key = key.to_string();
        Ok(tokio::task::spawn_blocking(move || store.cursor(SOURCE, &key)).await??)
    }

    async fn set_cursor(&self, key: &str, value: &str) -> Result<(), FollowError> {
        let store = self.ctx.pipeline.store().clone();
        let (key, value) = (key.to_string(), value.to_string());
        tokio::task::spawn_blocking(move || store.set_cursor(SOURCE, &key, &value)).await??;
        Ok(())
    }
}

type Entries = Vec<Result<Vec<u8>, String>>;

/// Relation of a new tree head to the trusted one.
#[derive(Debug, PartialEq, Eq)]
enum HeadCheck {
    Newer,
    Same,
    Stale,
    Broken(String),
}

fn check_head(trusted: &SavedHead, head: &TreeHead) -> HeadCheck {
    let root = hex::encode(head.root_hash);
    if head.tree_size == trusted.tree_size {
        if root == trusted.root_hash {
            return HeadCheck::Same;
        }
        return HeadCheck::Broken(format!(
            "two root hashes for tree size {}: {} then {root}",
            head.tree_size, trusted.root_hash
        ));
    }
    if head.tree_size > trusted.tree_size {
        return HeadCheck::Newer;
    }
    if head.timestamp_ms >= trusted.timestamp_ms {
        return HeadCheck::Broken(format!(
            "tree size went back from {} to {} in a newer tree head (timestamp {} >= {})",
            trusted.tree_size, head.tree_size, head.timestamp_ms, trusted.timestamp_ms
        ));
    }
    HeadCheck::Stale
}

/// Returns the wait after `failures` consecutive failures. It is the `Retry-After` the log
/// sent plus up to a tenth, else a delay doubling from 1 s up to `max` with up to half of
/// it taken off at random, so that logs do not retry in step.
pub fn retry_delay(failures: u32, max: Duration, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        // At least what the log asked for, plus up to a tenth.
        return wait + jittered(wait, 0.0).mul_f64(0.1);
    }
    let exponent = failures.saturating_sub(1).min(30);
    let base = Duration::from_secs(1u64 << exponent).min(max);
    jittered(base, 0.5)
}

/// Returns `base` times a random factor in `low..=1`, or `base` times `0..=1` for `low` 0.
fn jittered(base: Duration, low: f64) -> Duration {
    base.mul_f64(rand::rng().random_range(low..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(size: u64, timestamp_ms: u64, root: u8) -> SavedHead {
        SavedHead::from(&TreeHead {
            tree_size: size,
            timestamp_ms,
            root_hash: [root; 32],
        })
    }

    fn head(size: u64, timestamp_ms: u64, root: u8) -> TreeHead {
        TreeHead {
            tree_size: size,
            timestamp_ms,
            root_hash: [root; 32],
        }
    }

    #[test]
    fn head_checks() {
        let trusted = saved(100, 5000, 1);
        assert_eq!(check_head(&trusted, &head(100, 6000, 1)), HeadCheck::Same);
        assert_eq!(check_head(&trusted, &head(120, 6000, 2)), HeadCheck::Newer);
        assert_eq!(check_head(&trusted, &head(90, 4000, 3)), HeadCheck::Stale);
        assert!(matches!(
            check_head(&trusted, &head(90, 6000, 3)),
            HeadCheck::Broken(_)
        ));
        assert!(matches!(
            check_head(&trusted, &head(100, 6000, 9)),
            HeadCheck::Broken(_)
        ));
    }

    #[test]
    fn retry_delays() {
        let max = Duration::from_secs(600);
        for failures in 1..40 {
            let wait = retry_delay(failures, max, None);
            assert!(wait <= max, "{failures}: {wait:?}");
        }
        let first = retry_delay(1, max, None);
        assert!(first >= Duration::from_millis(500), "{first:?}");
        assert!(first <= Duration::from_secs(1), "{first:?}");
        let tenth = retry_delay(11, max, None);
        assert!(tenth >= Duration::from_secs(300), "{tenth:?}");
        let asked = retry_delay(1, max, Some(Duration::from_secs(3)));
        assert!(asked >= Duration::from_secs(3), "{asked:?}");
        assert!(asked <= Duration::from_millis(3300), "{asked:?}");
    }
}
