//! Source health: what each source reports about its polls, the Prometheus metrics and
//! `/healthz` built from it, and the blind-source alert.
//!
//! Every source reports to the [`Health`] registry it gets through the pipeline: a poll that
//! succeeded (with the number of items it read), a poll that failed (with the error), its lag,
//! and a collapse of its output (a page whose selectors stop matching, a feed gone empty).
//! [`watch`] turns a source that stays silent or collapsed into one alert, and its recovery
//! into one notice. [`server`] serves the same figures over HTTP.

pub mod server;
pub mod watch;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use time::OffsetDateTime;

/// Recent errors kept per source, quoted in the blind-source alert.
pub const RECENT_ERRORS: usize = 5;

/// What one source has reported since the daemon started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceHealth {
    /// Polls started (one sweep, one list read, one feed fetch...).
    pub polls: u64,
    /// Items read by successful polls (names checked, entries parsed...).
    pub items: u64,
    /// Failed polls.
    pub errors: u64,
    pub last_success: Option<OffsetDateTime>,
    pub last_error: Option<OffsetDateTime>,
    /// Newest last: time and message.
    pub recent_errors: VecDeque<(OffsetDateTime, String)>,
    /// How far the source is behind, in seconds, when it can tell (a CT log's backlog).
    pub lag_secs: Option<f64>,
    /// Set while the source's output has collapsed, with the reason in words.
    pub collapsed: Option<String>,
    /// The time the source expects between two successful polls, when it said so.
    pub expected_interval: Option<Duration>,
    /// When the source was first seen by the registry.
    pub since: Option<OffsetDateTime>,
}

/// The registry every source reports to. Cheap to clone; all clones share the same figures.
#[derive(Debug, Clone, Default)]
pub struct Health {
    sources: Arc<Mutex<BTreeMap<String, SourceHealth>>>,
}

impl Health {
    pub fn new() -> Health {
        Health::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, SourceHealth>> {
        // Figures only: a panic elsewhere leaves them usable.
        self.sources
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with(&self, source: &str, update: impl FnOnce(&mut SourceHealth)) {
        let mut sources = self.lock();
        let entry = sources
            .entry(source.to_owned())
            .or_insert_with(|| SourceHealth {
                since: Some(OffsetDateTime::now_utc()),
                ..SourceHealth::default()
            });
        update(entry);
    }

    /// Declares a source and the time it expects between two successful polls; the
    /// blind-source check waits at least three such intervals.
    pub fn register(&self, source: &str, expected_interval: Duration) {
        self.with(source, |s| s.expected_interval = Some(expected_interval));
    }

    pub fn poll_started(&self, source: &str) {
        self.with(source, |s| s.polls += 1);
    }

    /// Records a successful poll that read `items` items.
    pub fn poll_succeeded(&self, source: &str, items: u64) {
        self.poll_succeeded_at(source, items, OffsetDateTime::now_utc());
    }

    pub fn poll_succeeded_at(&self, source: &str, items: u64, at: OffsetDateTime) {
        self.with(source, |s| {
            s.items += items;
            s.last_success = Some(at);
        });
    }

    /// Records a failed poll and keeps its message among the recent errors.
    pub fn poll_failed(&self, source: &str, error: &str) {
        self.poll_failed_at(source, error, OffsetDateTime::now_utc());
    }

    pub fn poll_failed_at(&self, source: &str, error: &str, at: OffsetDateTime) {
        self.with(source, |s| {
            s.errors += 1;
            s.last_error = Some(at);
            if s.recent_errors.len() == RECENT_ERRORS {
                s.recent_errors.pop_front();
            }
            s.recent_errors.push_back((at, error.to_owned()));
        });
    }

    pub fn set_lag(&self, source: &str, lag_secs: f64) {
        self.with(source, |s| s.lag_secs = Some(lag_secs));
    }

    /// Marks the source's output as collapsed (`Some(reason)`) or back to normal (`None`).
    pub fn set_collapsed(&self, source: &str, reason: Option<String>) {
        self.with(source, |s| s.collapsed = reason);
    }

    /// A copy of every source's figures, by source name.
    pub fn snapshot(&self) -> BTreeMap<String, SourceHealth> {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_errors_keep_newest() {
        let health = Health::new();
        for i in 0..8 {
            health.poll_failed("feed", &format!("error {i}"));
        }
        let snapshot = health.snapshot();
        let feed = &snapshot["feed"];
        assert_eq!(feed.errors, 8);
        assert_eq!(feed.recent_errors.len(), RECENT_ERRORS);
        assert_eq!(feed.recent_errors.back().unwrap().1, "error 7");
        assert_eq!(feed.recent_errors.front().unwrap().1, "error 3");
    }

    #[test]
    fn clones_share_figures() {
        let health = Health::new();
        let clone = health.clone();
        clone.poll_started("nrd");
        clone.poll_succeeded("nrd", 42);
        let snapshot = health.snapshot();
        assert_eq!(snapshot["nrd"].polls, 1);
        assert_eq!(snapshot["nrd"].items, 42);
        assert!(snapshot["nrd"].last_success.is_some());
    }
}
