//! The one path from a source's finding to the store and the outbox.
//!
//! Every source hands its findings to [`Pipeline::submit`]. The pipeline applies the rules
//! that hold for every source: legitimate and allow-listed names (the watchlist's `allow`
//! and the false positives allow-listed at triage) are silent, a watchlist's
//! `min_severity` decides whether an alert is raised, and routing picks the sinks. It then
//! records the finding and its alerts in one store transaction and wakes the dispatcher.
//! Sources never talk to sinks.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use crate::alert;
use crate::config::{Config, Watchlist};
use crate::health::Health;
use crate::model::Finding;
use crate::store::{Recorded, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(
        "finding for {subject} names watchlist {watchlist:?}, which the configuration no longer has"
    )]
    UnknownWatchlist { watchlist: String, subject: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("store task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Outcome of one submitted finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// The subject is a legitimate domain (or under one) of the watchlist: dropped.
    Legitimate,
    /// The subject is on the watchlist's allow list, or on the allow list kept in the store
    /// by triage (`vigie triage --false-positive --allow`): dropped.
    AllowListed,
    /// Recorded; `alerted` is true when alert rows were written to the outbox.
    Recorded { recorded: Recorded, alerted: bool },
}

/// Handle shared by every source task. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    store: Arc<Store>,
    config: watch::Receiver<Arc<Config>>,
    wake: Arc<Notify>,
    health: Health,
}

impl Pipeline {
    /// Creates a pipeline over `store`. `config` follows reloads; `wake` is notified whenever
    /// alert rows are committed.
    pub fn new(store: Arc<Store>, config: watch::Receiver<Arc<Config>>, wake: Arc<Notify>) -> Self {
        Pipeline {
            store,
            config,
            wake,
            health: Health::new(),
        }
    }

    /// The registry that sources report their polls to.
    pub fn health(&self) -> &Health {
        &self.health
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Records one finding with its alerts, in one store transaction.
    pub async fn submit(&self, finding: Finding) -> Result<Submitted, PipelineError> {
        let config = self.config.borrow().clone();
        let Some(watchlist) = config.watchlists.iter().find(|w| w.id == finding.watchlist) else {
            return Err(PipelineError::UnknownWatchlist {
                watchlist: finding.watchlist.clone(),
                subject: finding.subject.clone(),
            });
        };

        if is_legitimate(watchlist, &finding.subject) {
            return Ok(Submitted::Legitimate);
        }
        if is_allow_listed(watchlist, &finding.subject) {
            return Ok(Submitted::AllowListed);
        }

        let sinks = if finding.severity >= watchlist.min_severity {
            sinks_for(&config, watchlist)
        } else {
            Vec::new()
        };

        let store = self.store.clone();
        let routed = !sinks.is_empty();
        // The allow list kept by triage lives in the store, so it is read in the same
        // blocking call that records the finding.
        let recorded = tokio::task::spawn_blocking(move || {
            if store.is_allow_listed(&finding.watchlist, &finding.subject)? {
                return Ok(None);
            }
            store
                .record_finding(&finding, &sinks, &alert::render)
                .map(Some)
        })
        .await?;
        let Some(recorded) = recorded? else {
            return Ok(Submitted::AllowListed);
        };

        let alerted = routed && !matches!(recorded, Recorded::Unchanged { .. });
        if alerted {
            self.wake.notify_one();
        }
        Ok(Submitted::Recorded { recorded, alerted })
    }
}

impl Pipeline {
    /// Records a finding about vigie itself (a blind source), outside any watchlist, with
    /// alerts to the sinks of `[health] sinks`, or every sink.
    pub async fn submit_system(&self, finding: Finding) -> Result<Submitted, PipelineError> {
        let config = self.config.borrow().clone();
        let sinks = if config.health.sinks.is_empty() {
            config.sinks.keys().cloned().collect()
        } else {
            config.health.sinks.clone()
        };
        let store = self.store.clone();
        let routed = !sinks.is_empty();
        let recorded = tokio::task::spawn_blocking(move || {
            store.record_finding(&finding, &sinks, &alert::render)
        })
        .await??;
        let alerted = routed && !matches!(recorded, Recorded::Unchanged { .. });
        if alerted {
            self.wake.notify_one();
        }
        Ok(Submitted::Recorded { recorded, alerted })
    }
}

/// Returns the sinks that receive a watchlist's alerts: its own list, or every sink.
pub fn sinks_for(config: &Config, watchlist: &Watchlist) -> Vec<String> {
    if watchlist.sinks.is_empty() {
        config.sinks.keys().cloned().collect()
    } else {
        watchlist.sinks.clone()
    }
}

/// Tells whether `name` is one of the watchlist's legitimate domains or a subdomain of one.
pub fn is_legitimate(watchlist: &Watchlist, name: &str) -> bool {
    watchlist
        .domains
        .iter()
        .any(|legit| is_same_or_subdomain(name, &legit.name))
}

/// Tells whether `name`, or a domain it is under, is on the watchlist's allow list.
pub fn is_allow_listed(watchlist: &Watchlist, name: &str) -> bool {
    watchlist
        .allow
        .iter()
        .any(|allowed| is_same_or_subdomain(name, allowed))
}

fn is_same_or_subdomain(name: &str, parent: &str) -> bool {
    let name = name.trim_end_matches('.');
    let parent = parent.trim_end_matches('.');
    if name.eq_ignore_ascii_case(parent) {
        return true;
    }
    // Bytes, not `str` slices: a subject need not be ASCII (an account name), and a cut
    // inside one of its characters would panic.
    let (name, parent) = (name.as_bytes(), parent.as_bytes());
    name.len() > parent.len()
        && name[name.len() - parent.len()..].eq_ignore_ascii_case(parent)
        && name[name.len() - parent.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::is_same_or_subdomain;

    #[test]
    fn subdomain_needs_a_label_boundary() {
        assert!(is_same_or_subdomain("example.com", "example.com"));
        assert!(is_same_or_subdomain("www.Example.com.", "example.com"));
        assert!(!is_same_or_subdomain("myexample.com", "example.com"));
        assert!(!is_same_or_subdomain("example.com", "www.example.com"));
    }

    #[test]
    fn subjects_that_are_not_ascii_are_compared_safely() {
        // Account names and display names are subjects too; the length of the legitimate
        // domain can end inside one of their characters.
        assert!(!is_same_or_subdomain("Jané Dœ, CEO", "example.com"));
        assert!(!is_same_or_subdomain(
            "\u{1f600}\u{1f600}\u{1f600}",
            "a.test"
        ));
        assert!(is_same_or_subdomain("bücher.example.com", "example.com"));
    }
}
