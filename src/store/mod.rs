//! The SQLite store: findings, their history and evidence, source cursors, the alert outbox,
//! the items sources could not read (quarantine), the mails kept as evidence with their
//! campaigns, and the cases, triage and takedowns of the response.
//!
//! One file (`vigie.db` under the state folder) in WAL mode, opened through rusqlite with the
//! bundled SQLite. A sighting and the alerts it raises are written in one transaction, so an
//! alert exists exactly when its finding change does. The dispatcher in `alert` then empties
//! the outbox and marks each row delivered only after its sink accepted it (at least once).
//!
//! The API is synchronous and guarded by one mutex around one connection: async callers run
//! it under `tokio::task::spawn_blocking`. The store knows no source and no sink: sinks are
//! names, payloads are JSON built by the caller's renderer.
//!
//! Durability: `synchronous = NORMAL` in WAL mode. A committed transaction is in the WAL file
//! before `commit` returns, so it survives the process being killed (kill -9, panic, OOM);
//! only an operating-system crash or power loss can drop the last few commits, which SQLite
//! documents for this mode. FULL would add an fsync per sighting for that case only.

mod campaigns;
mod cases;
mod evidence;
mod findings;
mod hold;
mod maintenance;
mod outbox;
mod quarantine;
pub mod schema;
mod seen;
mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use time::OffsetDateTime;

use crate::model::{Finding, Indicator, Severity};

pub use campaigns::{
    AttachmentHash, CampaignInput, CampaignKey, CampaignState, IntakeReport, NewMail, RecordedMail,
    StoredMail,
};
pub use cases::{
    AllowEntry, Case, CaseEvent, NewCase, NewEvent, NewTakedown, RecoveryCheck, ResponseAlert,
    Takedown,
};
pub use evidence::{EvidenceVersion, WebCheck};
pub use findings::SEVERITY_CHANGE;
pub use maintenance::{BackupReport, MaintenanceError, VacuumReport, check_file};
pub use outbox::OutboxStats;
pub use quarantine::{QUARANTINE_MAX_BYTES, QuarantineItem, QuarantinedItem};
pub use stats::SinkCounts;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the store folder {path}: {source}; create it or fix its permissions")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot open the store {path}: {source}; check that the file is a vigie store and is writable"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "store {path} has schema version {found} but this vigie supports up to {supported}; \
         run a newer vigie or point state_dir at another folder"
    )]
    TooNew {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error(
        "upgrading the store {path} to schema version {version} failed: {source}; restore a backup of the file"
    )]
    Migration {
        path: String,
        version: u32,
        source: rusqlite::Error,
    },
    #[error(
        "cannot write the store {path}: its file system is full ({source}); free space on it. \
         The write was rolled back, so the file holds no half-written change"
    )]
    DiskFull {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "cannot write the store {path}: it is read-only ({source}); make the file, its folder \
         and its file system writable for the user vigie runs as"
    )]
    ReadOnly {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "reading or writing the store {path} failed ({source}); check the disk and the file \
         system, then run `vigie db check`"
    )]
    Io {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("stored {column} of {row} is invalid: {reason}; the store may be damaged")]
    Corrupt {
        column: &'static str,
        row: String,
        reason: String,
    },
}

impl StoreError {
    /// Returns whether the same call may succeed later (the database was busy or locked).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sqlite(error) => matches!(
                error.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

/// Why an alert is being raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertEvent {
    /// First sighting of the finding.
    New,
    /// A fact of the finding gained a value never seen before (a new MX, a new A record).
    Changed,
}

impl AlertEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertEvent::New => "new",
            AlertEvent::Changed => "changed",
        }
    }
}

/// How one fact of a finding changed between two sightings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FactChange {
    pub fact: String,
    pub before: BTreeSet<String>,
    pub after: BTreeSet<String>,
}

impl FactChange {
    /// Values present now and not before.
    pub fn added(&self) -> BTreeSet<String> {
        self.after.difference(&self.before).cloned().collect()
    }

    /// Values present before and not now.
    pub fn removed(&self) -> BTreeSet<String> {
        self.before.difference(&self.after).cloned().collect()
    }
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
///
/// Only `New` and `Changed` wrote alerts. A sighting whose facts only lost values (a record
/// went away) is `Unchanged`: the loss is kept in the finding's history but does not alert.
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

impl Recorded {
    pub fn finding_id(&self) -> i64 {
        match self {
            Recorded::New { finding_id }
            | Recorded::Changed { finding_id, .. }
            | Recorded::Unchanged { finding_id } => *finding_id,
        }
    }
}

/// An alert waiting in the outbox for one sink.
#[derive(Debug, Clone)]
pub struct OutboxAlert {
    pub id: i64,
    pub finding_id: i64,
    pub sink: String,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    pub created_at: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub delivered_at: Option<OffsetDateTime>,
}

/// A finding as stored, with its sighting counters.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFinding {
    pub id: i64,
    pub fingerprint: String,
    pub kind: String,
    pub source: String,
    pub watchlist: String,
    pub subject: String,
    pub imitates: String,
    pub techniques: Vec<String>,
    pub reasons: Vec<String>,
    /// Highest severity seen so far: a later sighting never lowers it.
    pub severity: Severity,
    pub score: u8,
    pub indicators: Vec<Indicator>,
    pub facts: BTreeMap<String, BTreeSet<String>>,
    pub evidence: serde_json::Value,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    /// 1 at first sighting, incremented on each change that alerted.
    pub revision: u32,
    /// Number of times it was recorded.
    pub sightings: u64,
    /// Triage status: `open` until an analyst changes it.
    pub status: String,
    /// Every value each fact has had, the current ones included.
    pub known_facts: BTreeMap<String, BTreeSet<String>>,
}

/// Kind of entry in a finding's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HistoryEvent {
    /// First sighting.
    New,
    /// A fact gained a value never seen before; an alert was written.
    Changed,
    /// Facts lost values or took back values seen before; recorded without an alert.
    SeenRemoval,
}

impl HistoryEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryEvent::New => "new",
            HistoryEvent::Changed => "changed",
            HistoryEvent::SeenRemoval => "seen-removal",
        }
    }

    fn parse(text: &str) -> Option<HistoryEvent> {
        match text {
            "new" => Some(HistoryEvent::New),
            "changed" => Some(HistoryEvent::Changed),
            "seen-removal" => Some(HistoryEvent::SeenRemoval),
            _ => None,
        }
    }
}

/// One entry of a finding's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub at: OffsetDateTime,
    pub event: HistoryEvent,
    pub revision: u32,
    pub severity: Severity,
    pub changes: Vec<FactChange>,
}

/// The SQLite store. See the module documentation for its locking and durability.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Time a writer waits for another connection's lock before failing with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Store {
    /// Opens (creating it and its folder when missing) the store at `path`, and upgrades its
    /// schema. A store written by a newer vigie is rejected with [`StoreError::TooNew`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_owned(),
                source,
            })?;
        }

        let open_error = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        // SQLite opens a file it cannot write read-only without an error, and every later
        // write would fail, so a read-only store is rejected here.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(open_error)? {
            return Err(StoreError::ReadOnly {
                path: path.to_owned(),
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                    Some("opened read-only".to_string()),
                ),
            });
        }

        let mode = enable_wal(&conn).map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "The store is not in WAL mode.");
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(open_error)?;

        schema::migrate(&mut conn, &path.display().to_string())?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Schema version of the open store.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// Runs `work` in an IMMEDIATE transaction and commits it. IMMEDIATE takes the write lock
    /// up front, so another connection on the same file makes this one wait (busy timeout)
    /// instead of failing when a read turns into a write.
    fn write_transaction<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let result = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)
            .and_then(|tx| {
                let value = work(&tx)?;
                tx.commit()?;
                Ok(value)
            });
        result.map_err(|error| self.file_error(error))
    }

    /// Turns an SQLite error caused by the file (full disk, read-only file, I/O failure)
    /// into an error that names the store's path and the fix; other errors pass unchanged.
    fn file_error(&self, error: StoreError) -> StoreError {
        let StoreError::Sqlite(source) = error else {
            return error;
        };
        let path = self.path.clone();
        match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull { path, source },
            Some(rusqlite::ErrorCode::ReadOnly) => StoreError::ReadOnly { path, source },
            Some(rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::CannotOpen) => {
                StoreError::Io { path, source }
            }
            _ => StoreError::Sqlite(source),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-written transaction behind
        // (rusqlite rolls back on drop), so a poisoned lock is safe to take over.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Switches the file to WAL mode and returns the mode in force.
///
/// Two processes opening a new file at once can both try the switch, and SQLite then answers
/// one of them "locked" at once without calling the busy handler, so the switch is retried
/// for up to [`BUSY_TIMEOUT`].
fn enable_wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        // journal_mode returns the mode in force, so it is read rather than executed.
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)) {
            Err(error)
                if matches!(
                    error.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// Converts a time to the stored form: milliseconds since the Unix epoch, UTC.
fn to_millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
