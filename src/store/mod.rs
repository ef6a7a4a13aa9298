//! The SQLite store: findings, their history, source cursors and the alert outbox.

use std::collections::BTreeSet;
use std::path::Path;

use time::OffsetDateTime;

use crate::model::Finding;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Why an alert is being raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertEvent {
    /// First sighting of the finding.
    New,
    /// A fact of the finding gained a value (a new MX, a new A record).
    Changed,
}

/// How one fact of a finding changed between two sightings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FactChange {
    pub fact: String,
    pub before: BTreeSet<String>,
    pub after: BTreeSet<String>,
}

/// What the store hands to the alert renderer inside the recording transaction.
#[derive(Debug)]
pub struct AlertInput<'a> {
    pub finding: &'a Finding,
    pub finding_id: i64,
    /// 1 for the first sighting, incremented on each change that alerts.
    pub revision: u32,
    pub first_seen: OffsetDateTime,
    pub event: AlertEvent,
    pub changes: &'a [FactChange],
    /// Same for every sink of one alert; receivers drop duplicates by it.
    pub idempotency_key: &'a str,
}

/// Outcome of recording one sighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    New {
        finding_id: i64,
    },
    Changed {
        finding_id: i64,
        changes: Vec<FactChange>,
    },
    Unchanged {
        finding_id: i64,
    },
}

/// An alert waiting in the outbox for one sink.
#[derive(Debug, Clone)]
pub struct OutboxAlert {
    pub id: i64,
    pub sink: String,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    pub attempts: u32,
    pub created_at: OffsetDateTime,
}

pub struct Store {}

impl Store {
    pub fn open(_path: &Path) -> Result<Store, StoreError> {
        todo!()
    }

    /// Records one sighting and, when it is new or a fact gained a value, one outbox row per
    /// sink with the payload `render` builds, all in one transaction.
    pub fn record_finding(
        &self,
        _finding: &Finding,
        _sinks: &[String],
        _render: &dyn Fn(&AlertInput<'_>) -> serde_json::Value,
    ) -> Result<Recorded, StoreError> {
        todo!()
    }

    pub fn due_alerts(
        &self,
        _now: OffsetDateTime,
        _limit: usize,
    ) -> Result<Vec<OutboxAlert>, StoreError> {
        todo!()
    }

    pub fn mark_delivered(&self, _id: i64, _now: OffsetDateTime) -> Result<(), StoreError> {
        todo!()
    }

    pub fn mark_failed(
        &self,
        _id: i64,
        _error: &str,
        _retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        todo!()
    }

    /// Time of the earliest undelivered alert's next attempt, if any.
    pub fn next_attempt_at(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        todo!()
    }

    pub fn cursor(&self, _source: &str, _key: &str) -> Result<Option<String>, StoreError> {
        todo!()
    }

    pub fn set_cursor(&self, _source: &str, _key: &str, _value: &str) -> Result<(), StoreError> {
        todo!()
    }
}
